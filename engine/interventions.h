#pragma once
// Interventions are plain data passed into every forward pass (never a forked copy of the MoE block).
// Exact semantics (../shared/testdata/golden/README.md, "Intervention semantics"):
//  - disable (L,E): router logit -> -inf before softmax/top-k (softmax routers); for DeepSeek's sigmoid
//    router the expert's choice score is -inf and it is removed BEFORE group selection.
//  - force (L,E): if not naturally selected it replaces the lowest-ranked non-forced member of the
//    natural top-k; its weight comes from its own score, as if chosen naturally.
//  - top_k: global override of num_experts_per_tok; top_k_per_layer overrides per layer.
//  - bias (L,E,b): added to the router logit before selection (steering strength).
//  - top_p: dynamic-k routing — the smallest set (best first) whose probability mass >= top_p,
//    at least 1 and at most top_p_max_k experts (0 = the layer's k).
//  - rank_only r (methods.md §0.3 P5, SCMoE weak activation): select ONLY the expert ranked r-th
//    (1-based; rank 1 = top-1) by the selection key (softmax p; sigmoid choice score for DeepSeek-V3),
//    with weight 1, as SCMoE's modeling_mixtral.py routed_tok=[r-1]. Disabled experts are skipped in
//    the ranking; force/top-k/top-p do not combine with it (validate_interventions rejects that).
//    rank_only_layers limits it to those MoE layers (empty = every MoE layer).
//  - zero_output (L,E) (methods.md §0.3 P2, the Super Experts paper's pruning): routing is unchanged —
//    the expert is still selected and keeps its gate weight (the other experts' weights are NOT
//    renormalised) — but its output contributes zero (its down_proj output is zeroed). Unlike disable,
//    no other expert takes the slot. Activation taps report the zeroed output (norm 0, max 0).
// Shared experts, dense layers and attention are never touched.
#include <optional>
#include <string>
#include <vector>

namespace moescope {

struct ExpertRef {
    int layer = 0;   // HF layer index
    int expert = 0;  // expert index as in the checkpoint
    bool operator==(const ExpertRef&) const = default;
};

struct ExpertBias {
    int layer = 0;
    int expert = 0;
    float bias = 0.0f;
    bool operator==(const ExpertBias&) const = default;
};

struct LayerTopK {
    int layer = 0;
    int k = 0;
    bool operator==(const LayerTopK&) const = default;
};

struct Interventions {
    std::vector<ExpertRef> disable;
    std::vector<ExpertRef> force;
    std::vector<ExpertBias> bias;
    std::optional<int> top_k;                 // global override
    std::vector<LayerTopK> top_k_per_layer;   // takes precedence over top_k for that layer
    std::optional<float> top_p;               // dynamic-k routing threshold in (0, 1]
    int top_p_max_k = 0;                      // 0 = the layer's k
    std::optional<int> rank_only;             // 1-based rank of the only expert selected (P5)
    std::vector<int> rank_only_layers;        // layers rank_only applies to (empty = all MoE layers)
    std::vector<ExpertRef> zero_output;       // selected as usual, output zeroed (P2)

    bool empty() const {
        return disable.empty() && force.empty() && bias.empty() && !top_k && top_k_per_layer.empty() && !top_p &&
               !rank_only && zero_output.empty();
    }
    bool operator==(const Interventions&) const = default;
};

}  // namespace moescope
