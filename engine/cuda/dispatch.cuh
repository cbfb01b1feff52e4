#pragma once
// The one dispatcher: picks the kernel for each projection and for the expert computation from the
// precision mode and the shape, and owns the stream, the cuBLAS handle and the reusable scratch.
//   linear():  n <= kGemvMaxRows -> gemv_bf16 (both modes: decode is bandwidth-bound, FP32 math)
//              FP32 mode        -> gemm_bf16w_f32 (exact FP32)
//              BF16 mode        -> activations to BF16, cublasGemmEx (FP32 accumulate)
//   experts(): n_slots <= kGemvMaxSlots -> moe_gemv_ids (no bucketing, no host sync)
//              FP32 mode -> bucket + grouped FP32 GEMM, all on the device (no host sync)
//              BF16 mode -> bucket, one host sync for the expert offsets, one cuBLAS GEMM per
//                           active expert
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_weights.cuh"

namespace moescope::gpu {

constexpr int64_t kGemvMaxRows = 8;
constexpr int64_t kGemvMaxSlots = 32;

struct ExpertOutputs {
    const float* y = nullptr;          // per-row expert outputs (before weighting) [rows][H]
    const int32_t* slot_row = nullptr; // row of slot s, or null when rows are in slot order
};

class Dispatcher {
public:
    Dispatcher();
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    cudaStream_t stream() const { return stream_; }
    void set_precision(Precision p) { precision_ = p; }
    Precision precision() const { return precision_; }

    // Y[n][rows] = X[n][cols] · Wᵀ (+ bias[rows]).
    void linear(const DevMat& W, const float* X, int64_t n, float* Y, const float* bias = nullptr);
    // Always FP32 math (router logits are compared exactly against the oracle in every mode).
    void linear_fp32(const DevMat& W, const float* X, int64_t n, float* Y);
    // The routed experts of one MoE layer for n_tok tokens with k slots each (ids [n_tok][k], -1 unused).
    ExpertOutputs experts(const DevLayer& L, const float* xn, int n_tok, int k, const int32_t* ids);

private:
    void gemm_bf16_rows(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y);
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    Precision precision_ = Precision::BF16;
    DeviceBuffer xbf16_;  // BF16 activations for cuBLAS
    DeviceBuffer counts_, cursor_, offsets_, tile_expert_, sorted_slot_, slot_row_;
    DeviceBuffer xs_, gu_, h_, y_;
    PinnedBuffer host_offsets_;
};

}  // namespace moescope::gpu
