#pragma once
// Router: scores (softmax or DeepSeek sigmoid + correction bias), group-limited top-k and the
// interventions (disable / force / logit bias / top-k / top-p), one token per block, with the exact
// per-token code of ops_math.h route_token (tested on the CPU against the golden files).
// Outputs ids [n_tok][k] (unused slots -1) and weights [n_tok][k] (unused slots 0).
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

struct RouterEditsDevice {
    const uint8_t* disabled = nullptr;  // [E] or null
    const float* logit_bias = nullptr;  // [E] or null
    const int32_t* forced = nullptr;    // [n_forced] or null
    int n_forced = 0;
};

void route(const float* logits, const float* e_bias, const cudamath::RouteParams& p, const RouterEditsDevice& ed,
           int32_t* ids, float* weights, int n_tok, cudaStream_t stream);

}  // namespace moescope::gpu
