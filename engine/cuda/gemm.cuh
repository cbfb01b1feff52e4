#pragma once
// Projections Y[n][rows] = X[n][cols] · Wᵀ with W an nn.Linear weight [rows][cols] stored as BF16 on
// the device. Three kernels, picked by the dispatcher (dispatch.cuh):
//  - gemv_bf16: n small (decode), one warp per output row, FP32 accumulate, 16-byte weight loads;
//  - gemm_bf16w_f32: exact FP32 compute (BF16 widened exactly, FP32 activations), tiled; the
//    faithfulness mode that matches the CPU oracle;
//  - cuBLAS cublasGemmEx BF16 x BF16 -> FP32 with CUBLAS_COMPUTE_32F (tensor cores), BF16 mode.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void gemv_bf16(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y, cudaStream_t stream);
void gemm_bf16w_f32(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y,
                    cudaStream_t stream);
// Xb: activations already converted to BF16 [n][cols].
void gemm_cublas_bf16(cublasHandle_t h, const uint16_t* W, int64_t rows, int64_t cols, const uint16_t* Xb, int64_t n,
                      float* Y);

}  // namespace moescope::gpu
