#include "engine/cuda/gemm.cuh"

#include <cuda_bf16.h>

#include "engine/cuda/common.cuh"
#include "engine/cuda/gemm_tile.cuh"
#include "engine/cuda/ops_math.h"
#include "engine/cuda/reduce.cuh"

namespace moescope::gpu {

namespace {
constexpr int kGemvWarps = 8;
constexpr int kGemvMaxN = 8;  // tokens per GEMV launch; more are looped on the host side

// One warp per output row r; each lane reads 8 BF16 weights (16 bytes) at a time when the row is
// 16-byte aligned, and reuses them for up to kGemvMaxN activation rows.
__global__ void gemv_kernel(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int n, float* Y) {
    const int lane = threadIdx.x & 31;
    const int64_t r = int64_t(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
    if (r >= rows) return;
    const uint16_t* wr = W + r * cols;
    float acc[kGemvMaxN];
#pragma unroll
    for (int i = 0; i < kGemvMaxN; ++i) acc[i] = 0.0f;
    const bool vec = (cols % 8 == 0) && ((reinterpret_cast<uintptr_t>(wr) & 15) == 0);
    if (vec) {
        for (int64_t c = int64_t(lane) * 8; c < cols; c += 32 * 8) {
            const uint4 raw = *reinterpret_cast<const uint4*>(wr + c);
            const uint32_t wv[4] = {raw.x, raw.y, raw.z, raw.w};
            float wf[8];
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                wf[2 * j] = cudamath::bf16_to_f32(uint16_t(wv[j] & 0xffffu));
                wf[2 * j + 1] = cudamath::bf16_to_f32(uint16_t(wv[j] >> 16));
            }
#pragma unroll
            for (int i = 0; i < kGemvMaxN; ++i) {
                if (i < n) {
                    const float* x = X + int64_t(i) * cols + c;
#pragma unroll
                    for (int j = 0; j < 8; ++j) acc[i] += wf[j] * x[j];
                }
            }
        }
    } else {
        for (int64_t c = lane; c < cols; c += 32) {
            const float w = cudamath::bf16_to_f32(wr[c]);
#pragma unroll
            for (int i = 0; i < kGemvMaxN; ++i)
                if (i < n) acc[i] += w * X[int64_t(i) * cols + c];
        }
    }
#pragma unroll
    for (int i = 0; i < kGemvMaxN; ++i) {
        if (i < n) {
            const float s = warp_sum(acc[i]);
            if (lane == 0) Y[int64_t(i) * rows + r] = s;
        }
    }
}

__global__ void gemm_f32_kernel(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y) {
    tile_gemm_f32(W, rows, cols, X, n, Y, int64_t(blockIdx.y) * kTile, int64_t(blockIdx.x) * kTile);
}
}  // namespace

void gemv_bf16(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y,
               cudaStream_t stream) {
    for (int64_t i0 = 0; i0 < n; i0 += kGemvMaxN) {
        const int nn = int(n - i0 < kGemvMaxN ? n - i0 : kGemvMaxN);
        gemv_kernel<<<grid_for(rows, kGemvWarps), 32 * kGemvWarps, 0, stream>>>(W, rows, cols, X + i0 * cols, nn,
                                                                               Y + i0 * rows);
        CUDA_CHECK_LAUNCH("gemv_bf16");
    }
}

void gemm_bf16w_f32(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y,
                    cudaStream_t stream) {
    if (n <= 0 || rows <= 0) return;
    dim3 grid(grid_for(rows, kTile), grid_for(n, kTile));
    gemm_f32_kernel<<<grid, kTileThreads, 0, stream>>>(W, rows, cols, X, n, Y);
    CUDA_CHECK_LAUNCH("gemm_bf16w_f32");
}

void gemm_cublas_bf16(cublasHandle_t h, const uint16_t* W, int64_t rows, int64_t cols, const uint16_t* Xb, int64_t n,
                      float* Y) {
    if (n <= 0 || rows <= 0) return;
    // Row-major Y[n][rows] is column-major Yᵀ [rows][n] = W · Xᵀ: W (row-major [rows][cols]) is a
    // column-major [cols][rows] matrix used transposed; X row-major [n][cols] is column-major [cols][n].
    const float alpha = 1.0f, beta = 0.0f;
    CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), int(n), int(cols), &alpha, W, CUDA_R_16BF,
                              int(cols), Xb, CUDA_R_16BF, int(cols), &beta, Y, CUDA_R_32F, int(rows),
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace moescope::gpu
