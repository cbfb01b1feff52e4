#pragma once
// Hyperparameters of a supported MoE architecture, read from a Hugging Face config.json.
//
// Each family is data (engine/model/arch_table.cpp): which config keys mean what, the HF defaults for
// absent keys, and the tensor-name patterns. The forward pass only sees this resolved struct.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.h"

namespace moescope {

enum class Family { Mixtral, Qwen2Moe, Qwen3Moe, Olmoe, DeepseekV2, DeepseekV3 };

enum class RouterScore { Softmax, Sigmoid };
// How experts are chosen from the scores.
enum class TopkMethod {
    Greedy,              // plain top-k of the scores
    GroupLimitedMax,     // DeepSeek-V2 group_limited_greedy: group score = max in group
    NoAuxTc,             // DeepSeek-V3 noaux_tc: scores + correction bias, group score = sum of top-2
};
enum class QkNorm { None, PerHead, Full };  // qwen3_moe per head; olmoe over the whole projection
enum class AttentionKind { Gqa, Mla };

struct YarnScaling {
    double factor = 1.0;
    double original_max_position_embeddings = 4096;
    double beta_fast = 32.0;
    double beta_slow = 1.0;
    double mscale = 0.0;          // 0 = absent
    double mscale_all_dim = 0.0;  // 0 = absent
    std::optional<double> attention_factor;
    bool truncate = true;
};

// generation_config.json (absent keys: HF defaults).
struct GenerationDefaults {
    bool do_sample = false;
    float temperature = 1.0f;
    int top_k = 50;
    float top_p = 1.0f;
    float min_p = 0.0f;
    float repetition_penalty = 1.0f;
    int max_new_tokens = 0;  // 0 = not given
    bool present = false;    // true when generation_config.json was found
};

struct ModelConfig {
    std::string model_type;  // as in config.json
    Family family = Family::Mixtral;

    // Sizes. T = tokens, H = hidden_size, D = head_dim, E = n_experts, I = expert width.
    int vocab_size = 0;
    int hidden_size = 0;
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;                 // GQA head width (from config when given, else H / n_heads)
    int intermediate_size = 0;        // dense MLP width
    int moe_intermediate_size = 0;    // routed expert width
    int shared_intermediate_size = 0; // shared expert MLP width (0 = none)
    float rms_norm_eps = 1e-6f;
    int max_position_embeddings = 0;
    bool tie_word_embeddings = false;

    // Attention.
    AttentionKind attention = AttentionKind::Gqa;
    bool qkv_bias = false;  // q/k/v projections carry biases
    bool o_bias = false;
    QkNorm qk_norm = QkNorm::None;
    float clip_qkv = 0.0f;  // 0 = none (OLMoE)
    int sliding_window = 0; // 0 = none
    double rope_theta = 10000.0;
    std::optional<YarnScaling> yarn;
    // MLA (DeepSeek)
    int q_lora_rank = 0;    // 0 = plain q_proj
    int kv_lora_rank = 0;
    int qk_nope_head_dim = 0;
    int qk_rope_head_dim = 0;
    int v_head_dim = 0;
    bool rope_interleave = false;  // DeepSeek default true: rotate adjacent pairs (2i, 2i+1)

    // MoE.
    int n_experts = 0;
    int top_k = 0;
    bool norm_topk_prob = false;
    bool always_renormalize = false;   // Mixtral: no norm_topk_prob, always divide by the top-k sum
    double routed_scaling_factor = 1.0;
    RouterScore router_score = RouterScore::Softmax;
    TopkMethod topk_method = TopkMethod::Greedy;
    int n_group = 1;
    int topk_group = 1;
    bool has_score_correction_bias = false;
    int n_shared_experts = 0;          // count as in the config (DeepSeek fuses them into one MLP)
    bool shared_expert_gate = false;   // qwen2_moe: sigmoid(x · w_sg) scales the shared expert
    std::vector<bool> is_moe_layer;    // [n_layers]
    std::vector<int> moe_layers;       // HF indices of the MoE layers

    // Tokens.
    std::optional<int> bos_token_id;
    std::vector<int> eos_token_ids;    // from generation_config.json when present, else config.json
    GenerationDefaults generation;

    // Derived.
    int q_head_dim() const { return attention == AttentionKind::Mla ? qk_nope_head_dim + qk_rope_head_dim : head_dim; }
    int attn_v_head_dim() const { return attention == AttentionKind::Mla ? v_head_dim : head_dim; }
    int kv_heads_cached() const { return attention == AttentionKind::Mla ? n_heads : n_kv_heads; }
    // Softmax scale of attention scores (includes YaRN mscale² for DeepSeek).
    double attention_scale() const;
    bool is_moe(int layer) const { return layer >= 0 && layer < n_layers && is_moe_layer[layer]; }
};

const char* family_name(Family f);
// All model_type values the engine loads.
std::vector<std::string> supported_model_types();

// Parses config.json text (and generation_config.json text, empty if absent). `file` names the source
// in messages. Unknown model_type, FP8 quantisation, unsupported rope scaling, missing required keys
// and inconsistent sizes are errors.
Result<ModelConfig> parse_model_config(const std::string& config_json, const std::string& generation_json,
                                       const std::string& file = "config.json");

}  // namespace moescope
