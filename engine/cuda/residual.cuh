#pragma once
// Residual stream updates: x[t][c] += g_t * y[t][c], where g_t = 1, or sigmoid(gate_logit[t]) for
// Qwen2-MoE's gated shared expert (sigmoid(shared_expert_gate(x)) * shared_expert(x)).
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void residual_add(float* x, const float* y, int64_t n_tok, int width, const float* gate_logit, cudaStream_t stream);
// y[t][c] += b[c] (projection biases).
void add_bias(float* y, const float* b, int64_t n_tok, int width, cudaStream_t stream);

}  // namespace moescope::gpu

namespace moescope::gpu {
// x[t][c] = clamp(x[t][c], -limit, limit) for c < width, rows at tok_stride (OLMoE clip_qkv).
void clamp_rows(float* x, int64_t n_tok, int width, int64_t tok_stride, float limit, cudaStream_t stream);
}  // namespace moescope::gpu
