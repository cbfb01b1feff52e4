#pragma once
// Dense, in-memory routing data: what storage's readers produce and analysis/ consumes. Plain data, no
// SQLite here, so analyses are pure functions over it and tests can build it by hand.
//
// Row r (0 <= r < n_tokens) is one token of one run; for each of its MoE layers m (0 <= m < n_moe) the
// k_max slots hold the selected experts best first, padded with -1 when fewer were chosen (top-k
// override, top-p routing). moe_layers[m] is the HF layer index L of MoE layer slot m.
#include <cstdint>
#include <string>
#include <vector>

namespace moescope {

struct RoutingArrays {
    // Shape
    int64_t n_tokens = 0;
    int n_moe = 0;      // number of MoE layers recorded
    int k_max = 0;      // slots per token-layer
    int n_experts = 0;  // routed experts per MoE layer
    int n_layers = 0;   // all decoder layers (for per-layer hidden statistics)
    int n_heads = 0;    // attention heads of sink_mass_head (0 when per-head sink mass was not recorded)
    std::vector<int> moe_layers;  // [n_moe] HF layer indices

    // Per token: [n_tokens]
    std::vector<int64_t> run_id;
    std::vector<int64_t> prompt_id;   // -1 when the run has no prompt rows
    std::vector<int32_t> position;    // position in its sequence
    std::vector<int32_t> token_id;
    std::vector<uint8_t> generated;   // 1 = generated token, 0 = prompt token
    std::vector<int32_t> set_index;   // index into set_names, -1 = none
    std::vector<std::string> set_names;

    // Routing: [n_tokens][n_moe][k_max]
    std::vector<int16_t> experts;
    std::vector<float> weights;  // empty when the source has no weights (vLLM/SGLang imports: ids only)
    // Shared-expert gate (qwen2_moe: sigmoid(x . w_sg)), [n_tokens][n_moe]. Empty when no token-layer of
    // the selection has one (models without a gated shared expert, imports); NaN where a row has none.
    std::vector<float> shared_gate;

    // Optional captures (empty when not recorded):
    std::vector<float> router_logits;     // [n_tokens][n_moe][n_experts]
    std::vector<float> expert_out_norm;   // [n_tokens][n_moe][k_max]
    std::vector<float> down_proj_max;     // [n_tokens][n_moe][k_max]
    std::vector<int32_t> down_proj_channel;  // [n_tokens][n_moe][k_max]
    // EASY-EP token contribution s_t = max(0, 1 - cos(h, h + r)) of the routed experts (methods.md §6.2),
    // [n_tokens][n_moe]; filled with the activations (schema v3 recordings); NaN where not stored.
    std::vector<float> token_contribution;
    std::vector<float> hidden_max_abs;    // [n_tokens][n_layers]
    std::vector<int32_t> hidden_max_channel;  // [n_tokens][n_layers]
    std::vector<float> hidden_norm;       // [n_tokens][n_layers]
    std::vector<float> sink_mass;         // [n_tokens][n_layers] attention of this query on position 0, head mean
    // Per-head attention of this query token on position 0 (Gu et al.'s A^{l,h}[i,1]), [n_tokens][n_layers]
    // [n_heads]. Recorded only on request (RecorderOptions::sink_per_head, `record --sink-heads`); empty
    // otherwise; NaN for token-layers without a stored row.
    std::vector<float> sink_mass_head;

    size_t slot(int64_t t, int m, int j) const {
        return (static_cast<size_t>(t) * n_moe + m) * k_max + j;
    }
    bool has_weights() const { return !weights.empty(); }
    bool has_logits() const { return !router_logits.empty(); }
    bool has_activations() const { return !down_proj_max.empty(); }
    bool has_layer_stats() const { return !hidden_max_abs.empty(); }
    bool has_shared_gate() const { return !shared_gate.empty(); }
    bool has_token_contribution() const { return !token_contribution.empty(); }
    bool has_sink_heads() const { return !sink_mass_head.empty(); }
    size_t layer_index(int64_t t, int layer) const { return static_cast<size_t>(t) * n_layers + layer; }
    size_t head_index(int64_t t, int layer, int head) const {
        return (static_cast<size_t>(t) * n_layers + layer) * n_heads + head;
    }
};

}  // namespace moescope
