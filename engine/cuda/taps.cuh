#pragma once
// Tap statistics reduced on the device (CaptureLevel::Activations): per row, max |x| with its channel
// (ties: lowest channel, ops_math.h absmax_merge) and the L2 norm. Used for the hidden state after
// each layer (rows = tokens) and for each selected expert's down_proj output (rows = slots, mapped
// through slot_row when the outputs are in expert-sorted order; unmapped slots report zeros).
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void row_stats(const float* x, int width, const int32_t* row_map, int64_t n_rows, float* out_max, int32_t* out_channel,
               float* out_norm, cudaStream_t stream);

}  // namespace moescope::gpu
