#include "engine/cuda/router.cuh"

#include "engine/cuda/common.cuh"

namespace moescope::gpu {

namespace {
// Routing is a few hundred scalar operations per token next to the expert GEMMs, so one thread per
// token (scratch in shared memory) keeps the kernel identical to the CPU-tested code.
__global__ void route_kernel(const float* logits, const float* e_bias, cudamath::RouteParams p,
                             RouterEditsDevice ed, int32_t* ids, float* weights, int n_tok) {
    extern __shared__ float sh[];
    const int t = blockIdx.x;
    if (t >= n_tok || threadIdx.x != 0) return;
    const int E = p.n_experts;
    float* score = sh;
    float* choice = sh + E;
    int32_t* tid = ids + int64_t(t) * p.k;
    float* tw = weights + int64_t(t) * p.k;
    cudamath::RouteEdits e{ed.disabled, ed.logit_bias, ed.forced, ed.n_forced};
    const int n = cudamath::route_token(p, logits + int64_t(t) * E, e_bias, e, score, choice, tid, tw);
    for (int i = n; i < p.k; ++i) {
        tid[i] = -1;
        tw[i] = 0.0f;
    }
}
}  // namespace

void route(const float* logits, const float* e_bias, const cudamath::RouteParams& p, const RouterEditsDevice& ed,
           int32_t* ids, float* weights, int n_tok, cudaStream_t stream) {
    if (n_tok <= 0 || p.k <= 0) return;
    const size_t smem = sizeof(float) * 2 * size_t(p.n_experts);
    route_kernel<<<unsigned(n_tok), 32, smem, stream>>>(logits, e_bias, p, ed, ids, weights, n_tok);
    CUDA_CHECK_LAUNCH("route");
}

}  // namespace moescope::gpu
