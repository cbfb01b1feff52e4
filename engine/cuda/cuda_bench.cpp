// CUDA benchmark (see cuda_bench.h). Timings use wall-clock around whole calls (each call ends in
// the backend's one synchronisation), so they include host overhead like a real generation loop.
#include "engine/cuda/cuda_bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "engine/cuda/common.cuh"

namespace moescope::gpu {

namespace {

struct CountingObserver : RoutingObserver {
    uint64_t events = 0;
    CaptureLevel capture_level() const override { return CaptureLevel::Activations; }
    void on_routing(const RoutingEvent&) override { ++events; }
    void on_layer_stats(const LayerStatsEvent&) override { ++events; }
};

double measure_bandwidth_gbs() {
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    size_t bytes = std::min<size_t>(size_t(1) << 30, free_b / 4);
    bytes &= ~size_t(255);
    if (bytes < (size_t(1) << 20)) throw Error("CUDA bench: not enough free memory to measure bandwidth");
    DeviceBuffer a(bytes, "bandwidth probe"), b(bytes, "bandwidth probe");
    CUDA_CHECK(cudaMemset(a.get(), 1, bytes));
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    CUDA_CHECK(cudaMemcpy(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));  // warm-up
    const int reps = 10;
    CUDA_CHECK(cudaEventRecord(e0));
    for (int i = 0; i < reps; ++i) CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));
    CUDA_CHECK(cudaEventRecord(e1));
    CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return 2.0 * double(bytes) * reps / (double(ms) * 1e-3) / 1e9;  // each byte read once, written once
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int32_t argmax(const std::vector<float>& v) {
    int32_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = int32_t(i);
    return best;
}

}  // namespace

uint64_t active_weight_bytes(const ModelConfig& c, const ModelWeights& w) {
    uint64_t b = 0;
    auto mat = [&](const MatrixView& v) { b += uint64_t(v.rows) * uint64_t(v.cols) * 2u; };
    auto mlp = [&](const MlpWeights& p) {
        mat(p.gate);
        mat(p.up);
        mat(p.down);
    };
    mat(w.lm_head.present() ? w.lm_head : w.embed);
    for (const auto& L : w.layers) {
        const auto& a = L.attn;
        for (const auto* v : {&a.q, &a.k, &a.v, &a.o, &a.q_a, &a.q_b, &a.kv_a, &a.kv_b}) mat(*v);
        if (!L.is_moe) {
            mlp(L.dense);
            continue;
        }
        mat(L.moe.router);
        mlp(L.moe.shared);
        mat(L.moe.shared_gate);
        if (!L.moe.experts.empty()) {
            const auto& e = L.moe.experts[0];
            b += uint64_t(std::min(c.top_k, int(L.moe.experts.size()))) *
                 (uint64_t(e.gate.rows) * e.gate.cols + uint64_t(e.up.rows) * e.up.cols + uint64_t(e.down.rows) * e.down.cols) * 2u;
        }
    }
    return b;
}

std::string CudaBenchResult::to_json() const {
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "{\"device\": \"%s\", \"precision\": \"%s\", \"bandwidth_gbs\": %.1f, \"prefill_tok_s\": %.1f, "
                  "\"prefill_tok_s_capture\": %.1f, \"decode_tok_s\": %.2f, \"decode_tok_s_capture\": %.2f, "
                  "\"active_bytes_per_token\": %llu, \"decode_bound_tok_s\": %.2f, \"decode_fraction_of_bound\": %.3f, "
                  "\"capture_overhead\": %.4f}",
                  device.c_str(), precision_name(precision), bandwidth_gbs, prefill_tok_s, prefill_tok_s_capture,
                  decode_tok_s, decode_tok_s_capture, static_cast<unsigned long long>(active_bytes_per_token),
                  decode_bound_tok_s, decode_fraction_of_bound, capture_overhead);
    return buf;
}

Result<CudaBenchResult> cuda_bench(const ModelConfig& cfg, const ModelWeights& w, const CudaBenchOptions& o) {
    return try_result([&]() -> CudaBenchResult {
        if (o.prompt_tokens < 1 || o.decode_tokens < 1) throw Error("CUDA bench: prompt and decode tokens must be >= 1");
        const int64_t ctx = int64_t(o.prompt_tokens) + o.decode_tokens + 1;
        CudaOptions opt;
        opt.precision = o.precision;
        auto model = CudaModel::load(cfg, w, opt, ctx);
        if (!model) throw model.error();
        CudaBenchResult r;
        r.device = model.value()->device_name();
        r.precision = o.precision;
        r.bandwidth_gbs = measure_bandwidth_gbs();
        std::mt19937_64 rng(o.seed);
        std::vector<int32_t> prompt(size_t(o.prompt_tokens));
        for (auto& t : prompt) t = int32_t(rng() % uint64_t(cfg.vocab_size));
        Interventions none;
        std::vector<float> last;
        CountingObserver obs;
        auto run = [&](RoutingObserver* ob, double& prefill_tps, double& decode_tps) {
            auto seq = CudaSequence::create(model.value(), ctx);
            if (!seq) throw seq.error();
            auto t0 = std::chrono::steady_clock::now();
            seq.value()->forward(prompt, none, ob, -1, nullptr, last);
            prefill_tps = o.prompt_tokens / seconds_since(t0);
            int32_t next = argmax(last);
            t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < o.decode_tokens; ++i) {
                const int32_t one[1] = {next};
                seq.value()->forward(one, none, ob, i, nullptr, last);
                next = argmax(last);
            }
            decode_tps = o.decode_tokens / seconds_since(t0);
        };
        double warm_p = 0, warm_d = 0;
        run(nullptr, warm_p, warm_d);  // warm-up: cuBLAS heuristics, allocations
        run(nullptr, r.prefill_tok_s, r.decode_tok_s);
        run(&obs, r.prefill_tok_s_capture, r.decode_tok_s_capture);
        r.active_bytes_per_token = active_weight_bytes(cfg, w) + kv_bytes_per_token(cfg) * uint64_t(o.prompt_tokens);
        r.decode_bound_tok_s = r.bandwidth_gbs * 1e9 / double(r.active_bytes_per_token);
        r.decode_fraction_of_bound = r.decode_tok_s / r.decode_bound_tok_s;
        r.capture_overhead = 1.0 - r.decode_tok_s_capture / r.decode_tok_s;
        return r;
    });
}

}  // namespace moescope::gpu
