#pragma once
// Linear-algebra kernels of the CPU backend. Weights stay in their storage dtype (BF16/F16/F32) and are
// widened in registers; activations and accumulation are float32. Every entry point dispatches at run
// time to the best SIMD path the CPU offers (see simd_level()); MOESCOPE_SIMD=scalar|avx2|avx512|
// avx512bf16 forces one (tests use it). The scalar path is the reference the others are tested against.
#include <cstdint>
#include <string>

#include "engine/dtype.h"

namespace moescope::cpu {

class ThreadPool;

enum class SimdLevel : int { Scalar = 0, AVX2 = 1, AVX512 = 2, AVX512BF16 = 3 };
const char* simd_name(SimdLevel level);
SimdLevel simd_detected();          // what this CPU supports
SimdLevel simd_level();             // what the kernels use now (env override, else detected)
void set_simd_level(SimdLevel level);  // clamps to simd_detected()

// Matrix-vector product for decode.
//   W: [rows][cols] row-major in dtype wt (an nn.Linear weight: out_features x in_features)
//   x: [cols] float32, y: [rows] float32
//   y[r] = sum_c W[r][c] * x[c]        (threaded over rows when pool != nullptr)
void matvec(DType wt, const void* W, int64_t rows, int64_t cols, const float* x, float* y, ThreadPool* pool);

// Matrix product for prefill / gathered expert tokens.
//   W: [rows][cols] in dtype wt, X: [n][cols] float32, Y: [n][rows] float32
//   Y[i][r] = sum_c W[r][c] * X[i][c]   (Y = X · Wᵀ)
void matmul(DType wt, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y,
            ThreadPool* pool);

// Dot product of float32 vectors of length n (attention scores).
float dot_f32(const float* a, const float* b, int64_t n);
// y[i] += a * x[i] (attention value accumulation).
void axpy_f32(int64_t n, float a, const float* x, float* y);

}  // namespace moescope::cpu
