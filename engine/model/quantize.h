#pragma once
// Q8_0 weights for the CPU backend (opt-in, `--weights q8_0`): each row of a weight matrix is cut into
// blocks of 32 values, quantised as GGUF's Q8_0 (architectures.md GGUF section):
//   d = max_j |w_j| / 127 (rounded to fp16),   q_j = round(w_j / d) in [-127, 127],   w'_j = d·q_j.
// Row layout (cols/32 = nb blocks, 34·nb bytes): the nb fp16 scales, then the cols int8 values, i.e.
// GGUF's {d, q[32]} blocks split into two arrays, so that the value loads are 32-byte aligned (rows
// are 64-byte multiples from a 64-byte base) and 16 scales convert with one instruction.
// w'_j is exact in float32 (an 11-bit by 8-bit product), so every kernel computes with the same weights;
// the error is the quantisation itself: |w'_j - w_j| <= d/2 (+ the fp16 rounding of d, relative 2^-11
// of |w_j|). 1.0625 bytes per weight instead of 2 (BF16): decode, which streams the weights, reads
// about half the bytes.
//
// Faithfulness: Q8_0 changes every product, so it is never the default; the FP32/BF16 weights of the
// checkpoint stay the oracle (golden tests, CUDA comparisons) and a quantised model says so in its
// summary (dtype "Q8_0").
#include <cstdint>
#include <cstring>

#include "engine/dtype.h"

namespace moescope {

// Quantises one row of `cols` values (cols % 32 == 0) in dtype src into cols/32 blocks at out.
void quantize_row_q8_0(DType src, const void* row, int64_t cols, uint8_t* out);
// Expands one Q8_0 row of `cols` values into float32 (exactly d·q).
void dequantize_row_q8_0(const uint8_t* row, int64_t cols, float* out);

// Column c of a Q8_0 row of `cols` values.
inline const uint16_t* q8_scales(const uint8_t* row) { return reinterpret_cast<const uint16_t*>(row); }
inline const int8_t* q8_values(const uint8_t* row, int64_t cols) {
    return reinterpret_cast<const int8_t*>(row + 2 * (cols / kQ8Block));
}
inline float q8_value(const uint8_t* row, int64_t cols, int64_t c) {
    uint16_t h;
    std::memcpy(&h, row + 2 * (c / kQ8Block), 2);
    return f16_to_f32(h) * static_cast<float>(q8_values(row, cols)[c]);
}

}  // namespace moescope
