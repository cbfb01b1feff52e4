#pragma once
// Causal scaled-dot-product attention over the KV cache, for prefill (n_tok > 1) and decode
// (n_tok = 1) alike: query t (absolute position pos0 + t) attends keys [0, pos0 + t]. GQA: query
// head h reads kv head h / (n_heads / n_kv). MLA uses the same kernel with n_kv = n_heads and the
// per-head k/v written by mla_kv_store (dk = nope + rope, dv = v_head_dim).
// Scores q.k * scale and the softmax are float32 (online softmax, ops_math.h SoftmaxState).
// sink_mass (optional) receives [n_tok][n_heads] attention probability on position 0.
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

constexpr int kMaxAttnDv = 256;  // value width per head the kernel supports (8 floats per lane)

void attention(const float* q, int64_t q_tok_stride, const float* kc, const float* vc, float* out,
               int64_t out_tok_stride, int n_tok, int64_t pos0, int n_heads, int n_kv, int dk, int dv, float scale,
               float* sink_mass, cudaStream_t stream);

}  // namespace moescope::gpu
