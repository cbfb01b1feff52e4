#pragma once
// Expert selection of one token at one MoE layer: raw router logits in, (experts, weights) out.
// One function for every family; the routing variant comes from ModelConfig, the interventions are an
// argument. Exact semantics: ../shared/testdata/golden/README.md ("Intervention semantics").
#include <cstdint>
#include <vector>

#include "engine/interventions.h"
#include "engine/model/config.h"

namespace moescope::cpu {

// Interventions resolved for one layer (built once per forward pass, no allocation per token).
struct LayerInterventions {
    int k = 0;                        // experts to select (top-k override applied)
    std::vector<uint8_t> disabled;    // [E] 1 = disabled
    std::vector<uint8_t> zeroed;      // [E] 1 = output zeroed (zero_output: routing unchanged)
    std::vector<float> bias;          // [E] added to the router logit (0 when none)
    std::vector<int> forced;          // forced experts, in the order given
    float top_p = 0.0f;               // > 0: dynamic-k routing
    int top_p_max_k = 0;
    int rank_only = 0;                // > 0: select only the expert of this 1-based rank, weight 1
    bool any_bias = false;

    void resolve(const ModelConfig& c, int layer, const Interventions& iv);
};

struct RouteScratch {
    std::vector<float> score;   // [E] softmax probability or sigmoid score (weights come from it)
    std::vector<float> choice;  // [E] selection key
    std::vector<float> group;   // [n_group]
    std::vector<uint8_t> keep;  // [n_group]
    std::vector<int> order;     // [E]
};

struct RouteResult {
    std::vector<int32_t> experts;  // best first; forced expert that was not natural takes the last slot
    std::vector<float> weights;    // final multipliers (renormalised / scaled as the family does)
};

// z: raw router logits [E]; corr_bias: e_score_correction_bias [E] or nullptr.
void route_token(const ModelConfig& c, const float* z, const float* corr_bias, const LayerInterventions& li,
                 RouteScratch& s, RouteResult& out);

}  // namespace moescope::cpu
