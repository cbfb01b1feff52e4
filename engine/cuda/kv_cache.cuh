#pragma once
// Writes keys/values of n_tok new tokens into one layer's cache at positions [pos0, pos0 + n_tok).
// Cache layout per layer: K [max_ctx][n_kv][dk], V [max_ctx][n_kv][dv], float32.
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

// Standard attention: k/v come from the fused qkv projection output (token stride `src_stride`,
// k at column k_off, v at column v_off, heads contiguous).
void kv_store(const float* src, int64_t src_stride, int k_off, int v_off, float* kc, float* vc, int n_tok,
              int64_t pos0, int n_kv, int dk, int dv, cudaStream_t stream);

// MLA (DeepSeek): per head k = [k_nope_h | k_rot] with the one shared (already rotated) k_rot,
// v = v_h. kv holds kv_b's output [n_tok][n_heads][nope + dv]; k_rot [n_tok] at k_rot_stride.
void mla_kv_store(const float* kv, const float* k_rot, int64_t k_rot_stride, float* kc, float* vc, int n_tok,
                  int64_t pos0, int n_heads, int nope, int rope_dim, int dv, cudaStream_t stream);

}  // namespace moescope::gpu
