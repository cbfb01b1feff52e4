#pragma once
// Mixture-of-experts expert computation, grouped by expert — never a loop over tokens.
//
// A "slot" is (token t, choice j), s = t*k + j, with expert ids[s] (-1 = unused slot).
// Prefill (many slots): moe_bucket counts slots per expert, pads each expert's segment to a multiple
// of kMoeTile rows and scatters slot numbers into expert-sorted order (vLLM moe_align_block_size;
// llama.cpp mm_ids_helper), all on the device. moe_gather copies the activations into that order;
// then either moe_grouped_gemm_f32 runs every expert's segment in one launch (no host sync; FP32
// mode) or the dispatcher runs one cuBLAS GEMM per active expert (BF16 mode; needs the offsets on
// the host). Decode (few slots): moe_gemv_ids reads each slot's expert weights directly.
// moe_combine sums the weighted expert outputs of each token in slot order (deterministic).
//
// Expert weights are stacked on the device: expert e's matrix starts at W + e*expert_stride.
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

constexpr int kMoeTile = 32;  // = gemm_tile.cuh kTile

// Upper bound of padded rows for n_slots slots over E experts.
inline int64_t moe_max_rows(int64_t n_slots, int E) { return n_slots + int64_t(E) * (kMoeTile - 1); }
inline int64_t moe_max_tiles(int64_t n_slots, int E) { return moe_max_rows(n_slots, E) / kMoeTile + 1; }

struct MoeBuckets {
    int32_t* counts = nullptr;       // [E]
    int32_t* cursor = nullptr;       // [E]
    int32_t* offsets = nullptr;      // [E+1] padded segment starts; offsets[E] = padded total
    int32_t* tile_expert = nullptr;  // [max_tiles] expert of each row tile, -1 past the end
    int32_t* sorted_slot = nullptr;  // [max_rows] slot of each sorted row, -1 for padding
    int32_t* slot_row = nullptr;     // [n_slots] sorted row of each slot, -1 for unused slots
};

void moe_bucket(const int32_t* ids, int64_t n_slots, int E, const MoeBuckets& b, cudaStream_t stream);
// Xs[row] = X[sorted_slot[row] / slots_per_x_row] (zeros for padding rows). For the gate/up GEMM the
// activation is per token (slots_per_x_row = k); for the down GEMM it is per slot (1) and already
// sorted, so no gather is needed there.
void moe_gather(const float* X, int slots_per_x_row, const int32_t* sorted_slot, int64_t max_rows, int width,
                float* Xs, cudaStream_t stream);
void moe_grouped_gemm_f32(const uint16_t* W, int64_t expert_stride, int64_t rows, int64_t cols, const float* Xs,
                          const int32_t* tile_expert, int64_t max_tiles, float* Ys, cudaStream_t stream);
// Y[s] = W_{ids[s]} · X[s / slots_per_x_row] for every slot (zeros for unused slots).
void moe_gemv_ids(const uint16_t* W, int64_t expert_stride, int64_t rows, int64_t cols, const float* X,
                  int slots_per_x_row, const int32_t* ids, int64_t n_slots, float* Y, cudaStream_t stream);
// out[t] = sum_j w[t][j] * Y[row(t*k+j)], row = slot_row[s] or s when slot_row is null. zeroed [E] (or
// null): slots of experts with zeroed[e] = 1 add nothing (zero_output intervention, engine/interventions.h).
void moe_combine(const float* Y, const int32_t* slot_row, const int32_t* ids, const float* w, int n_tok, int k,
                 int width, float* out, cudaStream_t stream, const uint8_t* zeroed = nullptr);

}  // namespace moescope::gpu
