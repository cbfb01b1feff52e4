#include "engine/cuda/attention.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"
#include "engine/cuda/reduce.cuh"

namespace moescope::gpu {

namespace {
constexpr int kWarps = 4;
constexpr int kPerLane = kMaxAttnDv / 32;

// One block per (head, token); each warp walks keys j = warp, warp + kWarps, ... keeping its own
// online-softmax state and a slice of the value accumulator per lane; the warps' states are then
// merged (softmax_merge), exactly the accumulation checked on the CPU in test_cuda_math.
__global__ void attention_kernel(const float* q, int64_t q_tok_stride, const float* kc, const float* vc, float* out,
                                 int64_t out_tok_stride, int64_t pos0, int n_heads, int n_kv, int dk, int dv,
                                 float scale, float* sink_mass) {
    extern __shared__ float smem[];
    float* qs = smem;                       // [dk]
    float* wm = qs + dk;                    // [kWarps] m
    float* wl = wm + kWarps;                // [kWarps] l
    float* wacc = wl + kWarps;              // [kWarps][dv]
    __shared__ float s0;
    const int h = blockIdx.x, t = blockIdx.y;
    const int kvh = h / (n_heads / n_kv);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float* qh = q + t * q_tok_stride + int64_t(h) * dk;
    for (int i = threadIdx.x; i < dk; i += blockDim.x) qs[i] = qh[i];
    __syncthreads();
    const int64_t n_keys = pos0 + t + 1;
    cudamath::SoftmaxState st = cudamath::softmax_empty();
    float acc[kPerLane];
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) acc[i] = 0.0f;
    for (int64_t j = warp; j < n_keys; j += kWarps) {
        const float* kr = kc + (j * n_kv + kvh) * dk;
        float d = 0.0f;
        for (int i = lane; i < dk; i += 32) d += qs[i] * kr[i];
        const float s = warp_sum(d) * scale;
        if (j == 0 && lane == 0) s0 = s;
        float alpha, p;
        cudamath::softmax_push(&st, s, &alpha, &p);
        const float* vr = vc + (j * n_kv + kvh) * dv;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
            const int c = lane + 32 * i;
            if (c < dv) acc[i] = acc[i] * alpha + p * vr[c];
        }
    }
    if (lane == 0) {
        wm[warp] = st.m;
        wl[warp] = st.l;
    }
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
        const int c = lane + 32 * i;
        if (c < dv) wacc[warp * dv + c] = acc[i];
    }
    __syncthreads();
    // Merge the warps' partial results in a fixed order (deterministic).
    cudamath::SoftmaxState tot = cudamath::softmax_empty();
    float f[kWarps];
    for (int w = 0; w < kWarps; ++w) {
        float fa, fb;
        cudamath::softmax_merge(&tot, cudamath::SoftmaxState{wm[w], wl[w]}, &fa, &fb);
        for (int u = 0; u < w; ++u) f[u] *= fa;
        f[w] = fb;
    }
    float* o = out + t * out_tok_stride + int64_t(h) * dv;
    for (int c = threadIdx.x; c < dv; c += blockDim.x) {
        float v = 0.0f;
        for (int w = 0; w < kWarps; ++w) v += f[w] * wacc[w * dv + c];
        o[c] = v / tot.l;
    }
    if (sink_mass && threadIdx.x == 0) sink_mass[int64_t(t) * n_heads + h] = expf(s0 - tot.m) / tot.l;
}
}  // namespace

void attention(const float* q, int64_t q_tok_stride, const float* kc, const float* vc, float* out,
               int64_t out_tok_stride, int n_tok, int64_t pos0, int n_heads, int n_kv, int dk, int dv, float scale,
               float* sink_mass, cudaStream_t stream) {
    if (n_tok <= 0) return;
    if (dv > kMaxAttnDv) throw Error("CUDA attention: value head width " + std::to_string(dv) + " exceeds " +
                                     std::to_string(kMaxAttnDv));
    if (n_kv <= 0 || n_heads % n_kv != 0) throw Error("CUDA attention: heads not a multiple of kv heads");
    const size_t smem = sizeof(float) * (size_t(dk) + 2 * kWarps + size_t(kWarps) * dv);
    const dim3 grid{unsigned(n_heads), unsigned(n_tok)};
    attention_kernel<<<grid, 32 * kWarps, smem, stream>>>(q, q_tok_stride, kc, vc, out, out_tok_stride, pos0, n_heads,
                                                           n_kv, dk, dv, scale, sink_mass);
    CUDA_CHECK_LAUNCH("attention");
}

}  // namespace moescope::gpu
