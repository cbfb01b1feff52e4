#pragma once
// Rotary position embedding in place, half (rotate_half) or interleaved (DeepSeek rope_interleave)
// pairing. x holds n_tok tokens of n_heads heads; head h of token t starts at
// t*tok_stride + h*head_stride, and the rotated part is [rot_offset, rot_offset + rot_dim) of the
// head (MLA rotates only the last qk_rope_head_dim dims). Token t has position pos0 + t.
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void rope(float* x, int n_tok, int n_heads, int64_t tok_stride, int head_stride, int rot_offset, int rot_dim,
          int64_t pos0, float theta, bool interleaved, cudaStream_t stream);

}  // namespace moescope::gpu
