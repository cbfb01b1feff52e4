// Analysis benchmark: fTRI and expert load/entropy over 1M token-layer records (target < 1 s each).
// Usage: analysis_bench [n_tokens=62500] [n_moe=16] [n_experts=64] [k=8]
// 62,500 tokens x 16 MoE layers = 1,000,000 token-layer records (8M expert slots at k = 8).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "analysis/coactivation.h"
#include "analysis/ftri.h"
#include "analysis/specialization.h"

using namespace moescope;
using namespace moescope::analysis;

namespace {
struct Xor {
    uint64_t x = 88172645463325252ull;
    uint64_t next() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    }
};

RoutingArrays synthetic(int64_t n_tokens, int n_moe, int E, int k) {
    RoutingArrays a;
    a.n_tokens = n_tokens;
    a.n_moe = n_moe;
    a.k_max = k;
    a.n_experts = E;
    a.n_layers = n_moe;
    for (int m = 0; m < n_moe; ++m) a.moe_layers.push_back(m);
    a.set_names = {"behavior", "control"};
    const int prompt_len = 125;
    Xor rng;
    a.experts.resize(static_cast<size_t>(n_tokens) * n_moe * k);
    a.weights.resize(a.experts.size(), 1.0f / k);
    for (int64_t t = 0; t < n_tokens; ++t) {
        const int64_t prompt = t / prompt_len;
        a.run_id.push_back(prompt);
        a.prompt_id.push_back(prompt);
        a.position.push_back(static_cast<int32_t>(t % prompt_len));
        a.token_id.push_back(static_cast<int32_t>(rng.next() % 32000));
        a.generated.push_back(0);
        a.set_index.push_back(prompt % 2);
        for (int m = 0; m < n_moe; ++m) {
            // k distinct experts: a random start and a random odd stride (E is a power of two).
            const int start = static_cast<int>(rng.next() % E), stride = static_cast<int>(rng.next() % (E / 2)) * 2 + 1;
            for (int j = 0; j < k; ++j) a.experts[a.slot(t, m, j)] = static_cast<int16_t>((start + j * stride) % E);
        }
    }
    return a;
}

template <class F>
double best_of(int reps, F&& f) {
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}
}  // namespace

int main(int argc, char** argv) {
    const int64_t n_tokens = argc > 1 ? std::atoll(argv[1]) : 62500;
    const int n_moe = argc > 2 ? std::atoi(argv[2]) : 16;
    const int E = argc > 3 ? std::atoi(argv[3]) : 64;
    const int k = argc > 4 ? std::atoi(argv[4]) : 8;
    const RoutingArrays a = synthetic(n_tokens, n_moe, E, k);
    std::printf("records: %lld token-layer (%lld tokens x %d MoE layers), E = %d, k = %d\n",
                static_cast<long long>(n_tokens * n_moe), static_cast<long long>(n_tokens), n_moe, E, k);
    FtriOptions fo;
    fo.behavior.sets = {"behavior"};
    fo.control.sets = {"control"};
    bool ok = true;
    auto report = [&](const char* name, double s) {
        std::printf("%-28s %8.3f s  %s\n", name, s, s < 1.0 ? "(< 1 s target: ok)" : "(over the 1 s target)");
        ok = ok && s < 1.0;
    };
    report("ftri (tokens pooling)", best_of(3, [&] {
               auto r = ftri(a, fo);
               if (!r.ok()) std::fprintf(stderr, "%s\n", r.message().c_str());
           }));
    fo.pooling = FtriPooling::Prompts;
    report("ftri (prompts pooling)", best_of(3, [&] { (void)ftri(a, fo); }));
    report("load + entropy", best_of(3, [&] {
               auto r = expert_load(a, {});
               if (!r.ok()) std::fprintf(stderr, "%s\n", r.message().c_str());
           }));
    std::printf("%-28s %8.3f s  (informational)\n", "co-activation (all pairs)",
                best_of(1, [&] { (void)coactivation(a, {}); }));
    return ok ? 0 : 1;
}
