#pragma once
// RMSNorm over groups of `width` floats: y = w * (x * rsqrt(mean(x^2) + eps)), float32 (HF).
// Rows are (token t, group g) at offset t*tok_stride + g*width, so the same kernel serves the
// whole-row norm (groups = 1), Qwen3's per-head q/k norm (groups = heads, weight [width]) and MLA's
// partial-row norms (kv_a: the first kv_lora_rank columns of a wider row). In place is allowed.
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void rmsnorm(const float* x, int64_t x_tok_stride, float* y, int64_t y_tok_stride, int n_tok, int groups, int width,
             const float* w, float eps, cudaStream_t stream);

}  // namespace moescope::gpu
