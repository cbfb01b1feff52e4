#pragma once
// float32 <-> BF16 (round to nearest even), for BF16-compute GEMM inputs.
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void f32_to_bf16(const float* x, uint16_t* y, int64_t n, cudaStream_t stream);
void bf16_to_f32(const uint16_t* x, float* y, int64_t n, cudaStream_t stream);

}  // namespace moescope::gpu
