#include "engine/cuda/residual.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

namespace {
__global__ void residual_kernel(float* x, const float* y, int64_t n, int width, const float* gate_logit) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id >= n) return;
    const float g = gate_logit ? cudamath::sigmoidf_(gate_logit[id / width]) : 1.0f;
    x[id] += g * y[id];
}
__global__ void bias_kernel(float* y, const float* b, int64_t n, int width) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id < n) y[id] += b[id % width];
}
}  // namespace

void residual_add(float* x, const float* y, int64_t n_tok, int width, const float* gate_logit, cudaStream_t stream) {
    const int64_t n = n_tok * width;
    if (n <= 0) return;
    residual_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, y, n, width, gate_logit);
    CUDA_CHECK_LAUNCH("residual_add");
}

void add_bias(float* y, const float* b, int64_t n_tok, int width, cudaStream_t stream) {
    const int64_t n = n_tok * width;
    if (n <= 0) return;
    bias_kernel<<<grid_for(n, 256), 256, 0, stream>>>(y, b, n, width);
    CUDA_CHECK_LAUNCH("add_bias");
}

}  // namespace moescope::gpu

namespace moescope::gpu {
namespace {
__global__ void clamp_kernel(float* x, int64_t n, int width, int64_t tok_stride, float limit) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id >= n) return;
    float* v = x + (id / width) * tok_stride + id % width;
    *v = fminf(fmaxf(*v, -limit), limit);
}
}  // namespace

void clamp_rows(float* x, int64_t n_tok, int width, int64_t tok_stride, float limit, cudaStream_t stream) {
    const int64_t n = n_tok * width;
    if (n <= 0) return;
    clamp_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, n, width, tok_stride, limit);
    CUDA_CHECK_LAUNCH("clamp_rows");
}
}  // namespace moescope::gpu
