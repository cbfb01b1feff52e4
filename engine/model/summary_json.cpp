#include "engine/model/summary_json.h"

namespace moescope {

namespace {
const char* attention_name(const ModelConfig& c) { return c.attention == AttentionKind::Mla ? "mla" : "gqa"; }
const char* router_name(const ModelConfig& c) {
    if (c.router_score == RouterScore::Sigmoid) return "sigmoid_group_limited";
    if (c.topk_method == TopkMethod::GroupLimitedMax) return "softmax_group_limited";
    return "softmax";
}
}  // namespace

nlohmann::json summary_to_json(const Model& model, int64_t context) {
    const ModelSummary& s = model.summary();
    const ModelConfig& c = model.config();
    nlohmann::json j;
    j["architecture"] = s.architecture;
    j["path"] = s.path;
    j["n_layers"] = s.n_layers;
    j["moe_layers"] = s.moe_layers;
    j["dense_layers"] = nlohmann::json::array();
    for (int l = 0; l < c.n_layers; ++l)
        if (!c.is_moe(l)) j["dense_layers"].push_back(l);
    j["n_experts"] = s.n_experts;
    j["top_k"] = s.top_k;
    j["n_shared_experts"] = s.n_shared_experts;
    j["shared_expert_gate"] = c.shared_expert_gate;
    j["router"] = router_name(c);
    j["norm_topk_prob"] = c.always_renormalize || c.norm_topk_prob;
    j["routed_scaling_factor"] = c.routed_scaling_factor;
    if (c.topk_method != TopkMethod::Greedy) {
        j["n_group"] = c.n_group;
        j["topk_group"] = c.topk_group;
    }
    j["attention"] = attention_name(c);
    j["hidden_size"] = s.hidden_size;
    j["vocab_size"] = s.vocab_size;
    j["n_heads"] = c.n_heads;
    j["n_kv_heads"] = c.n_kv_heads;
    j["head_dim"] = c.q_head_dim();
    j["expert_intermediate_size"] = c.moe_intermediate_size;
    j["max_position_embeddings"] = c.max_position_embeddings;
    j["tie_word_embeddings"] = c.tie_word_embeddings;
    j["params_total"] = s.params_total;
    j["params_active"] = s.params_active;
    j["dtype"] = s.dtype;
    j["weight_bytes"] = s.weight_bytes;
    j["kv_bytes_per_token"] = s.kv_bytes_per_token;
    j["memory_context"] = context;
    j["memory_bytes"] = s.memory_bytes(context);
    j["eos_token_ids"] = s.eos_token_ids;
    j["bos_token_id"] = s.bos_token_id ? nlohmann::json(*s.bos_token_id) : nlohmann::json(nullptr);
    if (s.generation.present) {
        j["generation_config"] = {{"do_sample", s.generation.do_sample}, {"temperature", s.generation.temperature},
                                  {"top_k", s.generation.top_k},         {"top_p", s.generation.top_p},
                                  {"min_p", s.generation.min_p},         {"repetition_penalty", s.generation.repetition_penalty},
                                  {"max_new_tokens", s.generation.max_new_tokens}};
    } else {
        j["generation_config"] = nullptr;
    }
    return j;
}

}  // namespace moescope
