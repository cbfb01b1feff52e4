#include "engine/cuda/moe.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/gemm_tile.cuh"
#include "engine/cuda/ops_math.h"
#include "engine/cuda/reduce.cuh"

namespace moescope::gpu {

static_assert(kMoeTile == kTile, "MoE padding must match the GEMM tile height");

namespace {
__global__ void count_kernel(const int32_t* ids, int64_t n_slots, int E, int32_t* counts) {
    const int64_t s = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (s >= n_slots) return;
    const int e = ids[s];
    if (e >= 0 && e < E) atomicAdd(&counts[e], 1);
}

// One thread: E is at most a few hundred, and this runs once per MoE layer.
__global__ void offsets_kernel(const int32_t* counts, int E, int64_t max_tiles, int32_t* offsets,
                               int32_t* tile_expert) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    int32_t off = 0;
    int64_t tile = 0;
    for (int e = 0; e < E; ++e) {
        offsets[e] = off;
        const int32_t padded = int32_t(cudamath::round_up(counts[e], kMoeTile));
        for (int32_t r = 0; r < padded; r += kMoeTile) tile_expert[tile++] = e;
        off += padded;
    }
    offsets[E] = off;
    for (; tile < max_tiles; ++tile) tile_expert[tile] = -1;
}

__global__ void scatter_kernel(const int32_t* ids, int64_t n_slots, int E, const int32_t* offsets, int32_t* cursor,
                               int32_t* sorted_slot, int32_t* slot_row) {
    const int64_t s = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (s >= n_slots) return;
    const int e = ids[s];
    if (e < 0 || e >= E) {
        slot_row[s] = -1;
        return;
    }
    const int32_t row = offsets[e] + atomicAdd(&cursor[e], 1);
    sorted_slot[row] = int32_t(s);
    slot_row[s] = row;
}

__global__ void gather_kernel(const float* X, int div, const int32_t* sorted_slot, int64_t max_rows, int width,
                              float* Xs) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id >= max_rows * width) return;
    const int64_t row = id / width;
    const int c = int(id % width);
    const int32_t s = sorted_slot[row];
    Xs[id] = s < 0 ? 0.0f : X[int64_t(s / div) * width + c];
}

__global__ void grouped_gemm_kernel(const uint16_t* W, int64_t expert_stride, int64_t rows, int64_t cols,
                                    const float* Xs, const int32_t* tile_expert, float* Ys) {
    const int e = tile_expert[blockIdx.y];
    if (e < 0) return;  // past the last expert segment (uniform per block, before any barrier)
    // The tile's rows all belong to expert e; running past the segment end only computes padding.
    tile_gemm_f32(W + int64_t(e) * expert_stride, rows, cols, Xs, int64_t(blockIdx.y + 1) * kTile, Ys,
                  int64_t(blockIdx.y) * kTile, int64_t(blockIdx.x) * kTile);
}

constexpr int kWarps = 8;
__global__ void gemv_ids_kernel(const uint16_t* W, int64_t expert_stride, int64_t rows, int64_t cols, const float* X,
                                int div, const int32_t* ids, float* Y) {
    const int lane = threadIdx.x & 31;
    const int64_t r = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
    const int64_t s = blockIdx.y;
    if (r >= rows) return;
    const int e = ids[s];
    if (e < 0) {
        if (lane == 0) Y[s * rows + r] = 0.0f;
        return;
    }
    const uint16_t* wr = W + int64_t(e) * expert_stride + r * cols;
    const float* x = X + (s / div) * cols;
    float acc = 0.0f;
    if (cols % 8 == 0 && (reinterpret_cast<uintptr_t>(wr) & 15) == 0) {
        for (int64_t c = int64_t(lane) * 8; c < cols; c += 256) {
            const uint4 raw = *reinterpret_cast<const uint4*>(wr + c);
            const uint32_t wv[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                acc += cudamath::bf16_to_f32(uint16_t(wv[j] & 0xffffu)) * x[c + 2 * j];
                acc += cudamath::bf16_to_f32(uint16_t(wv[j] >> 16)) * x[c + 2 * j + 1];
            }
        }
    } else {
        for (int64_t c = lane; c < cols; c += 32) acc += cudamath::bf16_to_f32(wr[c]) * x[c];
    }
    acc = warp_sum(acc);
    if (lane == 0) Y[s * rows + r] = acc;
}

__global__ void combine_kernel(const float* Y, const int32_t* slot_row, const int32_t* ids, const float* w, int n_tok,
                               int k, int width, const uint8_t* zeroed, float* out) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id >= int64_t(n_tok) * width) return;
    const int64_t t = id / width;
    const int c = int(id % width);
    float acc = 0.0f;
    for (int j = 0; j < k; ++j) {
        const int64_t s = t * k + j;
        if (ids[s] < 0) continue;
        if (zeroed && zeroed[ids[s]]) continue;  // zero_output: routed and weighted, contributes 0
        const int64_t row = slot_row ? slot_row[s] : s;
        acc += w[s] * Y[row * width + c];
    }
    out[id] = acc;
}
}  // namespace

void moe_bucket(const int32_t* ids, int64_t n_slots, int E, const MoeBuckets& b, cudaStream_t stream) {
    if (n_slots <= 0) return;
    const int64_t max_rows = moe_max_rows(n_slots, E), max_tiles = moe_max_tiles(n_slots, E);
    CUDA_CHECK(cudaMemsetAsync(b.counts, 0, sizeof(int32_t) * E, stream));
    CUDA_CHECK(cudaMemsetAsync(b.cursor, 0, sizeof(int32_t) * E, stream));
    CUDA_CHECK(cudaMemsetAsync(b.sorted_slot, 0xff, sizeof(int32_t) * max_rows, stream));
    count_kernel<<<grid_for(n_slots, 256), 256, 0, stream>>>(ids, n_slots, E, b.counts);
    CUDA_CHECK_LAUNCH("moe count");
    offsets_kernel<<<1, 32, 0, stream>>>(b.counts, E, max_tiles, b.offsets, b.tile_expert);
    CUDA_CHECK_LAUNCH("moe offsets");
    scatter_kernel<<<grid_for(n_slots, 256), 256, 0, stream>>>(ids, n_slots, E, b.offsets, b.cursor, b.sorted_slot,
                                                               b.slot_row);
    CUDA_CHECK_LAUNCH("moe scatter");
}

void moe_gather(const float* X, int slots_per_x_row, const int32_t* sorted_slot, int64_t max_rows, int width,
                float* Xs, cudaStream_t stream) {
    const int64_t n = max_rows * width;
    if (n <= 0) return;
    gather_kernel<<<grid_for(n, 256), 256, 0, stream>>>(X, slots_per_x_row, sorted_slot, max_rows, width, Xs);
    CUDA_CHECK_LAUNCH("moe gather");
}

void moe_grouped_gemm_f32(const uint16_t* W, int64_t expert_stride, int64_t rows, int64_t cols, const float* Xs,
                          const int32_t* tile_expert, int64_t max_tiles, float* Ys, cudaStream_t stream) {
    if (max_tiles <= 0 || rows <= 0) return;
    dim3 grid(grid_for(rows, kTile), unsigned(max_tiles));
    grouped_gemm_kernel<<<grid, kTileThreads, 0, stream>>>(W, expert_stride, rows, cols, Xs, tile_expert, Ys);
    CUDA_CHECK_LAUNCH("moe grouped gemm");
}

void moe_gemv_ids(const uint16_t* W, int64_t expert_stride, int64_t rows, int64_t cols, const float* X,
                  int slots_per_x_row, const int32_t* ids, int64_t n_slots, float* Y, cudaStream_t stream) {
    if (n_slots <= 0 || rows <= 0) return;
    dim3 grid(grid_for(rows, kWarps), unsigned(n_slots));
    gemv_ids_kernel<<<grid, 32 * kWarps, 0, stream>>>(W, expert_stride, rows, cols, X, slots_per_x_row, ids, Y);
    CUDA_CHECK_LAUNCH("moe gemv ids");
}

void moe_combine(const float* Y, const int32_t* slot_row, const int32_t* ids, const float* w, int n_tok, int k,
                 int width, float* out, cudaStream_t stream, const uint8_t* zeroed) {
    const int64_t n = int64_t(n_tok) * width;
    if (n <= 0) return;
    combine_kernel<<<grid_for(n, 256), 256, 0, stream>>>(Y, slot_row, ids, w, n_tok, k, width, zeroed, out);
    CUDA_CHECK_LAUNCH("moe combine");
}

}  // namespace moescope::gpu
