#pragma once
// x[t][c] = bf16 -> f32 of table[ids[t]][c]. Token ids are validated on the host before upload.
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void embedding_gather(const uint16_t* table_bf16, const int32_t* ids, float* x, int n_tok, int width,
                      cudaStream_t stream);

}  // namespace moescope::gpu
