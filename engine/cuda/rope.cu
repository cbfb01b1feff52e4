#include "engine/cuda/rope.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

namespace {
// One thread per (token, head, pair).
__global__ void rope_kernel(float* x, int n_tok, int n_heads, int64_t tok_stride, int head_stride, int rot_offset,
                            int rot_dim, int64_t pos0, float theta, bool interleaved) {
    const int half = rot_dim / 2;
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id >= int64_t(n_tok) * n_heads * half) return;
    const int i = int(id % half);
    const int h = int((id / half) % n_heads);
    const int t = int(id / (int64_t(half) * n_heads));
    float* v = x + t * tok_stride + int64_t(h) * head_stride + rot_offset;
    int a, b;
    cudamath::rope_pair(i, rot_dim, interleaved, &a, &b);
    const float ang = cudamath::rope_angle(pos0 + t, i, rot_dim, theta);
    float ya, yb;
    cudamath::rope_rotate(v[a], v[b], cosf(ang), sinf(ang), &ya, &yb);
    v[a] = ya;
    v[b] = yb;
}
}  // namespace

void rope(float* x, int n_tok, int n_heads, int64_t tok_stride, int head_stride, int rot_offset, int rot_dim,
          int64_t pos0, float theta, bool interleaved, cudaStream_t stream) {
    const int64_t n = int64_t(n_tok) * n_heads * (rot_dim / 2);
    if (n <= 0) return;
    rope_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, n_tok, n_heads, tok_stride, head_stride, rot_offset,
                                                      rot_dim, pos0, theta, interleaved);
    CUDA_CHECK_LAUNCH("rope");
}

}  // namespace moescope::gpu
