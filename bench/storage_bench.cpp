// Storage benchmark (not a test): ingest rate of routing records at capture level ids+weights, and the
// time to read 1M token-layers back into RoutingArrays. Figures go to docs/database.md.
//   storage_bench [--tokens N] [--db PATH] [--overhead-layers L (0 = skip the generation overhead part)]
// Shape: Qwen3-30B-A3B (48 MoE layers x 128 experts, top-8).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "engine/generate.h"
#include "engine/model/synthetic_model.h"
#include "engine/session.h"
#include "storage/capture.h"
#include "storage/database.h"
#include "storage/recorder.h"
#include "storage/routing_reader.h"

using namespace moescope;
using namespace moescope::storage;
using Clock = std::chrono::steady_clock;

static double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Recording overhead on generation: the same greedy generation on a synthetic OLMoE-1B-7B-shaped model
// (real layer shapes, `layers` decoder layers), with and without a Recorder attached, alternated;
// medians compared. The per-layer ratio of routing events to compute is that of the full model.
static int generation_overhead(const std::string& path, int layers) {
    auto sm = SyntheticModel::create("olmoe-1b-7b", layers);
    if (!sm.ok()) {
        std::printf("  overhead: skipped (%s)\n", sm.message().c_str());
        return 0;
    }
    const Model& model = (*sm)->model();
    auto db = Database::open(path, Access::Write);
    std::vector<int32_t> prompt(32);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(100 + 7 * i);
    GenerateOptions g;
    g.sampling.greedy = true;
    g.max_new_tokens = 32;
    g.stop_on_eos = false;
    g.capture_routing = false;
    g.top_alternatives = 0;
    auto once = [&](bool record) {
        Session s(model);
        std::unique_ptr<Recorder> rec;
        if (record) {
            RunInfo r;
            r.n_layers = model.summary().n_layers;
            r.n_experts = model.summary().n_experts;
            r.k_max = model.summary().top_k;
            r.moe_layers = model.summary().moe_layers;
            rec = std::make_unique<Recorder>(*db, db->begin_run(r));
            rec->begin_sequence(-1);
            s.set_observer(rec.get());
        }
        auto t0 = Clock::now();
        generate(s, prompt, g);
        if (rec) rec->finish();  // the final flush counts too
        return seconds_since(t0);
    };
    once(false);  // warm-up: page in the weights
    std::vector<double> off, on;
    for (int i = 0; i < 5; ++i) {
        off.push_back(once(false));
        on.push_back(once(true));
    }
    std::sort(off.begin(), off.end());
    std::sort(on.begin(), on.end());
    std::printf("  overhead: generation of 32+32 tokens on olmoe-1b-7b shapes (%d layers): %.3f s without, %.3f s with "
                "recording (medians of 5): %+.1f%%\n",
                layers, off[2], on[2], 100.0 * (on[2] - off[2]) / off[2]);
    db.reset();
    for (const char* suffix : {"", "-wal", "-shm", "-writer.lock"}) ::unlink((path + suffix).c_str());
    return 0;
}

int main(int argc, char** argv) {
    int64_t tokens = 40000;  // x 48 layers = 1.92M token-layer records
    std::string path = "/tmp/moescope_storage_bench.db";
    int overhead_layers = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--tokens") == 0) tokens = std::stoll(argv[i + 1]);
        else if (std::strcmp(argv[i], "--db") == 0) path = argv[i + 1];
        else if (std::strcmp(argv[i], "--overhead-layers") == 0) overhead_layers = std::stoi(argv[i + 1]);
    }
    const int n_moe = 48, n_experts = 128, k = 8, prefill = 512;
    for (const char* suffix : {"", "-wal", "-shm", "-writer.lock"}) ::unlink((path + suffix).c_str());

    auto db = Database::open(path, Access::Write);
    RunInfo r;
    r.n_layers = n_moe;
    r.n_experts = n_experts;
    r.k_max = k;
    for (int l = 0; l < n_moe; ++l) r.moe_layers.push_back(l);
    int64_t run = db->begin_run(r);

    // Precomputed routing so the benchmark measures the recorder, not the event generator.
    std::vector<int32_t> ex(static_cast<size_t>(n_experts) * k);
    std::vector<float> w(static_cast<size_t>(n_experts) * k);
    for (int v = 0; v < n_experts; ++v)
        for (int j = 0; j < k; ++j) {
            ex[static_cast<size_t>(v * k + j)] = (v + 17 * j) % n_experts;
            w[static_cast<size_t>(v * k + j)] = 1.0f / static_cast<float>(k + j);
        }

    RecorderOptions opt;
    opt.level = CaptureLevel::Routing;
    double producer_s = 0, writer_cpu = 0;
    double cpu0 = cpu_seconds();
    auto t0 = Clock::now();
    {
        Recorder rec(*db, run, opt);
        rec.begin_sequence(-1);
        for (int64_t first = 0; first < tokens; first += prefill) {
            int n = static_cast<int>(std::min<int64_t>(prefill, tokens - first));
            auto p0 = Clock::now();
            for (int l = 0; l < n_moe; ++l)
                for (int64_t pos = first; pos < first + n; ++pos) {
                    size_t v = static_cast<size_t>((pos * 31 + l) % n_experts) * k;
                    RoutingEvent e;
                    e.layer = l;
                    e.position = pos;
                    e.token_id = static_cast<int32_t>(pos % 50000);
                    e.step = -1;
                    e.experts = std::span<const int32_t>(ex.data() + v, static_cast<size_t>(k));
                    e.weights = std::span<const float>(w.data() + v, static_cast<size_t>(k));
                    rec.on_routing(e);
                }
            rec.on_step_end({-1, first, n});
            producer_s += seconds_since(p0);
        }
        std::string err = rec.finish();
        writer_cpu = rec.writer_cpu_seconds();
        if (!err.empty()) {
            std::fprintf(stderr, "recording failed: %s\n", err.c_str());
            return 1;
        }
    }
    double ingest_s = seconds_since(t0);
    double ingest_cpu = cpu_seconds() - cpu0;
    const double records = static_cast<double>(tokens) * n_moe;
    db->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
    double file_bytes = static_cast<double>(db->db().query_int("PRAGMA page_count") * db->db().query_int("PRAGMA page_size"));

    auto reader = Database::open(path, Access::ReadOnly);
    auto r0 = Clock::now();
    double rcpu0 = cpu_seconds();
    RoutingArrays a = read_run_routing(*reader, run);
    double read_s = seconds_since(r0);
    double read_cpu = cpu_seconds() - rcpu0;
    if (a.n_tokens != tokens || a.experts[a.slot(1, 2, 3)] != ex[static_cast<size_t>((31 + 2) % n_experts) * k + 3]) {
        std::fprintf(stderr, "read-back mismatch\n");
        return 1;
    }
    ModelShape shape{n_moe, n_moe, k, n_experts, 32};
    std::printf("storage_bench: %lld tokens x %d MoE layers, top-%d (capture ids+weights)\n",
                static_cast<long long>(tokens), n_moe, k);
    std::printf("  ingest:   %.0f token-layer records/s wall (%.2f s for %.0f records; %.2f s CPU in both threads)\n",
                records / ingest_s, ingest_s, records, ingest_cpu);
    std::printf("  writer thread: %.2f s CPU = %.0f records per writer-CPU-second (the rate on an idle core)\n",
                writer_cpu, records / writer_cpu);
    std::printf("  engine thread: %.3f us per record (copy into the step buffer + enqueue)\n", producer_s / records * 1e6);
    std::printf("  read:     %.3f s wall (%.3f s CPU) for %.2fM token-layers into RoutingArrays (%.3f s per 1M)\n", read_s,
                read_cpu, records / 1e6, read_s / (records / 1e6));
    std::printf("  size:     %.0f bytes/token on disk (estimate shown before recording: %.0f)\n", file_bytes / static_cast<double>(tokens),
                estimate_bytes_per_token(shape, CaptureLevel::Routing));
    for (const char* suffix : {"", "-wal", "-shm", "-writer.lock"}) ::unlink((path + suffix).c_str());
    if (overhead_layers > 0) return generation_overhead(path, overhead_layers);
    return 0;
}
