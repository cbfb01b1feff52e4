// Run-time dispatch, the scalar reference kernels, and the threading of the products. The SIMD
// variants live in kernels_<isa>.cpp (each compiled with its own -m flags) behind kernels_internal.h.
#include "engine/cpu/kernels.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "engine/cpu/kernels_internal.h"
#include "engine/cpu/thread_pool.h"
#include "engine/model/quantize.h"

namespace moescope::cpu {

namespace {

std::atomic<int> g_level{-1};
std::atomic<int> g_precision{-1};

SimdLevel detect() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma")) {
        if (__builtin_cpu_supports("avx512bf16")) return SimdLevel::AVX512BF16;
        return SimdLevel::AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return SimdLevel::AVX2;
#endif
    return SimdLevel::Scalar;
}

SimdLevel from_env(SimdLevel detected) {
    const char* e = std::getenv("MOESCOPE_SIMD");
    if (!e || !*e) return detected;
    SimdLevel want = detected;
    if (!std::strcmp(e, "scalar")) want = SimdLevel::Scalar;
    else if (!std::strcmp(e, "avx2")) want = SimdLevel::AVX2;
    else if (!std::strcmp(e, "avx512")) want = SimdLevel::AVX512;
    else if (!std::strcmp(e, "avx512bf16")) want = SimdLevel::AVX512BF16;
    return std::min(want, detected);
}

// Row dot product of one weight row (any dtype) with a float32 vector, in plain sequential float32
// arithmetic: the reference every SIMD path is tested against.
float row_dot_scalar(DType wt, const void* row, const float* x, int64_t cols) {
    float acc = 0.0f;
    switch (wt) {
        case DType::F32: {
            const float* w = static_cast<const float*>(row);
            for (int64_t c = 0; c < cols; ++c) acc += w[c] * x[c];
            break;
        }
        case DType::BF16: {
            const uint16_t* w = static_cast<const uint16_t*>(row);
            for (int64_t c = 0; c < cols; ++c) acc += bf16_to_f32(w[c]) * x[c];
            break;
        }
        case DType::F16: {
            const uint16_t* w = static_cast<const uint16_t*>(row);
            for (int64_t c = 0; c < cols; ++c) acc += f16_to_f32(w[c]) * x[c];
            break;
        }
        case DType::Q8_0:  // w = d·q, exact in float32 (engine/model/quantize.h)
            for (int64_t c = 0; c < cols; ++c) acc += q8_value(static_cast<const uint8_t*>(row), cols, c) * x[c];
            break;
    }
    return acc;
}

using RowsFn = void (*)(DType, const void*, int64_t, int64_t, int64_t, const float*, int64_t, float*, int64_t);

RowsFn rows_fn(SimdLevel level) {
    switch (level) {
        case SimdLevel::AVX512BF16:
        case SimdLevel::AVX512: return detail::rows_avx512;
        case SimdLevel::AVX2: return detail::rows_avx2;
        case SimdLevel::Scalar: break;
    }
    return detail::rows_scalar;
}

// One unit of work: rows [r0, r1) of one task. Units are handed to threads by cumulative cost.
struct Unit {
    int task;
    int64_t r0, r1;
};

constexpr int64_t kRowBlock = 16;  // multiple of every ISA's row tile
constexpr int64_t kMinTokRows = 64;

// Per-task bf16 copies of the activations for the FastBF16 path (reused between calls).
thread_local std::vector<uint16_t> t_xb;
// Per-task permuted float32 copies of the activations for the AVX-512 BF16 path.
thread_local std::vector<float> t_xp;
// Per-task token-lane packed bf16 pairs for the FastBF16 panel GEMM (n >= 16).
thread_local std::vector<uint32_t> t_xq;

}  // namespace

namespace detail {

void rows_scalar(DType wt, const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n,
                 float* Y, int64_t ldy) {
    const size_t rb = row_bytes(wt, cols);
    for (int64_t r = r0; r < r1; ++r) {
        const void* row = static_cast<const char*>(W) + r * rb;
        for (int64_t i = 0; i < n; ++i) Y[i * ldy + r] = row_dot_scalar(wt, row, X + i * cols, cols);
    }
}

bool cpu_has_vnni() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512vnni") != 0;
    }();
    return has;
#else
    return false;
#endif
}

void rows_q8_dequant(const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n, float* Y,
                     int64_t ldy, RowsF32Fn f32, DequantRowFn dequant) {
    thread_local std::vector<float> wf;  // [kQ8Rows][cols]
    wf.resize(static_cast<size_t>(kQ8Rows * cols));
    const size_t rb = row_bytes(DType::Q8_0, cols);
    for (int64_t r = r0; r < r1; r += kQ8Rows) {
        const int64_t nr = std::min(kQ8Rows, r1 - r);
        for (int64_t i = 0; i < nr; ++i) dequant(static_cast<const uint8_t*>(W) + (r + i) * rb, cols, wf.data() + i * cols);
        f32(wf.data(), cols, 0, nr, X, n, Y + r, ldy);  // Y[t * ldy + r + i]
    }
}

uint64_t read_sum_scalar(const void* p, size_t bytes) {
    const uint64_t* u = static_cast<const uint64_t*>(p);
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= bytes / 8; i += 4) {
        a += u[i];
        b += u[i + 1];
        c += u[i + 2];
        d += u[i + 3];
    }
    return a + b + c + d;
}

}  // namespace detail

const char* simd_name(SimdLevel level) {
    switch (level) {
        case SimdLevel::Scalar: return "scalar";
        case SimdLevel::AVX2: return "avx2";
        case SimdLevel::AVX512: return "avx512";
        case SimdLevel::AVX512BF16: return "avx512bf16";
    }
    return "?";
}

SimdLevel simd_detected() {
    static const SimdLevel d = detect();
    return d;
}

SimdLevel simd_level() {
    int l = g_level.load(std::memory_order_relaxed);
    if (l < 0) {
        l = static_cast<int>(from_env(simd_detected()));
        g_level.store(l, std::memory_order_relaxed);
    }
    return static_cast<SimdLevel>(l);
}

void set_simd_level(SimdLevel level) { g_level.store(static_cast<int>(std::min(level, simd_detected()))); }

MatmulPrecision matmul_precision() {
    int p = g_precision.load(std::memory_order_relaxed);
    if (p < 0) {
        const char* e = std::getenv("MOESCOPE_FAST_BF16");
        p = (e && *e && std::strcmp(e, "0") != 0) ? 1 : 0;
        g_precision.store(p, std::memory_order_relaxed);
    }
    return static_cast<MatmulPrecision>(p);
}

void set_matmul_precision(MatmulPrecision p) { g_precision.store(static_cast<int>(p)); }

void matmul_batch(const MatTask* tasks, int n_tasks, ThreadPool* pool) {
    const SimdLevel level = simd_level();
    const RowsFn rows = rows_fn(level);
    const bool fast_ok = level == SimdLevel::AVX512BF16 && matmul_precision() == MatmulPrecision::FastBF16;
    // Q8_0 decode products: 8-bit activations and VNNI dot products on the top level (kernels_avx512vnni.cpp).
    const bool q8_vnni = level == SimdLevel::AVX512BF16 && detail::cpu_has_vnni();

    // Per task, how its activations are prepared (once, before the parallel part; tasks sharing the
    // same X, e.g. gate_proj and up_proj, share the prepared copy):
    //   Plain: used as given; Perm: BF16 weights on AVX-512, activations permuted even/odd;
    //   Fast: FastBF16 opt-in, activations rounded to bf16.
    //   Tok: FastBF16 with n >= 16 tokens and even cols: token-lane packed bf16 pairs (panel GEMM).
    enum Prep : uint8_t { Plain, Perm, Fast, Tok };
    std::vector<uint8_t> prep(static_cast<size_t>(n_tasks), Plain);
    std::vector<int64_t> off(static_cast<size_t>(n_tasks), -1);
    size_t f32_total = 0, bf16_total = 0, tok_total = 0;
    std::vector<std::pair<int, int64_t>> pack_jobs;  // (task, offset in t_xq) to pack below
    for (int k = 0; k < n_tasks; ++k) {
        const MatTask& t = tasks[k];
        if (t.wt != DType::BF16 || t.rows <= 0 || t.n <= 0 || level < SimdLevel::AVX512) continue;
        prep[k] = (fast_ok && t.n >= 16 && t.cols % 2 == 0) ? Tok : (fast_ok && t.n >= 2) ? Fast : Perm;
        for (int j = 0; j < k && off[k] < 0; ++j)
            if (prep[j] == prep[k] && tasks[j].X == t.X && tasks[j].n == t.n && tasks[j].cols == t.cols) off[k] = off[j];
        if (off[k] >= 0) continue;
        const int64_t ld = (t.cols + 31) / 32 * 32;
        if (prep[k] == Tok) {
            off[k] = static_cast<int64_t>(tok_total);
            tok_total += static_cast<size_t>((t.n + 15) / 16 * 16) * static_cast<size_t>(t.cols / 2);
            if (t_xq.size() < tok_total) t_xq.resize(tok_total);
            pack_jobs.push_back({k, off[k]});
            continue;
        }
        const size_t sz = static_cast<size_t>(t.n) * static_cast<size_t>(ld);
        size_t& total = prep[k] == Fast ? bf16_total : f32_total;
        off[k] = static_cast<int64_t>(total);
        total += sz;
        if (t_xp.size() < f32_total) t_xp.resize(f32_total);
        if (t_xb.size() < bf16_total) t_xb.resize(bf16_total);
        if (prep[k] == Fast) detail::to_bf16_avx512bf16(t.X, t.cols, 0, t.n, t_xb.data() + off[k], ld);
        else detail::perm_bf16_avx512(t.X, t.cols, 0, t.n, t_xp.data() + off[k], ld);
    }
    const float* xp = t_xp.data();
    const uint16_t* xb = t_xb.data();
    const uint32_t* xq = t_xq.data();

    // Small products run on the calling thread: waking the pool costs more than they do (and far more
    // when the machine is oversubscribed and a worker waits for a time slice).
    double work = 0;
    for (int k = 0; k < n_tasks; ++k)
        work += static_cast<double>(std::max<int64_t>(0, tasks[k].rows)) * static_cast<double>(std::max<int64_t>(0, tasks[k].n)) *
                static_cast<double>(tasks[k].cols);
    const int T = (pool && work >= static_cast<double>(kMinParallelMacs)) ? pool->size() : 1;

    // Token-lane packing (one pass over the activations), over blocks of 16 tokens, threaded when the
    // products are: on 2 threads it would otherwise be a serial part of every prefill product.
    for (const auto& pj : pack_jobs) {
        const MatTask& t = tasks[pj.first];
        uint32_t* dst = t_xq.data() + pj.second;
        const int64_t nb = (t.n + 15) / 16;
        if (T > 1 && nb > 1)
            pool->parallel_for(nb, [&](int64_t b0, int64_t b1, int) { detail::pack_tokens_bf16(t.X, t.cols, t.n, b0, b1, dst); });
        else detail::pack_tokens_bf16(t.X, t.cols, t.n, 0, nb, dst);
    }

    auto run_unit = [&](const Unit& u) {
        const MatTask& t = tasks[u.task];
        const int64_t ld = (t.cols + 31) / 32 * 32;
        switch (prep[u.task]) {
            case Tok:
                detail::rows_avx512bf16_tok(static_cast<const uint16_t*>(t.W), t.cols, u.r0, u.r1, xq + off[u.task], t.n,
                                            t.Y, t.rows);
                break;
            case Fast:
                detail::rows_avx512bf16_fast(static_cast<const uint16_t*>(t.W), t.cols, u.r0, u.r1, xb + off[u.task],
                                             ld, t.n, t.Y, t.rows);
                break;
            case Perm:
                detail::rows_avx512_bf16p(static_cast<const uint16_t*>(t.W), t.cols, u.r0, u.r1, xp + off[u.task], ld,
                                          t.n, t.Y, t.rows);
                break;
            default:
                if (q8_vnni && t.wt == DType::Q8_0 && t.n == 1)
                    detail::rows_q8_vnni(static_cast<const uint8_t*>(t.W), t.cols, u.r0, u.r1, t.X, t.Y);
                else rows(t.wt, t.W, t.cols, u.r0, u.r1, t.X, t.n, t.Y, t.rows);
        }
    };

    if (T <= 1) {
        for (int k = 0; k < n_tasks; ++k)
            if (tasks[k].rows > 0 && tasks[k].n > 0) run_unit(Unit{k, 0, tasks[k].rows});
        return;
    }
    // Split into row blocks of roughly equal work (~128K multiply-adds, whole SIMD tiles) that the
    // pool's threads claim one by one: a thread the OS has not scheduled yet never holds the others up.
    // Which thread computes a block does not change its values (see kernels.h "Determinism").
    std::vector<Unit> units;
    units.reserve(64);
    for (int k = 0; k < n_tasks; ++k) {
        const MatTask& t = tasks[k];
        if (t.rows <= 0 || t.n <= 0) continue;
        const double per_row = static_cast<double>(t.n) * static_cast<double>(t.cols + 16);
        int64_t block = static_cast<int64_t>(131072.0 / per_row) / kRowBlock * kRowBlock;
        // A block writes rows [r0, r1) of every token's output row: with 16-row blocks each 64-byte line of
        // Y is shared by two blocks (Y is not line-aligned), which ping-pong between the threads (false
        // sharing: -12% on 2-thread prefill). Multi-token blocks are at least kMinTokRows rows:
        // a quarter of the lines at most are then shared (aligning the boundaries to Y's lines measured no better).
        const int64_t lo = t.n >= 16 ? kMinTokRows : kRowBlock;
        block = std::clamp<int64_t>(block, lo, std::max<int64_t>(lo, 32 * kRowBlock));
        for (int64_t r = 0; r < t.rows; r += block) units.push_back(Unit{k, r, std::min(t.rows, r + block)});
    }
    pool->for_each_chunk(static_cast<int64_t>(units.size()),
                         [&](int64_t u, int) { run_unit(units[static_cast<size_t>(u)]); });
}

void matvec(DType wt, const void* W, int64_t rows, int64_t cols, const float* x, float* y, ThreadPool* pool) {
    const MatTask t{wt, W, rows, cols, x, 1, y};
    matmul_batch(&t, 1, pool);
}

void matmul(DType wt, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y,
            ThreadPool* pool) {
    const MatTask t{wt, W, rows, cols, X, n, Y};
    matmul_batch(&t, 1, pool);
}

float dot_f32(const float* a, const float* b, int64_t n) {
    switch (simd_level()) {
        case SimdLevel::AVX512BF16:
        case SimdLevel::AVX512: return detail::dot_avx512(a, b, n);
        case SimdLevel::AVX2: return detail::dot_avx2(a, b, n);
        case SimdLevel::Scalar: break;
    }
    float acc = 0.0f;
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
    return acc;
}

void axpy_f32(int64_t n, float a, const float* x, float* y) {
    switch (simd_level()) {
        case SimdLevel::AVX512BF16:
        case SimdLevel::AVX512: return detail::axpy_avx512(n, a, x, y);
        case SimdLevel::AVX2: return detail::axpy_avx2(n, a, x, y);
        case SimdLevel::Scalar: break;
    }
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void dot_rows_f32(const float* q, const float* K, int64_t ld, int64_t m, int64_t d, float* s) {
    if (simd_level() >= SimdLevel::AVX512) return detail::dot_rows_avx512(q, K, ld, m, d, s);
    for (int64_t j = 0; j < m; ++j) s[j] = dot_f32(q, K + j * ld, d);
}

void weighted_rows_f32(const float* p, const float* V, int64_t ld, int64_t m, int64_t d, float* o) {
    if (simd_level() >= SimdLevel::AVX512) return detail::weighted_rows_avx512(p, V, ld, m, d, o);
    std::fill(o, o + d, 0.0f);
    for (int64_t j = 0; j < m; ++j) axpy_f32(d, p[j], V + j * ld, o);
}

void dot_rows_bf16(const float* q, const uint16_t* K, int64_t ld, int64_t m, int64_t d, float* s) {
    if (simd_level() >= SimdLevel::AVX512) return detail::dot_rows_avx512_bf16kv(q, K, ld, m, d, s);
    for (int64_t j = 0; j < m; ++j) {
        const uint16_t* k = K + j * ld;
        float acc = 0.0f;
        for (int64_t i = 0; i < d; ++i) acc += q[i] * bf16_to_f32(k[i]);
        s[j] = acc;
    }
}

void weighted_rows_bf16(const float* p, const uint16_t* V, int64_t ld, int64_t m, int64_t d, float* o) {
    if (simd_level() >= SimdLevel::AVX512) return detail::weighted_rows_avx512_bf16kv(p, V, ld, m, d, o);
    std::fill(o, o + d, 0.0f);
    for (int64_t j = 0; j < m; ++j) {
        const uint16_t* v = V + j * ld;
        for (int64_t i = 0; i < d; ++i) o[i] += p[j] * bf16_to_f32(v[i]);
    }
}

PeakSample measure_peak_gflops(ThreadPool* pool) {
    PeakSample out;
    out.threads = pool ? pool->size() : 1;
    const SimdLevel level = simd_level();
    constexpr int64_t kIters = 1 << 23;  // ~100M instructions per thread, ~30 ms
    // Each thread times its own loop in thread CPU time (CLOCK_THREAD_CPUTIME_ID), so time slices lost
    // to other processes on a busy machine do not lower the figure: it is the cores' peak, summed.
    auto best = [&](double (*loop)(int64_t), double flops_per_iter) {
        std::vector<double> sink(static_cast<size_t>(out.threads), 0), rate(static_cast<size_t>(out.threads), 0);
        for (int rep = 0; rep < 5; ++rep) {
            auto body = [&](int64_t b, int64_t e, int) {
                for (int64_t j = b; j < e; ++j) {
                    timespec t0{}, t1{};
                    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
                    sink[static_cast<size_t>(j)] += loop(kIters);
                    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
                    const double s = static_cast<double>(t1.tv_sec - t0.tv_sec) + 1e-9 * static_cast<double>(t1.tv_nsec - t0.tv_nsec);
                    if (s > 0) rate[static_cast<size_t>(j)] = std::max(rate[static_cast<size_t>(j)], flops_per_iter * kIters / s / 1e9);
                }
            };
            if (pool) pool->parallel_for(out.threads, body, 1);
            else body(0, 1, 0);
        }
        volatile double keep = 0;
        for (double v : sink) keep = keep + v;
        (void)keep;
        double total = 0;
        for (double r : rate) total += r;
        return total;
    };
    if (level >= SimdLevel::AVX512) out.fp32_gflops = best(detail::peak_loop_avx512, 12.0 * 16 * 2);
    if (level >= SimdLevel::AVX512BF16) out.bf16_gflops = best(detail::peak_loop_avx512bf16, 12.0 * 32 * 2);
    return out;
}

BandwidthSample measure_read_bandwidth(ThreadPool* pool, size_t bytes, int repeats) {
    const int T = pool ? pool->size() : 1;
    const size_t share = std::max<size_t>(256, bytes / static_cast<size_t>(T) / 4096 * 4096);
    bytes = share * static_cast<size_t>(T);
    repeats = std::max(1, repeats);
    struct Free {
        void operator()(char* p) const { ::operator delete[](p, std::align_val_t(4096)); }
    };
    std::unique_ptr<char[], Free> buf(static_cast<char*>(::operator new[](bytes, std::align_val_t(4096))));
    const SimdLevel level = simd_level();
    auto read = [&](const void* p, size_t n) -> uint64_t {
        switch (level) {
            case SimdLevel::AVX512BF16:
            case SimdLevel::AVX512: return detail::read_sum_avx512(p, n);
            case SimdLevel::AVX2: return detail::read_sum_avx2(p, n);
            case SimdLevel::Scalar: break;
        }
        return detail::read_sum_scalar(p, n);
    };
    std::vector<uint64_t> sink(static_cast<size_t>(T), 0);
    auto pass = [&](bool write) {
        auto body = [&](int64_t b, int64_t e, int) {
            for (int64_t j = b; j < e; ++j) {
                char* p = buf.get() + static_cast<size_t>(j) * share;
                // First touch from the thread that reads it later (page placement).
                if (write) std::memset(p, static_cast<int>(j + 1), share);
                sink[static_cast<size_t>(j)] += read(p, share);
            }
        };
        if (pool) pool->parallel_for(T, body, 1);
        else body(0, 1, 0);
    };
    pass(true);
    std::vector<double> gbps;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        pass(false);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        gbps.push_back(static_cast<double>(bytes) / s / 1e9);
    }
    volatile uint64_t keep = 0;
    for (uint64_t v : sink) keep = keep + v;
    (void)keep;
    std::sort(gbps.begin(), gbps.end());
    BandwidthSample out;
    out.repeats = repeats;
    out.bytes = bytes;
    out.threads = T;
    out.gbps_min = gbps.front();
    out.gbps_max = gbps.back();
    out.gbps_median = gbps.size() % 2 ? gbps[gbps.size() / 2] : 0.5 * (gbps[gbps.size() / 2 - 1] + gbps[gbps.size() / 2]);
    return out;
}

}  // namespace moescope::cpu
