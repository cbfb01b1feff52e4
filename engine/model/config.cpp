// config.json -> ModelConfig. One table of HF class defaults per family (transformers
// configuration_<arch>.py), then the per-family rules for which layers are MoE, how routing works and
// which attention variant is used (../shared/docs/architectures.md §2).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/model/config.h"

namespace moescope {

using nlohmann::json;

namespace {

// HF class defaults for keys that may be absent from config.json.
struct FamilyDefaults {
    const char* model_type;
    Family family;
    int vocab, hidden, intermediate, layers, heads;
    int kv_heads;  // -1 = same as heads
    double rms_eps, rope_theta;
    int max_pos;
    int n_experts, top_k;
    int moe_intermediate;  // -1 = uses intermediate_size (mixtral, olmoe)
    bool norm_topk_prob;
};

constexpr FamilyDefaults kDefaults[] = {
    // model_type    family              vocab   H     I      L   heads kv  eps    theta    maxpos  E    k  moeI  norm
    {"mixtral", Family::Mixtral, 32000, 4096, 14336, 32, 32, 8, 1e-5, 1e6, 131072, 8, 2, -1, true},
    {"qwen2_moe", Family::Qwen2Moe, 151936, 2048, 5632, 24, 16, 16, 1e-6, 10000.0, 32768, 60, 4, 1408, false},
    {"qwen3_moe", Family::Qwen3Moe, 151936, 2048, 6144, 24, 32, 4, 1e-6, 10000.0, 32768, 128, 8, 768, false},
    {"olmoe", Family::Olmoe, 50304, 2048, 2048, 16, 16, -1, 1e-5, 10000.0, 4096, 64, 8, -1, false},
    {"deepseek_v2", Family::DeepseekV2, 32000, 4096, 11008, 30, 32, -1, 1e-6, 10000.0, 2048, 64, 0, 1407, false},
    {"deepseek_v3", Family::DeepseekV3, 129280, 7168, 18432, 61, 128, 128, 1e-6, 10000.0, 4096, 256, 8, 2048, true},
};

// Reads optional keys with a clear error on a wrong JSON type ("config.json: key 'hidden_size' ...").
struct Reader {
    const json& j;
    const std::string& file;
    bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
    [[noreturn]] void bad(const char* k, const char* what) const {
        throw Error(file + ": key '" + k + "' must be " + what + " (got " + j[k].dump() + ")");
    }
    int integer(const char* k, int def) const {
        if (!has(k)) return def;
        if (!j[k].is_number_integer()) bad(k, "an integer");
        const int64_t v = j[k].get<int64_t>();
        if (v < 0 || v > (int64_t{1} << 30)) bad(k, "a non-negative integer below 2^30");
        return static_cast<int>(v);
    }
    double number(const char* k, double def) const {
        if (!has(k)) return def;
        if (!j[k].is_number()) bad(k, "a number");
        return j[k].get<double>();
    }
    bool boolean(const char* k, bool def) const {
        if (!has(k)) return def;
        if (!j[k].is_boolean()) bad(k, "true or false");
        return j[k].get<bool>();
    }
    std::string string(const char* k, const std::string& def) const {
        if (!has(k)) return def;
        if (!j[k].is_string()) bad(k, "a string");
        return j[k].get<std::string>();
    }
    std::vector<int> int_list(const char* k) const {  // int or list of ints
        std::vector<int> out;
        if (!has(k)) return out;
        if (j[k].is_number_integer()) return {j[k].get<int>()};
        if (!j[k].is_array()) bad(k, "an integer or a list of integers");
        for (const auto& v : j[k]) {
            if (!v.is_number_integer()) bad(k, "a list of integers");
            out.push_back(v.get<int>());
        }
        return out;
    }
};

double yarn_get_mscale(double scale, double mscale) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

void parse_rope_scaling(const Reader& r, ModelConfig& c) {
    if (!r.has("rope_scaling")) return;
    const json& rs = r.j["rope_scaling"];
    if (!rs.is_object()) r.bad("rope_scaling", "an object or null");
    std::string type = rs.value("rope_type", rs.value("type", std::string("default")));
    if (type == "default") return;
    const bool deepseek = c.family == Family::DeepseekV2 || c.family == Family::DeepseekV3;
    if (type != "yarn" || !deepseek)
        throw Error(r.file + ": rope_scaling type '" + type + "' is not supported for " + c.model_type +
                    " (supported: YaRN for deepseek_v2/deepseek_v3)");
    Reader y{rs, r.file};
    YarnScaling s;
    s.factor = y.number("factor", 1.0);
    s.original_max_position_embeddings = y.number("original_max_position_embeddings", c.max_position_embeddings);
    s.beta_fast = y.number("beta_fast", 32.0);
    s.beta_slow = y.number("beta_slow", 1.0);
    s.mscale = y.number("mscale", 0.0);
    s.mscale_all_dim = y.number("mscale_all_dim", 0.0);
    if (y.has("attention_factor")) s.attention_factor = y.number("attention_factor", 1.0);
    s.truncate = y.boolean("truncate", true);
    if (!(s.factor >= 1.0)) throw Error(r.file + ": rope_scaling.factor must be >= 1");
    c.yarn = s;
}

void parse_generation(const std::string& text, ModelConfig& c) {
    if (text.empty()) return;
    json g;
    try {
        g = json::parse(text);
    } catch (const json::parse_error& e) {
        throw Error("generation_config.json: malformed JSON: " + std::string(e.what()));
    }
    if (!g.is_object()) throw Error("generation_config.json: not a JSON object");
    const std::string file = "generation_config.json";
    Reader r{g, file};
    GenerationDefaults& d = c.generation;
    d.present = true;
    d.do_sample = r.boolean("do_sample", false);
    d.temperature = static_cast<float>(r.number("temperature", 1.0));
    d.top_k = r.integer("top_k", 50);
    d.top_p = static_cast<float>(r.number("top_p", 1.0));
    d.min_p = static_cast<float>(r.number("min_p", 0.0));
    d.repetition_penalty = static_cast<float>(r.number("repetition_penalty", 1.0));
    d.max_new_tokens = r.integer("max_new_tokens", 0);
    auto eos = r.int_list("eos_token_id");
    if (!eos.empty()) c.eos_token_ids = eos;
    if (r.has("bos_token_id")) c.bos_token_id = r.integer("bos_token_id", 0);
}

}  // namespace

const char* family_name(Family f) {
    for (const auto& d : kDefaults)
        if (d.family == f) return d.model_type;
    return "?";
}

std::vector<std::string> supported_model_types() {
    std::vector<std::string> out;
    for (const auto& d : kDefaults) out.push_back(d.model_type);
    return out;
}

double ModelConfig::attention_scale() const {
    double scale = 1.0 / std::sqrt(static_cast<double>(q_head_dim()));
    // DeepSeek (HF DeepseekV3Attention, original V2 code): scale *= mscale(factor, mscale_all_dim)^2.
    if (attention == AttentionKind::Mla && yarn && yarn->mscale_all_dim != 0.0) {
        const double m = yarn_get_mscale(yarn->factor, yarn->mscale_all_dim);
        scale *= m * m;
    }
    return scale;
}

Result<ModelConfig> parse_model_config(const std::string& config_json, const std::string& generation_json,
                                       const std::string& file) {
    return try_result([&]() -> ModelConfig {
        json j;
        try {
            j = json::parse(config_json);
        } catch (const json::parse_error& e) {
            throw Error(file + ": malformed JSON: " + std::string(e.what()));
        }
        if (!j.is_object()) throw Error(file + ": not a JSON object");
        Reader r{j, file};
        ModelConfig c;
        if (!r.has("model_type")) throw Error(file + ": missing 'model_type'");
        c.model_type = r.string("model_type", "");
        const FamilyDefaults* d = nullptr;
        for (const auto& fd : kDefaults)
            if (c.model_type == fd.model_type) d = &fd;
        if (!d) {
            std::string list;
            for (const auto& t : supported_model_types()) list += (list.empty() ? "" : ", ") + t;
            throw Error(file + ": unknown model_type '" + c.model_type + "' (supported: " + list + ")");
        }
        c.family = d->family;
        if (r.has("quantization_config")) {
            std::string method = j["quantization_config"].is_object()
                                     ? j["quantization_config"].value("quant_method", std::string("?"))
                                     : std::string("?");
            throw Error(file + ": quantized checkpoint (quant_method '" + method +
                        "') is not supported yet; FP8 (E4M3 with weight_scale_inv) support may come later — "
                        "use a BF16 conversion of the model");
        }
        const bool deepseek = c.family == Family::DeepseekV2 || c.family == Family::DeepseekV3;

        c.vocab_size = r.integer("vocab_size", d->vocab);
        c.hidden_size = r.integer("hidden_size", d->hidden);
        c.intermediate_size = r.integer("intermediate_size", d->intermediate);
        c.n_layers = r.integer("num_hidden_layers", d->layers);
        c.n_heads = r.integer("num_attention_heads", d->heads);
        c.n_kv_heads = r.integer("num_key_value_heads", d->kv_heads < 0 ? c.n_heads : d->kv_heads);
        c.rms_norm_eps = static_cast<float>(r.number("rms_norm_eps", d->rms_eps));
        c.rope_theta = r.number("rope_theta", d->rope_theta);
        if (r.has("rope_parameters") && j["rope_parameters"].is_object())  // transformers v5 layout
            c.rope_theta = Reader{j["rope_parameters"], file}.number("rope_theta", c.rope_theta);
        c.max_position_embeddings = r.integer("max_position_embeddings", d->max_pos);
        c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
        if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0)
            throw Error(file + ": vocab_size, hidden_size, num_hidden_layers, num_attention_heads and "
                               "num_key_value_heads must be positive");
        // Sanity limits far above any real checkpoint, so a corrupt config fails fast instead of
        // allocating per-layer tables for a billion layers.
        if (c.n_layers > 4096 || c.n_heads > 65536 || c.n_kv_heads > 65536)
            throw Error(file + ": num_hidden_layers (" + std::to_string(c.n_layers) + ") or head counts are implausibly large");
        if (r.has("hidden_act") && r.string("hidden_act", "silu") != "silu")
            throw Error(file + ": hidden_act '" + r.string("hidden_act", "") + "' is not supported (only silu)");
        if (r.has("bos_token_id")) c.bos_token_id = r.integer("bos_token_id", 0);
        c.eos_token_ids = r.int_list("eos_token_id");
        if (c.eos_token_ids.empty() && c.family == Family::Mixtral) c.eos_token_ids = {2};
        if (c.eos_token_ids.empty() && c.family == Family::Olmoe) c.eos_token_ids = {50279};

        // Attention.
        if (deepseek) {
            c.attention = AttentionKind::Mla;
            c.q_lora_rank = r.integer("q_lora_rank", c.family == Family::DeepseekV3 ? 1536 : 1536);
            if (r.j.contains("q_lora_rank") && r.j["q_lora_rank"].is_null()) c.q_lora_rank = 0;
            c.kv_lora_rank = r.integer("kv_lora_rank", 512);
            c.qk_nope_head_dim = r.integer("qk_nope_head_dim", 128);
            c.qk_rope_head_dim = r.integer("qk_rope_head_dim", 64);
            c.v_head_dim = r.integer("v_head_dim", 128);
            // HF DeepseekV3Config: rope_interleave defaults to true (the real config omits the key);
            // DeepSeek-V2 always rotates interleaved pairs (complex multiply in the original code).
            c.rope_interleave = r.boolean("rope_interleave", true);
            c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
            c.qkv_bias = false;
            c.o_bias = r.boolean("attention_bias", false);
            if (c.qk_rope_head_dim % 2 != 0 || c.kv_lora_rank <= 0 || c.v_head_dim <= 0)
                throw Error(file + ": qk_rope_head_dim must be even, kv_lora_rank and v_head_dim positive");
            if (c.n_kv_heads != c.n_heads)
                throw Error(file + ": num_key_value_heads (" + std::to_string(c.n_kv_heads) +
                            ") must equal num_attention_heads for MLA (HF cannot run it otherwise)");
        } else {
            c.attention = AttentionKind::Gqa;
            if (c.hidden_size % c.n_heads != 0 && !r.has("head_dim"))
                throw Error(file + ": hidden_size is not divisible by num_attention_heads and head_dim is absent");
            c.head_dim = r.integer("head_dim", c.hidden_size / c.n_heads);
            if (c.head_dim <= 0 || c.head_dim % 2 != 0) throw Error(file + ": head_dim must be positive and even");
            if (c.n_heads % c.n_kv_heads != 0)
                throw Error(file + ": num_attention_heads (" + std::to_string(c.n_heads) +
                            ") is not a multiple of num_key_value_heads (" + std::to_string(c.n_kv_heads) + ")");
        }
        switch (c.family) {
            case Family::Mixtral: {
                c.sliding_window = r.integer("sliding_window", 0);
                break;
            }
            case Family::Qwen2Moe:
                // HF Qwen2MoeConfig: qkv_bias defaults to true (older code hard-codes bias=True on q/k/v).
                c.qkv_bias = r.boolean("qkv_bias", true);
                if (r.boolean("use_sliding_window", false))
                    throw Error(file + ": use_sliding_window true is not supported for qwen2_moe");
                break;
            case Family::Qwen3Moe:
                c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
                c.qk_norm = QkNorm::PerHead;
                if (r.boolean("use_sliding_window", false))
                    throw Error(file + ": use_sliding_window true is not supported for qwen3_moe");
                break;
            case Family::Olmoe:
                c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
                c.qk_norm = QkNorm::Full;
                c.clip_qkv = static_cast<float>(r.number("clip_qkv", 0.0));
                break;
            default:
                break;
        }
        parse_rope_scaling(r, c);

        // MoE.
        switch (c.family) {
            case Family::Mixtral:
                c.n_experts = r.integer("num_local_experts", d->n_experts);
                c.moe_intermediate_size = c.intermediate_size;
                c.always_renormalize = true;
                c.norm_topk_prob = true;
                break;
            case Family::Olmoe:
                c.n_experts = r.integer("num_experts", d->n_experts);
                c.moe_intermediate_size = c.intermediate_size;
                c.norm_topk_prob = r.boolean("norm_topk_prob", d->norm_topk_prob);
                break;
            case Family::Qwen2Moe:
            case Family::Qwen3Moe:
                c.n_experts = r.integer("num_experts", d->n_experts);
                c.moe_intermediate_size = r.integer("moe_intermediate_size", d->moe_intermediate);
                c.norm_topk_prob = r.boolean("norm_topk_prob", d->norm_topk_prob);
                if (c.family == Family::Qwen2Moe) {
                    c.shared_intermediate_size = r.integer("shared_expert_intermediate_size", 5632);
                    c.n_shared_experts = c.shared_intermediate_size > 0 ? 1 : 0;
                    c.shared_expert_gate = c.n_shared_experts > 0;
                }
                break;
            case Family::DeepseekV2:
            case Family::DeepseekV3: {
                const bool v3 = c.family == Family::DeepseekV3;
                c.n_experts = r.integer("n_routed_experts", v3 ? d->n_experts : (r.j.contains("n_routed_experts") ? 0 : d->n_experts));
                c.moe_intermediate_size = r.integer("moe_intermediate_size", d->moe_intermediate);
                c.n_shared_experts = r.integer("n_shared_experts", v3 ? 1 : 2);
                c.shared_intermediate_size = c.n_shared_experts * c.moe_intermediate_size;
                c.routed_scaling_factor = r.number("routed_scaling_factor", v3 ? 2.5 : 1.0);
                c.norm_topk_prob = r.boolean("norm_topk_prob", d->norm_topk_prob);
                c.n_group = r.integer("n_group", v3 ? 8 : 1);
                c.topk_group = r.integer("topk_group", v3 ? 4 : 1);
                const std::string scoring = r.string("scoring_func", v3 ? "sigmoid" : "softmax");
                const std::string method = r.string("topk_method", v3 ? "noaux_tc" : "greedy");
                if (scoring == "softmax") c.router_score = RouterScore::Softmax;
                else if (scoring == "sigmoid") c.router_score = RouterScore::Sigmoid;
                else throw Error(file + ": scoring_func '" + scoring + "' is not supported (softmax, sigmoid)");
                if (method == "greedy") c.topk_method = TopkMethod::Greedy;
                else if (method == "group_limited_greedy") c.topk_method = TopkMethod::GroupLimitedMax;
                else if (method == "noaux_tc") c.topk_method = TopkMethod::NoAuxTc;
                else throw Error(file + ": topk_method '" + method + "' is not supported (greedy, group_limited_greedy, noaux_tc)");
                if (c.topk_method == TopkMethod::NoAuxTc) {
                    if (c.router_score != RouterScore::Sigmoid)
                        throw Error(file + ": topk_method noaux_tc needs scoring_func sigmoid");
                    c.has_score_correction_bias = true;
                }
                if (c.router_score == RouterScore::Sigmoid && c.topk_method != TopkMethod::NoAuxTc)
                    throw Error(file + ": scoring_func sigmoid is only supported with topk_method noaux_tc");
                break;
            }
        }
        c.top_k = r.integer("num_experts_per_tok", d->top_k);

        // Which layers are MoE.
        c.is_moe_layer.assign(c.n_layers, false);
        std::vector<int> mlp_only = r.int_list("mlp_only_layers");
        const int sparse_step = r.integer("decoder_sparse_step", 1);
        const int first_dense = r.integer("first_k_dense_replace", 0);
        const int layer_freq = r.integer("moe_layer_freq", 1);
        for (int l = 0; l < c.n_layers; ++l) {
            bool moe = c.n_experts > 0;
            if (c.family == Family::Qwen2Moe || c.family == Family::Qwen3Moe) {
                // HF Qwen2MoeDecoderLayer: not in mlp_only_layers and (l+1) % decoder_sparse_step == 0
                if (sparse_step <= 0) throw Error(file + ": decoder_sparse_step must be >= 1");
                moe = moe && std::find(mlp_only.begin(), mlp_only.end(), l) == mlp_only.end() && (l + 1) % sparse_step == 0;
            } else if (deepseek) {
                // original DeepseekV2/V3 DecoderLayer: l >= first_k_dense_replace and l % moe_layer_freq == 0
                if (layer_freq <= 0) throw Error(file + ": moe_layer_freq must be >= 1");
                moe = moe && l >= first_dense && l % layer_freq == 0;
            }
            c.is_moe_layer[l] = moe;
            if (moe) c.moe_layers.push_back(l);
        }
        if (!c.moe_layers.empty()) {
            if (c.n_experts <= 0) throw Error(file + ": number of experts must be positive");
            if (c.top_k <= 0 || c.top_k > c.n_experts)
                throw Error(file + ": num_experts_per_tok (" + std::to_string(c.top_k) + ") must be in [1, " +
                            std::to_string(c.n_experts) + "]");
            if (c.moe_intermediate_size <= 0) throw Error(file + ": expert intermediate size must be positive");
            if (c.topk_method != TopkMethod::Greedy) {
                if (c.n_group <= 0 || c.n_experts % c.n_group != 0)
                    throw Error(file + ": n_routed_experts (" + std::to_string(c.n_experts) +
                                ") must be divisible by n_group (" + std::to_string(c.n_group) + ")");
                if (c.topk_group <= 0 || c.topk_group > c.n_group)
                    throw Error(file + ": topk_group must be in [1, n_group]");
                if (c.topk_method == TopkMethod::NoAuxTc && c.n_experts / c.n_group < 2)
                    throw Error(file + ": noaux_tc routing needs at least 2 experts per group");
            }
        }
        if (c.moe_layers.size() < static_cast<size_t>(c.n_layers) && c.intermediate_size <= 0)
            throw Error(file + ": intermediate_size must be positive for dense layers");
        parse_generation(generation_json, c);
        return c;
    });
}

}  // namespace moescope
