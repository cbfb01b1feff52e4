// Synthetic benchmark models: real hyperparameters, random BF16 weights, written as a HF folder and
// loaded with Model::load (see synthetic_model.h). Hyperparameters are those of the published
// config.json files (../shared/docs/architectures.md §2).
#include "engine/model/synthetic_model.h"

#include <sys/statvfs.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/model/config.h"

namespace moescope {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json base_config(const std::string& name) {
    if (name == "olmoe-1b-7b" || name == "tiny-olmoe") {
        json j = {{"architectures", {"OlmoeForCausalLM"}}, {"model_type", "olmoe"}, {"vocab_size", 50304},
                  {"hidden_size", 2048}, {"intermediate_size", 1024}, {"num_hidden_layers", 16},
                  {"num_attention_heads", 16}, {"num_key_value_heads", 16}, {"num_experts", 64},
                  {"num_experts_per_tok", 8}, {"norm_topk_prob", false}, {"rms_norm_eps", 1e-5},
                  {"rope_theta", 10000.0}, {"max_position_embeddings", 4096}, {"clip_qkv", nullptr},
                  {"tie_word_embeddings", false}, {"hidden_act", "silu"}, {"eos_token_id", 50279},
                  {"pad_token_id", 1}, {"attention_bias", false}};
        if (name == "tiny-olmoe") {
            j["vocab_size"] = 512;
            j["hidden_size"] = 128;
            j["intermediate_size"] = 64;
            j["num_hidden_layers"] = 2;
            j["num_attention_heads"] = 4;
            j["num_key_value_heads"] = 4;
            j["num_experts"] = 8;
            j["num_experts_per_tok"] = 2;
            j["eos_token_id"] = 2;
        }
        return j;
    }
    if (name == "qwen3-30b-a3b")
        return {{"architectures", {"Qwen3MoeForCausalLM"}}, {"model_type", "qwen3_moe"}, {"vocab_size", 151936},
                {"hidden_size", 2048}, {"intermediate_size", 6144}, {"moe_intermediate_size", 768},
                {"num_hidden_layers", 48}, {"num_attention_heads", 32}, {"num_key_value_heads", 4},
                {"head_dim", 128}, {"num_experts", 128}, {"num_experts_per_tok", 8}, {"norm_topk_prob", true},
                {"decoder_sparse_step", 1}, {"mlp_only_layers", json::array()}, {"rms_norm_eps", 1e-6},
                {"rope_theta", 1000000.0}, {"max_position_embeddings", 40960}, {"tie_word_embeddings", false},
                {"hidden_act", "silu"}, {"attention_bias", false}, {"use_sliding_window", false},
                {"bos_token_id", 151643}, {"eos_token_id", 151645}};
    if (name == "mixtral-8x7b")
        return {{"architectures", {"MixtralForCausalLM"}}, {"model_type", "mixtral"}, {"vocab_size", 32000},
                {"hidden_size", 4096}, {"intermediate_size", 14336}, {"num_hidden_layers", 32},
                {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"num_local_experts", 8},
                {"num_experts_per_tok", 2}, {"rms_norm_eps", 1e-5}, {"rope_theta", 1000000.0},
                {"max_position_embeddings", 32768}, {"tie_word_embeddings", false}, {"hidden_act", "silu"},
                {"sliding_window", nullptr}, {"bos_token_id", 1}, {"eos_token_id", 2}};
    if (name == "deepseek-v2-lite")
        return {{"architectures", {"DeepseekV2ForCausalLM"}}, {"model_type", "deepseek_v2"}, {"vocab_size", 102400},
                {"hidden_size", 2048}, {"intermediate_size", 10944}, {"moe_intermediate_size", 1408},
                {"num_hidden_layers", 27}, {"num_attention_heads", 16}, {"num_key_value_heads", 16},
                {"q_lora_rank", nullptr}, {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128},
                {"qk_rope_head_dim", 64}, {"v_head_dim", 128}, {"n_routed_experts", 64},
                {"n_shared_experts", 2}, {"num_experts_per_tok", 6}, {"first_k_dense_replace", 1},
                {"moe_layer_freq", 1}, {"topk_method", "greedy"}, {"n_group", 1}, {"topk_group", 1},
                {"routed_scaling_factor", 1.0}, {"scoring_func", "softmax"}, {"norm_topk_prob", false},
                {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0}, {"max_position_embeddings", 163840},
                {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096},
                                  {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 0.707}, {"mscale_all_dim", 0.707}}},
                {"tie_word_embeddings", false}, {"hidden_act", "silu"}, {"attention_bias", false},
                {"bos_token_id", 100000}, {"eos_token_id", 100001}};
    return nullptr;
}

struct Tensor {
    std::string name;
    std::vector<int64_t> shape;  // [rows][cols] or [n]
    bool ones = false;           // norm weights
};

// The tensors Model::load expects for this config (HF names), in file order.
std::vector<Tensor> tensor_list(const ModelConfig& c) {
    std::vector<Tensor> t;
    const int64_t H = c.hidden_size, V = c.vocab_size;
    auto mat = [&](const std::string& n, int64_t r, int64_t k) { t.push_back({n, {r, k}, false}); };
    auto norm = [&](const std::string& n, int64_t k) { t.push_back({n, {k}, true}); };
    const bool mixtral = c.family == Family::Mixtral;
    const bool deepseek = c.family == Family::DeepseekV2 || c.family == Family::DeepseekV3;
    auto mlp = [&](const std::string& p, int64_t I, bool expert) {
        const bool w123 = mixtral && expert;
        mat(p + (w123 ? "w1" : "gate_proj") + ".weight", I, H);
        mat(p + (w123 ? "w3" : "up_proj") + ".weight", I, H);
        mat(p + (w123 ? "w2" : "down_proj") + ".weight", H, I);
    };
    mat("model.embed_tokens.weight", V, H);
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        norm(p + "input_layernorm.weight", H);
        norm(p + "post_attention_layernorm.weight", H);
        const std::string a = p + "self_attn.";
        if (c.attention == AttentionKind::Mla) {
            const int64_t nh = c.n_heads, qd = c.q_head_dim();
            if (c.q_lora_rank > 0) {
                mat(a + "q_a_proj.weight", c.q_lora_rank, H);
                norm(a + "q_a_layernorm.weight", c.q_lora_rank);
                mat(a + "q_b_proj.weight", nh * qd, c.q_lora_rank);
            } else {
                mat(a + "q_proj.weight", nh * qd, H);
            }
            mat(a + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, H);
            norm(a + "kv_a_layernorm.weight", c.kv_lora_rank);
            mat(a + "kv_b_proj.weight", nh * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
            mat(a + "o_proj.weight", H, nh * c.v_head_dim);
        } else {
            const int64_t D = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads;
            mat(a + "q_proj.weight", nh * D, H);
            mat(a + "k_proj.weight", nkv * D, H);
            mat(a + "v_proj.weight", nkv * D, H);
            mat(a + "o_proj.weight", H, nh * D);
            if (c.qk_norm == QkNorm::PerHead) {
                norm(a + "q_norm.weight", D);
                norm(a + "k_norm.weight", D);
            } else if (c.qk_norm == QkNorm::Full) {
                norm(a + "q_norm.weight", nh * D);
                norm(a + "k_norm.weight", nkv * D);
            }
        }
        if (c.is_moe(l)) {
            const std::string m = p + (mixtral ? "block_sparse_moe." : "mlp.");
            mat(m + "gate.weight", c.n_experts, H);
            for (int e = 0; e < c.n_experts; ++e) mlp(m + "experts." + std::to_string(e) + ".", c.moe_intermediate_size, true);
            if (c.n_shared_experts > 0 && c.shared_intermediate_size > 0)
                mlp(m + (deepseek ? "shared_experts." : "shared_expert."), c.shared_intermediate_size, false);
        } else {
            mlp(p + "mlp.", c.intermediate_size, false);
        }
    }
    norm("model.norm.weight", H);
    mat("lm_head.weight", V, H);
    return t;
}

// xorshift64*: fast, reproducible; weights are uniform in (-a, a) with a = sqrt(3 / fan_in)
// (unit-variance activations stay O(1) through the layers), rounded down to bf16.
struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1Dull;
    }
};

bool has_room(const fs::path& dir, uint64_t bytes) {
    struct statvfs st {};
    if (statvfs(dir.c_str(), &st) != 0) return false;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize > bytes + bytes / 8 + (256ull << 20);
}

}  // namespace

std::vector<std::string> synthetic_model_names() {
    return {"olmoe-1b-7b", "qwen3-30b-a3b", "mixtral-8x7b", "deepseek-v2-lite", "tiny-olmoe"};
}

Result<std::string> synthetic_config_json(const std::string& name, int layers) {
    json j = base_config(name);
    if (j.is_null()) {
        std::string list;
        for (const auto& n : synthetic_model_names()) list += (list.empty() ? "" : ", ") + n;
        return Error("unknown synthetic model '" + name + "' (known: " + list + ")");
    }
    const int full = j["num_hidden_layers"].get<int>();
    if (layers < 0 || layers > full)
        return Error("synthetic model '" + name + "': --layers must be in 1.." + std::to_string(full));
    if (layers > 0) j["num_hidden_layers"] = layers;
    j["torch_dtype"] = "bfloat16";
    return j.dump(2);
}

Result<int64_t> synthetic_param_count(const std::string& name, int layers) {
    return try_result([&]() -> int64_t {
        auto cfg_text = synthetic_config_json(name, layers);
        if (!cfg_text) throw cfg_text.error();
        auto cfg = parse_model_config(*cfg_text, "", "synthetic " + name + " config.json");
        if (!cfg) throw cfg.error();
        int64_t n = 0;
        for (const Tensor& t : tensor_list(*cfg)) {
            int64_t m = 1;
            for (int64_t d : t.shape) m *= d;
            n += m;
        }
        return n;
    });
}

Result<std::unique_ptr<SyntheticModel>> SyntheticModel::create(const std::string& name, int layers, uint64_t seed) {
    try {
        auto cfg_text = synthetic_config_json(name, layers);
        if (!cfg_text) return cfg_text.error();
        auto cfg = parse_model_config(*cfg_text, "", "synthetic " + name + " config.json");
        if (!cfg) return cfg.error();
        const std::vector<Tensor> tensors = tensor_list(*cfg);

        // Header and total size.
        json header = json::object();
        uint64_t off = 0;
        for (const Tensor& t : tensors) {
            uint64_t n = 1;
            for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
            header[t.name] = {{"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {off, off + 2 * n}}};
            off += 2 * n;
        }
        header["__metadata__"] = {{"format", "pt"}, {"moescope", "synthetic " + name}};
        std::string htext = header.dump();
        while (htext.size() % 8) htext.push_back(' ');
        const uint64_t total = 8 + htext.size() + off;

        fs::path base = "/dev/shm";
        if (!fs::is_directory(base) || !has_room(base, total)) base = fs::temp_directory_path();
        if (!has_room(base, total))
            return Error("synthetic model '" + name + "' needs " + std::to_string(total >> 20) + " MiB of space in " +
                         base.string() + " (use --layers to cut it down)");
        std::string templ = (base / "moescope-synthetic-XXXXXX").string();
        if (!mkdtemp(templ.data())) return Error(base.string() + ": cannot create a temporary directory");

        std::unique_ptr<SyntheticModel> sm(new SyntheticModel());
        sm->dir_ = templ;
        sm->file_bytes_ = total;
        {
            std::FILE* f = std::fopen((fs::path(templ) / "config.json").c_str(), "wb");
            if (!f) return Error(templ + "/config.json: cannot write");
            std::fwrite(cfg_text->data(), 1, cfg_text->size(), f);
            std::fclose(f);
        }
        const std::string st_path = (fs::path(templ) / "model.safetensors").string();
        std::FILE* f = std::fopen(st_path.c_str(), "wb");
        if (!f) return Error(st_path + ": cannot write");
        bool ok = true;
        uint8_t len[8];
        for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(htext.size()) >> (8 * i));
        ok &= std::fwrite(len, 1, 8, f) == 8;
        ok &= std::fwrite(htext.data(), 1, htext.size(), f) == htext.size();
        Rng rng{seed * 0x9E3779B97F4A7C15ull + 12345};
        std::vector<uint16_t> buf(1 << 20);
        for (const Tensor& t : tensors) {
            uint64_t n = 1;
            for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
            const int64_t fan_in = t.shape.back();
            const float a = t.name == "model.embed_tokens.weight" ? 1.0f : std::sqrt(3.0f / static_cast<float>(fan_in));
            while (n > 0 && ok) {
                const size_t m = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
                if (t.ones) {
                    std::fill(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(m), f32_to_bf16(1.0f));
                } else {
                    for (size_t i = 0; i < m; i += 2) {
                        const uint64_t r = rng.next();
                        // two values per draw: 24-bit uniforms in (-1, 1) scaled by a
                        const float u0 = (static_cast<float>(r & 0xffffff) / 8388608.0f - 1.0f) * a;
                        const float u1 = (static_cast<float>((r >> 24) & 0xffffff) / 8388608.0f - 1.0f) * a;
                        uint32_t b0, b1;
                        std::memcpy(&b0, &u0, 4);
                        std::memcpy(&b1, &u1, 4);
                        buf[i] = static_cast<uint16_t>(b0 >> 16);
                        if (i + 1 < m) buf[i + 1] = static_cast<uint16_t>(b1 >> 16);
                    }
                }
                ok &= std::fwrite(buf.data(), 2, m, f) == m;
                n -= m;
            }
        }
        ok &= std::fclose(f) == 0;
        if (!ok) return Error(st_path + ": write failed (out of space?)");
        auto model = Model::load(templ);
        if (!model) return model.error();
        sm->model_ = std::move(*model);
        return sm;
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        return Error(std::string("synthetic model '") + name + "': " + e.what());
    }
}

SyntheticModel::~SyntheticModel() {
    model_.reset();  // unmaps the weights first
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
}

}  // namespace moescope
