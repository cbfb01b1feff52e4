#include "engine/cuda/rmsnorm.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"
#include "engine/cuda/reduce.cuh"

namespace moescope::gpu {

namespace {
// One block per (token, group).
__global__ void rmsnorm_kernel(const float* x, int64_t xs, float* y, int64_t ys, int groups, int width,
                               const float* w, float eps) {
    const int t = blockIdx.x / groups, g = blockIdx.x % groups;
    const float* xr = x + t * xs + int64_t(g) * width;
    float* yr = y + t * ys + int64_t(g) * width;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss);
    const float inv = cudamath::rms_inv(ss, width, eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x) yr[i] = cudamath::rms_apply(xr[i], inv, w[i]);
}
}  // namespace

void rmsnorm(const float* x, int64_t x_tok_stride, float* y, int64_t y_tok_stride, int n_tok, int groups, int width,
             const float* w, float eps, cudaStream_t stream) {
    if (n_tok <= 0 || groups <= 0) return;
    const int block = width >= 1024 ? 256 : (width >= 256 ? 128 : 32);
    rmsnorm_kernel<<<unsigned(n_tok) * groups, block, 0, stream>>>(x, x_tok_stride, y, y_tok_stride, groups, width, w,
                                                                    eps);
    CUDA_CHECK_LAUNCH("rmsnorm");
}

}  // namespace moescope::gpu
