#include "engine/cuda/embedding.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

namespace {
__global__ void gather_kernel(const uint16_t* table, const int32_t* ids, float* x, int n_tok, int width) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id >= int64_t(n_tok) * width) return;
    const int t = int(id / width), c = int(id % width);
    x[id] = cudamath::bf16_to_f32(table[int64_t(ids[t]) * width + c]);
}
}  // namespace

void embedding_gather(const uint16_t* table_bf16, const int32_t* ids, float* x, int n_tok, int width,
                      cudaStream_t stream) {
    const int64_t n = int64_t(n_tok) * width;
    if (n <= 0) return;
    gather_kernel<<<grid_for(n, 256), 256, 0, stream>>>(table_bf16, ids, x, n_tok, width);
    CUDA_CHECK_LAUNCH("embedding_gather");
}

}  // namespace moescope::gpu
