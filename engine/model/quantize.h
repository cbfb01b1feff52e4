#pragma once
// Q8_0 weights for the CPU backend (opt-in, `--weights q8_0`): each row of a weight matrix is cut into
// blocks of 32 values, stored as {fp16 d; int8 q[32]} (34 bytes, the GGUF Q8_0 block, architectures.md
// GGUF section) with
//   d = max_j |w_j| / 127 (rounded to fp16),   q_j = round(w_j / d) in [-127, 127],   w'_j = d·q_j.
// w'_j is exact in float32 (an 11-bit by 8-bit product), so every kernel computes with the same weights;
// the error is the quantisation itself: |w'_j - w_j| <= d/2 (+ the fp16 rounding of d, relative 2^-11
// of |w_j|). 1.0625 bytes per weight instead of 2 (BF16): decode, which streams the weights, reads
// about half the bytes.
//
// Faithfulness: Q8_0 changes every product, so it is never the default; the FP32/BF16 weights of the
// checkpoint stay the oracle (golden tests, CUDA comparisons) and a quantised model says so in its
// summary (dtype "Q8_0").
#include <cstdint>

#include "engine/dtype.h"

namespace moescope {

// Quantises one row of `cols` values (cols % 32 == 0) in dtype src into cols/32 blocks at out.
void quantize_row_q8_0(DType src, const void* row, int64_t cols, uint8_t* out);
// Expands one Q8_0 row of `cols` values into float32 (exactly d·q).
void dequantize_row_q8_0(const uint8_t* row, int64_t cols, float* out);

}  // namespace moescope
