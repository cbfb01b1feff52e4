#include "engine/cuda/kv_cache.cuh"

#include "engine/cuda/common.cuh"

namespace moescope::gpu {

namespace {
__global__ void kv_store_kernel(const float* src, int64_t src_stride, int k_off, int v_off, float* kc, float* vc,
                                int n_tok, int64_t pos0, int n_kv, int dk, int dv) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int width = n_kv * (dk + dv);
    if (id >= int64_t(n_tok) * width) return;
    const int t = int(id / width), c = int(id % width);
    const float* row = src + t * src_stride;
    if (c < n_kv * dk) kc[(pos0 + t) * n_kv * dk + c] = row[k_off + c];
    else vc[(pos0 + t) * n_kv * dv + (c - n_kv * dk)] = row[v_off + (c - n_kv * dk)];
}

__global__ void mla_kv_store_kernel(const float* kv, const float* k_rot, int64_t k_rot_stride, float* kc, float* vc,
                                    int n_tok, int64_t pos0, int n_heads, int nope, int rope_dim, int dv) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int dk = nope + rope_dim;
    const int per_head = dk + dv;
    if (id >= int64_t(n_tok) * n_heads * per_head) return;
    const int c = int(id % per_head);
    const int h = int((id / per_head) % n_heads);
    const int t = int(id / (int64_t(per_head) * n_heads));
    const float* src = kv + (int64_t(t) * n_heads + h) * (nope + dv);
    const int64_t p = pos0 + t;
    if (c < nope) kc[(p * n_heads + h) * dk + c] = src[c];
    else if (c < dk) kc[(p * n_heads + h) * dk + c] = k_rot[t * k_rot_stride + (c - nope)];
    else vc[(p * n_heads + h) * dv + (c - dk)] = src[nope + (c - dk)];
}
}  // namespace

void kv_store(const float* src, int64_t src_stride, int k_off, int v_off, float* kc, float* vc, int n_tok,
              int64_t pos0, int n_kv, int dk, int dv, cudaStream_t stream) {
    const int64_t n = int64_t(n_tok) * n_kv * (dk + dv);
    if (n <= 0) return;
    kv_store_kernel<<<grid_for(n, 256), 256, 0, stream>>>(src, src_stride, k_off, v_off, kc, vc, n_tok, pos0, n_kv,
                                                          dk, dv);
    CUDA_CHECK_LAUNCH("kv_store");
}

void mla_kv_store(const float* kv, const float* k_rot, int64_t k_rot_stride, float* kc, float* vc, int n_tok,
                  int64_t pos0, int n_heads, int nope, int rope_dim, int dv, cudaStream_t stream) {
    const int64_t n = int64_t(n_tok) * n_heads * (nope + rope_dim + dv);
    if (n <= 0) return;
    mla_kv_store_kernel<<<grid_for(n, 256), 256, 0, stream>>>(kv, k_rot, k_rot_stride, kc, vc, n_tok, pos0, n_heads,
                                                              nope, rope_dim, dv);
    CUDA_CHECK_LAUNCH("mla_kv_store");
}

}  // namespace moescope::gpu
