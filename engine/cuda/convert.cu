#include "engine/cuda/convert.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

namespace {
__global__ void to_bf16_kernel(const float* x, uint16_t* y, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) y[i] = cudamath::f32_to_bf16(x[i]);
}
__global__ void to_f32_kernel(const uint16_t* x, float* y, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) y[i] = cudamath::bf16_to_f32(x[i]);
}
}  // namespace

void f32_to_bf16(const float* x, uint16_t* y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    to_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, y, n);
    CUDA_CHECK_LAUNCH("f32_to_bf16");
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    to_f32_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, y, n);
    CUDA_CHECK_LAUNCH("bf16_to_f32");
}

}  // namespace moescope::gpu
