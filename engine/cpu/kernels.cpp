// Reference (scalar) kernels and run-time dispatch. SIMD variants live in kernels_<isa>.cpp files and
// register through the dispatch table below; until a faster path exists the scalar one serves.
#include "engine/cpu/kernels.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/cpu/thread_pool.h"

namespace moescope::cpu {

namespace {

std::atomic<int> g_level{-1};

SimdLevel detect() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        if (__builtin_cpu_supports("avx512bf16")) return SimdLevel::AVX512BF16;
        return SimdLevel::AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::AVX2;
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

// Row dot product of one weight row (any dtype) with a float32 vector, in plain float32 arithmetic.
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
    }
    return acc;
}

}  // namespace

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

void matvec(DType wt, const void* W, int64_t rows, int64_t cols, const float* x, float* y, ThreadPool* pool) {
    const size_t row_bytes = static_cast<size_t>(cols) * dtype_size(wt);
    auto body = [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r)
            y[r] = row_dot_scalar(wt, static_cast<const char*>(W) + r * row_bytes, x, cols);
    };
    if (pool) pool->parallel_for(rows, body, 16);
    else body(0, rows, 0);
}

void matmul(DType wt, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y,
            ThreadPool* pool) {
    const size_t row_bytes = static_cast<size_t>(cols) * dtype_size(wt);
    auto body = [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) {
            const void* row = static_cast<const char*>(W) + r * row_bytes;
            for (int64_t i = 0; i < n; ++i) Y[i * rows + r] = row_dot_scalar(wt, row, X + i * cols, cols);
        }
    };
    if (pool) pool->parallel_for(rows, body, 16);
    else body(0, rows, 0);
}

float dot_f32(const float* a, const float* b, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
    return acc;
}

void axpy_f32(int64_t n, float a, const float* x, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace moescope::cpu
