#pragma once
// Tap statistics reduced on the device (CaptureLevel::Activations): per row, max |x| with its channel
// (ties: lowest channel, ops_math.h absmax_merge) and the L2 norm. Used for the hidden state after
// each layer (rows = tokens) and for each selected expert's down_proj output (rows = slots, mapped
// through slot_row when the outputs are in expert-sorted order; unmapped slots report zeros).
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

// ids [n_rows] + zeroed [E] (both or neither): rows whose expert has zeroed[e] = 1 report zeros, as the
// CPU block does for the zero_output intervention.
void row_stats(const float* x, int width, const int32_t* row_map, int64_t n_rows, float* out_max, int32_t* out_channel,
               float* out_norm, cudaStream_t stream, const int32_t* ids = nullptr, const uint8_t* zeroed = nullptr);

// EASY-EP token contribution per row: out[t] = max(0, 1 - cos(h[t], h[t] + r[t])) (cos 0 when a vector is
// zero), the CPU block's definition (engine/cpu/moe_block.cpp) with float sums.
void token_contribution(const float* h, const float* r, int width, int64_t n_rows, float* out, cudaStream_t stream);

}  // namespace moescope::gpu
