#pragma once
// The 32x32 FP32 tile of Y = X · Wᵀ (W BF16 [rows][cols], widened exactly), shared by the dense
// FP32 GEMM (gemm.cu) and the expert-grouped GEMM (moe.cu). Block: 256 threads (32 x 8).
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

constexpr int kTile = 32;
constexpr int kTileK = 32;
constexpr int kTileThreads = kTile * 8;

// Computes rows [n0, n0+32) of X (n rows valid) against weight rows [r0, r0+32).
__device__ __forceinline__ void tile_gemm_f32(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n,
                                              float* Y, int64_t n0, int64_t r0) {
    __shared__ float xs[kTile][kTileK + 1];
    __shared__ float ws[kTile][kTileK + 1];
    const int tx = threadIdx.x % kTile, ty = threadIdx.x / kTile;
    float acc[4] = {0, 0, 0, 0};
    for (int64_t k0 = 0; k0 < cols; k0 += kTileK) {
        for (int i = ty; i < kTile; i += 8) {
            const int64_t kk = k0 + tx;
            xs[i][tx] = (n0 + i < n && kk < cols) ? X[(n0 + i) * cols + kk] : 0.0f;
            ws[i][tx] = (r0 + i < rows && kk < cols) ? cudamath::bf16_to_f32(W[(r0 + i) * cols + kk]) : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < kTileK; ++kk) {
            const float w = ws[tx][kk];
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[j] += xs[ty + 8 * j][kk] * w;
        }
        __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const int64_t i = n0 + ty + 8 * j, r = r0 + tx;
        if (i < n && r < rows) Y[i * rows + r] = acc[j];
    }
}

}  // namespace moescope::gpu
