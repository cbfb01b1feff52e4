// moescope-cli bench [MODEL | --synthetic NAME [--layers N]] [--device cpu|cuda] [--threads N]
//                    [--prompt-len P] [--gen-len G] [--capture LEVEL] [--repeats R] [--json]
//                    [--precision exact|fast-bf16] [--bw-mib MIB]
//
// Batch-1 decode is memory-bound: its ceiling is (read bandwidth) / (bytes read per token). This command
// measures both in the same run — the streaming-read bandwidth with the same thread count just before
// the model runs — and reports decode as a fraction of that bound, plus prefill tokens/s and GFLOP/s,
// the machine's arithmetic peak (in-register FMA / vdpbf16ps loops), and (with --capture) the cost of
// recording through the real storage Recorder relative to no observer, interleaved in the same repeats. Figures for the reference machine are kept in bench/README.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "app/cli/commands.h"
#include "app/cli/model_flags.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/thread_pool.h"
#include "engine/cuda/cuda_bench.h"
#include "engine/device.h"
#include "engine/model/model.h"
#include "engine/model/synthetic_model.h"
#include "engine/session.h"
#include "app/cli/record_support.h"
#include "storage/database.h"
#include "storage/recorder.h"

#include <filesystem>
#include <unistd.h>

namespace moescope::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Stats {
    double median = 0, min = 0, max = 0;
};
Stats stats(std::vector<double> v) {
    Stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    return s;
}
nlohmann::json to_json(const Stats& s) { return {{"median", s.median}, {"min", s.min}, {"max", s.max}}; }

uint64_t bytes_of(const MatrixView& m) {
    return m.present() ? static_cast<uint64_t>(m.rows) * row_bytes(m.dtype, m.cols) : 0;
}
uint64_t bytes_of(const MlpWeights& w) { return bytes_of(w.gate) + bytes_of(w.up) + bytes_of(w.down); }
int64_t params_of(const MatrixView& m) { return m.present() ? m.rows * m.cols : 0; }
int64_t params_of(const MlpWeights& w) { return params_of(w.gate) + params_of(w.up) + params_of(w.down); }

// Weight bytes (and matrix parameters) one token reads: every attention, router, dense and shared
// matrix, k routed experts per MoE layer, lm_head and one embedding row. Norm vectors are negligible.
struct ActiveWeights {
    uint64_t bytes = 0;
    int64_t params = 0;  // multiply-adds per token in the matrices
};
ActiveWeights active_weights(const Model& m) {
    const ModelWeights& W = m.weights();
    const int k = m.config().top_k;
    ActiveWeights a;
    auto add = [&](const MatrixView& v) {
        a.bytes += bytes_of(v);
        a.params += params_of(v);
    };
    auto add_mlp = [&](const MlpWeights& w, int times) {
        a.bytes += bytes_of(w) * static_cast<uint64_t>(times);
        a.params += params_of(w) * times;
    };
    for (const LayerWeights& L : W.layers) {
        for (const MatrixView* v : {&L.attn.q, &L.attn.k, &L.attn.v, &L.attn.o, &L.attn.q_a, &L.attn.q_b, &L.attn.kv_a,
                                    &L.attn.kv_b})
            add(*v);
        if (L.is_moe) {
            add(L.moe.router);
            if (!L.moe.experts.empty()) add_mlp(L.moe.experts[0], k);  // experts of a layer share one shape
            add_mlp(L.moe.shared, 1);
            add(L.moe.shared_gate);
        } else {
            add_mlp(L.dense, 1);
        }
    }
    add(W.lm_head);
    a.bytes += row_bytes(W.embed.dtype, W.embed.cols);  // one embedding row
    return a;
}

// Attention FLOPs of a prefill of P tokens: per layer, position p attends to p+1 keys with a score
// (dq multiply-adds) and a value accumulation (dv) per head.
double attention_flops(const ModelConfig& c, int64_t p0, int64_t P) {
    const double per_key = 2.0 * c.n_heads * (c.q_head_dim() + c.attn_v_head_dim());
    double keys = 0;
    for (int64_t p = p0; p < p0 + P; ++p) keys += static_cast<double>(p + 1);
    return per_key * keys * c.n_layers;
}

// Touches one byte per page of every weight matrix so that page faults of the memory mapping are
// not timed (the first pass over a freshly mapped file would otherwise dominate).
uint64_t prefault(const Model& m) {
    uint64_t sum = 0;
    auto touch = [&](const MatrixView& v) {
        const auto* p = static_cast<const volatile uint8_t*>(v.data);
        const uint64_t n = bytes_of(v);
        for (uint64_t i = 0; i < n; i += 4096) sum += p[i];
    };
    const ModelWeights& W = m.weights();
    touch(W.embed);
    touch(W.lm_head);
    for (const LayerWeights& L : W.layers) {
        for (const MatrixView* v : {&L.attn.q, &L.attn.k, &L.attn.v, &L.attn.o, &L.attn.q_a, &L.attn.q_b, &L.attn.kv_a,
                                    &L.attn.kv_b, &L.moe.router, &L.moe.shared_gate, &L.dense.gate, &L.dense.up,
                                    &L.dense.down, &L.moe.shared.gate, &L.moe.shared.up, &L.moe.shared.down})
            touch(*v);
        for (const MlpWeights& e : L.moe.experts) {
            touch(e.gate);
            touch(e.up);
            touch(e.down);
        }
    }
    return sum;
}

// Size of the last-level cache in bytes (Linux sysfs; 0 when unknown). A model whose active weights fit
// in it is not read from DRAM at all, so the bandwidth bound does not apply to it.
uint64_t last_level_cache_bytes() {
    uint64_t best = 0;
    for (int idx = 0; idx < 8; ++idx) {
        FILE* f = std::fopen(("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/size").c_str(), "r");
        if (!f) continue;
        unsigned long v = 0;
        char unit = 0;
        if (std::fscanf(f, "%lu%c", &v, &unit) >= 1) {
            uint64_t b = v;
            if (unit == 'K') b <<= 10;
            else if (unit == 'M') b <<= 20;
            best = std::max(best, b);
        }
        std::fclose(f);
    }
    return best;
}

int32_t argmax(std::span<const float> v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

CaptureLevel parse_level(const std::string& s) {
    if (s == "none") return CaptureLevel::None;
    if (s == "routing" || s == "ids" || s == "ids+weights") return CaptureLevel::Routing;
    if (s == "logits") return CaptureLevel::Logits;
    if (s == "activations") return CaptureLevel::Activations;
    throw UsageError("--capture must be none, routing, logits or activations (got '" + s + "')");
}
const char* level_name(CaptureLevel l) {
    switch (l) {
        case CaptureLevel::None: return "none";
        case CaptureLevel::Routing: return "routing";
        case CaptureLevel::Logits: return "logits";
        case CaptureLevel::Activations: return "activations";
    }
    return "?";
}

struct RunTimes {
    double prefill_s = 0, decode_s = 0, flush_s = 0;
};

// One repeat: a fresh session, prefill of the prompt, then gen_len greedy decode steps. With `rec`,
// every forward pass is recorded through the real storage Recorder (queue + writer thread into the
// SQLite file). The decode time is the engine thread's (what recording costs the generation); the
// final flush of the writer (finish) is timed separately and reported next to it.
RunTimes run_once(const Model& model, int threads, const std::vector<int32_t>& prompt, int gen_len,
                  storage::Recorder* rec, DType kv_dtype) {
    SessionOptions so;
    so.n_threads = threads;
    so.kv_dtype = kv_dtype;
    Session s(model, so);
    s.set_observer(rec);
    if (rec) rec->begin_sequence(-1);
    RunTimes t;
    auto t0 = Clock::now();
    auto logits = s.prefill(prompt);
    t.prefill_s = seconds_since(t0);
    int32_t tok = argmax(logits);
    t0 = Clock::now();
    for (int i = 0; i < gen_len; ++i) tok = argmax(s.step(tok));
    t.decode_s = seconds_since(t0);
    if (rec) {
        t0 = Clock::now();
        const std::string err = rec->finish();
        if (!err.empty()) throw Error("bench --capture: recording failed: " + err);
        t.flush_s = seconds_since(t0);
    }
    return t;
}

// A scratch activation database for --capture, removed (with its WAL files) when the bench ends.
struct TempDb {
    std::string path;
    std::unique_ptr<storage::Database> db;
    explicit TempDb(const Model& model) {
        path = (std::filesystem::temp_directory_path() / ("moescope-bench-" + std::to_string(::getpid()) + ".db")).string();
        remove_files();
        db = storage::Database::open(path, storage::Access::Write);
        model_id = db->find_or_add_model(model_info(model));
    }
    ~TempDb() {
        db.reset();
        remove_files();
    }
    void remove_files() {
        for (const char* suffix : {"", "-wal", "-shm", "-writer.lock"}) {
            std::error_code ec;
            std::filesystem::remove(path + suffix, ec);
        }
    }
    int64_t begin_run(const Model& model, CaptureLevel level) {
        const ModelSummary& ms = model.summary();
        storage::RunInfo run;
        run.model_id = model_id;
        run.kind = storage::RunKind::Generation;
        run.label = "bench";
        run.capture = level;
        run.n_layers = ms.n_layers;
        run.n_experts = ms.n_experts;
        run.k_max = ms.top_k;
        run.moe_layers = ms.moe_layers;
        return db->begin_run(run);
    }
    int64_t model_id = 0;
};

}  // namespace

int cmd_bench(const CommandArgs& argv) {
    Args args;
    args.positional("MODEL", "model folder (Hugging Face layout) or 'demo'", false)
        .option("synthetic", "random-weight model with real shapes: olmoe-1b-7b, qwen3-30b-a3b, mixtral-8x7b, "
                             "deepseek-v2-lite (tiny-olmoe for quick checks)")
        .option("layers", "with --synthetic: keep only the first N layers")
        .option("device", "cpu (default) or cuda")
        .option("threads", "worker threads (default: all cores)")
        .option("prompt-len", "prompt tokens to prefill (default 128)")
        .option("gen-len", "tokens to decode (default 32)")
        .option("capture", "also time every repeat recording at this level (none, routing = ids+weights, logits, "
                           "activations) through the storage Recorder into a temporary SQLite file, and report "
                           "the overhead versus no recording")
        .option("repeats", "repetitions; decode figures are the median over them (default 5)")
        .option("bw-mib", "size of the bandwidth probe buffer in MiB (default 1024)")
        .option("precision", "cpu: exact (default: float32 activations) or fast-bf16 (prefill matmuls round "
                             "activations to bf16 and use AVX512-BF16 dot products; not faithful); "
                             "cuda: bf16 (default) or fp32")
        .option("kv-dtype", "cpu KV cache: f32 (default) or bf16")
        .option("weights", "cpu: native (default: the checkpoint's BF16/F16/F32) or q8_0 (quantised to 8 bits on "
                           "load, engine/model/quantize.h; not faithful)")
        .flag("json", "print one JSON object");
    args.parse(argv);
    if (args.help_requested()) {
        std::cout << args.usage("bench");
        return 0;
    }
    const bool has_model = args.pos("MODEL").has_value();
    const bool synthetic = args.has("synthetic");
    if (has_model == synthetic) throw UsageError("give either MODEL or --synthetic NAME");
    if (args.has("layers") && !synthetic) throw UsageError("--layers needs --synthetic");
    const std::string device = args.get_or("device", "cpu");
    if (device != "cpu" && device != "cuda") throw UsageError("--device must be cpu or cuda");
    const long long threads_arg = args.get_int("threads", 0);
    const long long P = args.get_int("prompt-len", 128);
    const long long G = args.get_int("gen-len", 32);
    const long long R = args.get_int("repeats", 5);
    const long long layers = args.get_int("layers", 0);
    const long long bw_mib = args.get_int("bw-mib", 1024);
    if (threads_arg < 0 || threads_arg > 1024) throw UsageError("--threads must be in 0..1024");
    if (P < 1 || P > 1000000) throw UsageError("--prompt-len must be at least 1");
    if (G < 1 || G > 1000000) throw UsageError("--gen-len must be at least 1");
    if (R < 1 || R > 1000) throw UsageError("--repeats must be in 1..1000");
    if (layers < 0 || layers > 1000) throw UsageError("--layers must be a positive layer count");
    if (bw_mib < 1 || bw_mib > (1 << 20)) throw UsageError("--bw-mib must be a positive size");
    const CaptureLevel capture = parse_level(args.get_or("capture", "none"));
    const bool json_out = args.has("json");
    const std::string kv_arg = args.get_or("kv-dtype", "f32");
    if (kv_arg != "f32" && kv_arg != "bf16") throw UsageError("--kv-dtype must be f32 or bf16");
    if (kv_arg != "f32" && device != "cpu") throw UsageError("--kv-dtype bf16 is a CPU option");
    const DType kv_dtype = kv_arg == "bf16" ? DType::BF16 : DType::F32;
    const std::string weights_arg = args.get_or("weights", "native");
    if (weights_arg != "native" && weights_arg != "q8_0") throw UsageError("--weights must be native or q8_0");
    if (weights_arg != "native" && device != "cpu") throw UsageError("--weights q8_0 is a CPU option");
    const std::string precision = args.get_or("precision", "exact");
    if (device == "cpu" && precision != "exact" && precision != "fast-bf16")
        throw UsageError("--precision must be exact or fast-bf16 with --device cpu");
    if (device == "cpu" && args.has("precision"))
        cpu::set_matmul_precision(precision == "fast-bf16" ? cpu::MatmulPrecision::FastBF16 : cpu::MatmulPrecision::Exact);
    if (device == "cuda") {
        if (!cuda_compiled() || cuda_device_count() == 0)
            throw Error("bench --device cuda: no CUDA device (" + cuda_device_description() + ")");
    }
    const int threads = threads_arg > 0 ? static_cast<int>(threads_arg)
                                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

    // Model.
    std::unique_ptr<SyntheticModel> synth;
    std::unique_ptr<Model> loaded;
    const auto t_load = Clock::now();
    if (synthetic) {
        auto s = SyntheticModel::create(args.get("synthetic"), static_cast<int>(layers));
        if (!s) throw s.error();
        synth = std::move(*s);
    } else {
        loaded = load_model_or_throw(*args.pos("MODEL"));
    }
    Model& model_rw = synth ? synth->model() : *loaded;
    if (weights_arg == "q8_0") {
        auto q = model_rw.quantize_q8_0();
        if (!q) throw q.error();
    }
    const Model& model = model_rw;
    const double load_s = seconds_since(t_load);
    const ModelConfig& c = model.config();
    if (P + G > c.max_position_embeddings)
        throw UsageError("--prompt-len + --gen-len exceed the model's context (" +
                         std::to_string(c.max_position_embeddings) + ")");
    if (device == "cuda") {  // engine/cuda/cuda_bench.h: same figures, measured on the GPU
        gpu::CudaBenchOptions bo;
        // --precision exact -> FP32 compute, fast-bf16 (and the GPU default) -> BF16 compute.
        bo.precision = precision == "exact" && args.has("precision") ? gpu::Precision::FP32 : gpu::Precision::BF16;
        bo.prompt_tokens = static_cast<int>(P);
        bo.decode_tokens = static_cast<int>(G);
        auto r = gpu::cuda_bench(c, model.weights(), bo);
        if (!r) throw r.error();
        std::cout << r.value().to_json() << "\n";
        return 0;
    }
    volatile uint64_t sink = prefault(model);
    (void)sink;

    // Prompt: fixed pseudo-random ids (the routing they cause is what a real prompt would vary).
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> tok(0, c.vocab_size - 1);
    std::vector<int32_t> prompt(static_cast<size_t>(P));
    for (auto& t : prompt) t = tok(rng);

    // Bandwidth just before the model runs, same thread count (its pool is gone before sessions start).
    cpu::BandwidthSample bw, bw_cache;
    cpu::PeakSample peak;
    const uint64_t llc = last_level_cache_bytes();
    // every weight of the model fits in the last-level cache: decode is not DRAM-bound
    const bool fits_in_cache = llc > 0 && model.summary().weight_bytes < llc;
    {
        cpu::ThreadPool pool(threads);
        bw = cpu::measure_read_bandwidth(&pool, static_cast<size_t>(bw_mib) << 20, 5);
        // For a model that lives in the cache, the bound that applies is the read bandwidth of a buffer
        // as large as its weights (read over and over, so it stays where the weights stay).
        if (fits_in_cache)
            bw_cache = cpu::measure_read_bandwidth(&pool, std::max<size_t>(model.summary().weight_bytes, 1u << 20), 21);
        peak = cpu::measure_peak_gflops(&pool);
    }

    // Warm-up (not timed): one short run so lazily grown buffers and thread start-up are out of the way.
    run_once(model, threads, std::vector<int32_t>(prompt.begin(), prompt.begin() + std::min<long long>(P, 8)), 2,
             nullptr, kv_dtype);

    const ActiveWeights aw = active_weights(model);
    // KV cache read per decode step at the average context of the decode phase (summary: float32 K and
    // V; half of it with --kv-dtype bf16).
    const double avg_ctx = static_cast<double>(P) + static_cast<double>(G + 1) / 2.0;
    const double kv_bytes = static_cast<double>(model.summary().kv_bytes_per_token) * avg_ctx *
                            (kv_dtype == DType::BF16 ? 0.5 : 1.0);
    const double bytes_per_token = static_cast<double>(aw.bytes) + kv_bytes;

    // Each repeat also re-measures the bandwidth right before its run (256 MiB, still far larger than
    // the caches): on a shared machine the available bandwidth drifts, and the per-repeat fraction of
    // the bound compares like with like.
    std::vector<double> prefill_tps, decode_tps, capture_decode_tps, capture_prefill_tps, fraction_per_repeat;
    std::unique_ptr<TempDb> capture_db;
    if (capture != CaptureLevel::None) capture_db = std::make_unique<TempDb>(model);
    double capture_bytes = 0;
    std::vector<double> capture_flush_ms;
    for (long long r = 0; r < R; ++r) {
        double bw_r;
        {
            cpu::ThreadPool pool(threads);
            bw_r = cpu::measure_read_bandwidth(&pool, std::min<size_t>(static_cast<size_t>(bw_mib) << 20, 256u << 20), 2)
                       .gbps_median;
        }
        const RunTimes t = run_once(model, threads, prompt, static_cast<int>(G), nullptr, kv_dtype);
        prefill_tps.push_back(static_cast<double>(P) / t.prefill_s);
        decode_tps.push_back(static_cast<double>(G) / t.decode_s);
        fraction_per_repeat.push_back(decode_tps.back() * bytes_per_token / (bw_r * 1e9));
        if (capture != CaptureLevel::None) {
            storage::RecorderOptions ro;
            ro.level = capture;
            storage::Recorder rec(*capture_db->db, capture_db->begin_run(model, capture), ro);
            const RunTimes tc = run_once(model, threads, prompt, static_cast<int>(G), &rec, kv_dtype);
            capture_bytes = static_cast<double>(std::filesystem::file_size(capture_db->path)) +
                            static_cast<double>(std::filesystem::exists(capture_db->path + "-wal")
                                                    ? std::filesystem::file_size(capture_db->path + "-wal") : 0);
            capture_prefill_tps.push_back(static_cast<double>(P) / tc.prefill_s);
            capture_decode_tps.push_back(static_cast<double>(G) / tc.decode_s);
            capture_flush_ms.push_back(1e3 * tc.flush_s);
        }
    }

    const Stats pf = stats(prefill_tps), dc = stats(decode_tps);
    const double bound = bw.gbps_median * 1e9 / bytes_per_token;
    // The prefill computes every matrix for all P tokens except lm_head, which only the last position
    // needs (Session::prefill returns its logits).
    const double lm_params = static_cast<double>(params_of(model.weights().lm_head));
    const double prefill_flops = 2.0 * (static_cast<double>(aw.params) - lm_params) * static_cast<double>(P) +
                                 2.0 * lm_params + attention_flops(c, 0, P);
    const double gflops = prefill_flops / (static_cast<double>(P) / pf.median) / 1e9;

    nlohmann::json j;
    j["model"] = synthetic ? args.get("synthetic") : *args.pos("MODEL");
    j["synthetic"] = synthetic;
    j["architecture"] = c.model_type;
    j["layers"] = c.n_layers;
    j["n_experts"] = c.n_experts;
    j["top_k"] = c.top_k;
    j["hidden_size"] = c.hidden_size;
    j["device"] = device;
    j["threads"] = threads;
    j["simd"] = cpu::simd_name(cpu::simd_level());
    // FastBF16 only takes effect where the CPU has the AVX512-BF16 dot products.
    const bool fast = cpu::matmul_precision() == cpu::MatmulPrecision::FastBF16 &&
                      cpu::simd_level() == cpu::SimdLevel::AVX512BF16;
    j["matmul_precision"] = fast ? "fast-bf16" : "exact";
    j["kv_dtype"] = kv_arg;
    j["weights"] = weights_arg;
    j["weights_dtype"] = model.summary().dtype;
    j["prompt_len"] = P;
    j["gen_len"] = G;
    j["repeats"] = R;
    j["load_seconds"] = load_s;
    j["bandwidth_gbps"] = {{"median", bw.gbps_median}, {"min", bw.gbps_min}, {"max", bw.gbps_max},
                           {"buffer_bytes", bw.bytes}, {"threads", bw.threads}};
    j["active_weight_bytes_per_token"] = aw.bytes;
    j["kv_bytes_per_token_avg"] = kv_bytes;
    j["active_bytes_per_token"] = bytes_per_token;
    j["prefill_tok_s"] = to_json(pf);
    j["prefill_gflops"] = gflops;
    j["peak_gflops"] = {{"fp32_fma", peak.fp32_gflops}, {"bf16_dot", peak.bf16_gflops}, {"threads", peak.threads}};
    // against the peak of the instructions the prefill products use (vdpbf16ps in fast-bf16, FMA else)
    const double peak_used = fast ? peak.bf16_gflops : peak.fp32_gflops;
    if (peak_used > 0) j["prefill_fraction_of_peak"] = gflops / peak_used;
    j["decode_tok_s"] = to_json(dc);
    j["decode_bound_tok_s"] = bound;
    j["decode_fraction_of_bound"] = dc.median / bound;
    j["last_level_cache_bytes"] = llc;
    j["weights_fit_in_cache"] = fits_in_cache;
    if (fits_in_cache) {
        const double cache_bound = bw_cache.gbps_median * 1e9 / bytes_per_token;
        j["cache_bandwidth_gbps"] = {{"median", bw_cache.gbps_median}, {"min", bw_cache.gbps_min},
                                     {"max", bw_cache.gbps_max}, {"buffer_bytes", bw_cache.bytes}};
        j["decode_cache_bound_tok_s"] = cache_bound;
        j["decode_fraction_of_cache_bound"] = dc.median / cache_bound;
    }
    j["decode_fraction_of_bound_best_bw"] = dc.median / (bw.gbps_max * 1e9 / bytes_per_token);
    j["decode_fraction_of_bound_per_repeat"] = to_json(stats(fraction_per_repeat));
    if (capture != CaptureLevel::None) {
        const Stats cd = stats(capture_decode_tps), cp = stats(capture_prefill_tps);
        j["capture"] = {{"level", level_name(capture)},
                        {"decode_tok_s", to_json(cd)},
                        {"prefill_tok_s", to_json(cp)},
                        {"recorder", "storage::Recorder into a temporary SQLite file"},
                        {"final_flush_ms", to_json(stats(capture_flush_ms))},
                        {"db_bytes_last_repeat", capture_bytes},
                        {"decode_overhead_pct", 100.0 * (dc.median / cd.median - 1.0)},
                        {"prefill_overhead_pct", 100.0 * (pf.median / cp.median - 1.0)}};
    }

    if (json_out) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    char line[512];
    std::cout << "model      " << j["model"].get<std::string>() << " (" << c.model_type << ", " << c.n_layers
              << " layers, " << c.n_experts << " experts, top-" << c.top_k << ")\n";
    std::snprintf(line, sizeof line, "setup      %d threads, simd %s, %s matmul, prompt %lld, gen %lld, %lld repeats\n",
                  threads, j["simd"].get<std::string>().c_str(), j["matmul_precision"].get<std::string>().c_str(), P, G, R);
    std::cout << line;
    std::snprintf(line, sizeof line, "bandwidth  %.2f GB/s median [%.2f, %.2f] (streaming read, %zu MiB, %d threads)\n",
                  bw.gbps_median, bw.gbps_min, bw.gbps_max, bw.bytes >> 20, bw.threads);
    std::cout << line;
    std::snprintf(line, sizeof line, "bytes/tok  %.1f MB (weights %.1f MB + KV %.2f MB)\n", bytes_per_token / 1e6,
                  static_cast<double>(aw.bytes) / 1e6, kv_bytes / 1e6);
    std::cout << line;
    std::snprintf(line, sizeof line, "peak       %.1f GFLOP/s fp32 FMA, %.1f GFLOP/s bf16 dot (%d threads, in-register loop)\n",
                  peak.fp32_gflops, peak.bf16_gflops, peak.threads);
    std::cout << line;
    std::snprintf(line, sizeof line, "prefill    %.1f tok/s median [%.1f, %.1f], %.1f GFLOP/s", pf.median, pf.min,
                  pf.max, gflops);
    std::cout << line;
    if (peak_used > 0) std::cout << " (" << static_cast<int>(100.0 * gflops / peak_used + 0.5) << "% of peak)";
    std::cout << "\n";
    std::snprintf(line, sizeof line, "decode     %.2f tok/s median [%.2f, %.2f]; bound %.2f tok/s -> %.1f%% of bound\n",
                  dc.median, dc.min, dc.max, bound, 100.0 * dc.median / bound);
    std::cout << line;
    if (fits_in_cache) {
        std::snprintf(line, sizeof line,
                      "           the weights (%.1f MB) fit in the %llu MiB last-level cache, so the DRAM bound does not "
                      "apply;\n           reading a buffer of that size runs at %.1f GB/s: cache bound %.0f tok/s -> %.1f%% of it\n",
                      static_cast<double>(model.summary().weight_bytes) / 1e6, static_cast<unsigned long long>(llc >> 20),
                      bw_cache.gbps_median, j["decode_cache_bound_tok_s"].get<double>(),
                      100.0 * j["decode_fraction_of_cache_bound"].get<double>());
        std::cout << line;
    }
    const Stats fr = stats(fraction_per_repeat);
    std::snprintf(line, sizeof line, "           per repeat vs bandwidth re-measured before it: %.1f%% median [%.1f, %.1f]\n",
                  100.0 * fr.median, 100.0 * fr.min, 100.0 * fr.max);
    std::cout << line;
    if (capture != CaptureLevel::None) {
        std::snprintf(line, sizeof line, "capture    %s via Recorder -> SQLite: decode %.2f tok/s median, overhead %+.1f%% (prefill %+.1f%%)\n",
                      level_name(capture), j["capture"]["decode_tok_s"]["median"].get<double>(),
                      j["capture"]["decode_overhead_pct"].get<double>(), j["capture"]["prefill_overhead_pct"].get<double>());
        std::cout << line;
        std::snprintf(line, sizeof line, "           writer's final flush after the last token: %.1f ms median\n",
                      j["capture"]["final_flush_ms"]["median"].get<double>());
        std::cout << line;
    }
    return 0;
}

}  // namespace moescope::cli
