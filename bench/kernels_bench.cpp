// Micro-benchmark of the CPU kernels against the machine's streaming-read bandwidth, measured in the
// same run with the same thread count. Not a test: figures go to bench/README.md.
//   kernels_bench [--threads N] [--repeats R] [--simd scalar|avx2|avx512|avx512bf16] [--mb MB]
// Decode: matvec over a set of OLMoE-sized BF16 matrices (q/k/v/o 2048x2048, expert gate/up
// 1024x2048, down 2048x1024) whose total size is much larger than the caches, so every call streams
// its weights from DRAM as in a real decode step; reported as GB/s and as a fraction of the
// streaming-read bandwidth. Prefill: matmul of a 1024x2048 and a 2048x2048 BF16 matrix by n tokens,
// GFLOP/s (2·rows·cols·n per product), in Exact and FastBF16 precision.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/cpu/thread_pool.h"

using namespace moescope;
using namespace moescope::cpu;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

struct Mat {
    int64_t rows, cols;
    std::vector<uint16_t> w;
};

}  // namespace

int main(int argc, char** argv) {
    int threads = 1, repeats = 7;
    size_t mb = 768;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--threads") threads = std::atoi(next());
        else if (a == "--repeats") repeats = std::atoi(next());
        else if (a == "--mb") mb = static_cast<size_t>(std::atoll(next()));
        else if (a == "--simd") {
            std::string s = next();
            set_simd_level(s == "scalar" ? SimdLevel::Scalar : s == "avx2" ? SimdLevel::AVX2
                           : s == "avx512" ? SimdLevel::AVX512 : SimdLevel::AVX512BF16);
        } else {
            std::fprintf(stderr, "usage: kernels_bench [--threads N] [--repeats R] [--simd L] [--mb MB]\n");
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ThreadPool pool(threads);
    std::printf("simd=%s (detected %s) threads=%d repeats=%d\n", simd_name(simd_level()), simd_name(simd_detected()),
                threads, repeats);

    // Weights: OLMoE layer-like mix, repeated until ~mb MiB.
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> U(-0.05f, 0.05f);
    std::vector<Mat> mats;
    size_t total = 0;
    const int64_t shapes[][2] = {{2048, 2048}, {2048, 2048}, {2048, 2048}, {2048, 2048},
                                 {1024, 2048}, {1024, 2048}, {2048, 1024}};
    for (int s = 0; total < mb * 1024 * 1024 || mats.size() < 7; s = (s + 1) % 7) {
        Mat m{shapes[s][0], shapes[s][1], {}};
        m.w.resize(static_cast<size_t>(m.rows * m.cols));
        for (auto& v : m.w) v = f32_to_bf16(U(rng));
        total += m.w.size() * 2;
        mats.push_back(std::move(m));
    }
    std::vector<float> x(2048), y(2048);
    for (auto& v : x) v = U(rng);

    const BandwidthSample bw = measure_read_bandwidth(&pool, 1ull << 30, repeats);
    std::printf("read bandwidth (1 GiB buffer): median %.2f GB/s  [min %.2f, max %.2f]\n", bw.gbps_median,
                bw.gbps_min, bw.gbps_max);

    std::vector<double> gbps;
    for (int r = 0; r < repeats + 1; ++r) {
        const double t0 = now_s();
        for (const Mat& m : mats) matvec(DType::BF16, m.w.data(), m.rows, m.cols, x.data(), y.data(), &pool);
        const double s = now_s() - t0;
        if (r > 0) gbps.push_back(static_cast<double>(total) / s / 1e9);
    }
    const double mv = median(gbps);
    std::printf("matvec BF16 (%zu matrices, %.0f MB): median %.2f GB/s [%.2f, %.2f] = %.1f%% of read bandwidth\n",
                mats.size(), total / 1e6, mv, *std::min_element(gbps.begin(), gbps.end()),
                *std::max_element(gbps.begin(), gbps.end()), 100.0 * mv / bw.gbps_median);

    for (int prec = 0; prec < 2; ++prec) {
        set_matmul_precision(prec ? MatmulPrecision::FastBF16 : MatmulPrecision::Exact);
        for (int64_t n : {8, 64, 512}) {
            for (int s : {0, 4}) {
                const Mat& m = mats[static_cast<size_t>(s)];
                std::vector<float> X(static_cast<size_t>(n * m.cols)), Y(static_cast<size_t>(n * m.rows));
                for (auto& v : X) v = U(rng);
                std::vector<double> gf;
                for (int r = 0; r < std::max(3, repeats / 2) + 1; ++r) {
                    const double t0 = now_s();
                    matmul(DType::BF16, m.w.data(), m.rows, m.cols, X.data(), n, Y.data(), &pool);
                    const double sec = now_s() - t0;
                    if (r > 0) gf.push_back(2.0 * m.rows * m.cols * n / sec / 1e9);
                }
                std::printf("matmul BF16 %s %lldx%lld n=%lld: median %.1f GFLOP/s [%.1f, %.1f]\n",
                            prec ? "fast-bf16" : "exact    ", (long long)m.rows, (long long)m.cols, (long long)n,
                            median(gf), *std::min_element(gf.begin(), gf.end()), *std::max_element(gf.begin(), gf.end()));
            }
        }
    }
    return 0;
}
