// Fixture models in Hugging Face layout (tensor names and shapes per architectures.md §2).
#include "tests/support/fixture_model.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/model/safetensors.h"

namespace moescope::test {

namespace fs = std::filesystem;

namespace {

struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform(float a) { return static_cast<float>((next() >> 11) * 0x1.0p-53 * 2.0 - 1.0) * a; }
};

bool isDeepseek(const FixtureSpec& s) { return s.arch == "deepseek_v2" || s.arch == "deepseek_v3"; }
int headDim(const FixtureSpec& s) { return s.head_dim > 0 ? s.head_dim : s.hidden / s.heads; }
std::string moePrefix(const FixtureSpec& s) { return s.arch == "mixtral" ? "block_sparse_moe" : "mlp"; }

bool isMoeLayer(const FixtureSpec& s, int l) {
    if (s.arch == "qwen2_moe" || s.arch == "qwen3_moe") {
        for (int m : s.mlp_only_layers)
            if (m == l) return false;
        return (l + 1) % s.decoder_sparse_step == 0;
    }
    if (isDeepseek(s)) return l >= s.first_k_dense;
    return true;
}

}  // namespace

FixtureSpec FixtureSpec::forArch(const std::string& arch) {
    FixtureSpec s;
    s.arch = arch;
    if (arch == "qwen3_moe") {
        s.head_dim = 16;  // != hidden/heads (8): head_dim must come from config
        s.norm_topk_prob = true;
    } else if (arch == "qwen2_moe") {
        s.norm_topk_prob = false;
    } else if (arch == "olmoe") {
        s.kv_heads = 4;
        s.clip_qkv = 8.0f;
    } else if (arch == "deepseek_v2") {
        s.heads = 4;
        s.kv_heads = 4;
        s.q_lora_rank = 0;
        s.n_shared = 2;
        s.topk_method = "group_limited_greedy";
        s.n_group = 4;
        s.topk_group = 2;
        s.routed_scaling = 1.5;
        s.norm_topk_prob = false;
        s.yarn = true;
    } else if (arch == "deepseek_v3") {
        s.heads = 4;
        s.kv_heads = 4;
        s.q_lora_rank = 12;
        s.n_group = 4;
        s.topk_group = 2;
        s.routed_scaling = 2.5;
        s.norm_topk_prob = true;
    }
    return s;
}

nlohmann::json fixtureConfig(const FixtureSpec& s) {
    nlohmann::json c;
    c["model_type"] = s.arch;
    c["vocab_size"] = s.vocab;
    c["hidden_size"] = s.hidden;
    c["num_hidden_layers"] = s.layers;
    c["num_attention_heads"] = s.heads;
    c["num_key_value_heads"] = s.kv_heads;
    c["hidden_act"] = "silu";
    c["max_position_embeddings"] = 256;
    c["rms_norm_eps"] = 1e-6;
    c["rope_theta"] = 10000.0;
    c["tie_word_embeddings"] = s.tie_embeddings;
    c["bos_token_id"] = 1;
    c["eos_token_id"] = 2;
    c["num_experts_per_tok"] = s.top_k;
    if (s.norm_topk_prob) c["norm_topk_prob"] = *s.norm_topk_prob;
    if (s.arch == "mixtral") {
        c["intermediate_size"] = s.intermediate;
        c["num_local_experts"] = s.experts;
        c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json(nullptr);
    } else if (s.arch == "qwen2_moe" || s.arch == "qwen3_moe") {
        c["intermediate_size"] = s.intermediate;
        c["moe_intermediate_size"] = s.moe_intermediate;
        c["num_experts"] = s.experts;
        c["decoder_sparse_step"] = s.decoder_sparse_step;
        c["mlp_only_layers"] = s.mlp_only_layers;
        if (s.arch == "qwen2_moe") c["shared_expert_intermediate_size"] = s.shared_intermediate;  // qkv_bias absent
        if (s.arch == "qwen3_moe") {
            c["head_dim"] = headDim(s);
            c["attention_bias"] = false;
        }
    } else if (s.arch == "olmoe") {
        c["intermediate_size"] = s.intermediate;
        c["num_experts"] = s.experts;
        c["clip_qkv"] = s.clip_qkv > 0 ? nlohmann::json(s.clip_qkv) : nlohmann::json(nullptr);
    } else {  // deepseek
        c["intermediate_size"] = s.intermediate;
        c["moe_intermediate_size"] = s.moe_intermediate;
        c["n_routed_experts"] = s.experts;
        c["n_shared_experts"] = s.n_shared;
        c["first_k_dense_replace"] = s.first_k_dense;
        c["moe_layer_freq"] = 1;
        c["q_lora_rank"] = s.q_lora_rank > 0 ? nlohmann::json(s.q_lora_rank) : nlohmann::json(nullptr);
        c["kv_lora_rank"] = s.kv_lora_rank;
        c["qk_nope_head_dim"] = s.qk_nope;
        c["qk_rope_head_dim"] = s.qk_rope;
        c["v_head_dim"] = s.v_head;
        c["n_group"] = s.n_group;
        c["topk_group"] = s.topk_group;
        c["routed_scaling_factor"] = s.routed_scaling;
        const bool v3 = s.arch == "deepseek_v3";
        c["topk_method"] = s.topk_method.empty() ? (v3 ? "noaux_tc" : "greedy") : s.topk_method;
        c["scoring_func"] = v3 ? "sigmoid" : "softmax";
        if (s.rope_interleave) c["rope_interleave"] = *s.rope_interleave;
        if (s.yarn)
            c["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}, {"beta_fast", 32}, {"beta_slow", 1},
                                 {"mscale", 0.707}, {"mscale_all_dim", 0.707}, {"original_max_position_embeddings", 64}};
        else c["rope_scaling"] = nullptr;
    }
    for (auto it = s.config_overrides.begin(); it != s.config_overrides.end(); ++it) c[it.key()] = it.value();
    return c;
}

std::vector<FixtureTensor> fixtureTensors(const FixtureSpec& s) {
    Rng rng{s.seed * 0x2545f4914f6cdd1dull + 7};
    std::vector<FixtureTensor> ts;
    const int64_t H = s.hidden, V = s.vocab, nh = s.heads, nkv = s.kv_heads, D = headDim(s);
    auto mat = [&](const std::string& n, std::vector<int64_t> shape, float scale) {
        int64_t count = 1;
        for (int64_t d : shape) count *= d;
        FixtureTensor t{n, std::move(shape), std::vector<float>(static_cast<size_t>(count))};
        for (auto& v : t.values) v = rng.uniform(scale);
        ts.push_back(std::move(t));
    };
    auto norm = [&](const std::string& n, int64_t w) {
        FixtureTensor t{n, {w}, std::vector<float>(static_cast<size_t>(w))};
        for (auto& v : t.values) v = 1.0f + rng.uniform(0.2f);
        ts.push_back(std::move(t));
    };
    const float ws = s.weight_scale;
    auto mlp = [&](const std::string& p, int64_t I, const char* g, const char* u, const char* d) {
        mat(p + "." + g + ".weight", {I, H}, ws);
        mat(p + "." + u + ".weight", {I, H}, ws);
        mat(p + "." + d + ".weight", {H, I}, ws);
    };
    mat("model.embed_tokens.weight", {V, H}, 1.0f);
    for (int l = 0; l < s.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        norm(p + "input_layernorm.weight", H);
        norm(p + "post_attention_layernorm.weight", H);
        const std::string a = p + "self_attn.";
        if (isDeepseek(s)) {
            const int64_t qd = s.qk_nope + s.qk_rope;
            if (s.q_lora_rank > 0) {
                mat(a + "q_a_proj.weight", {s.q_lora_rank, H}, ws);
                norm(a + "q_a_layernorm.weight", s.q_lora_rank);
                mat(a + "q_b_proj.weight", {nh * qd, s.q_lora_rank}, ws * 2);
            } else {
                mat(a + "q_proj.weight", {nh * qd, H}, ws);
            }
            mat(a + "kv_a_proj_with_mqa.weight", {s.kv_lora_rank + s.qk_rope, H}, ws);
            norm(a + "kv_a_layernorm.weight", s.kv_lora_rank);
            mat(a + "kv_b_proj.weight", {nh * (s.qk_nope + s.v_head), s.kv_lora_rank}, ws * 2);
            mat(a + "o_proj.weight", {H, nh * s.v_head}, ws);
        } else {
            mat(a + "q_proj.weight", {nh * D, H}, ws);
            mat(a + "k_proj.weight", {nkv * D, H}, ws);
            mat(a + "v_proj.weight", {nkv * D, H}, ws);
            mat(a + "o_proj.weight", {H, nh * D}, ws);
            if (s.arch == "qwen2_moe") {  // qkv_bias defaults to true
                mat(a + "q_proj.bias", {nh * D}, 0.1f);
                mat(a + "k_proj.bias", {nkv * D}, 0.1f);
                mat(a + "v_proj.bias", {nkv * D}, 0.1f);
            }
            if (s.arch == "qwen3_moe") {
                norm(a + "q_norm.weight", D);
                norm(a + "k_norm.weight", D);
            }
            if (s.arch == "olmoe") {
                norm(a + "q_norm.weight", nh * D);
                norm(a + "k_norm.weight", nkv * D);
            }
        }
        if (!isMoeLayer(s, l)) {
            mlp(p + "mlp", s.intermediate, "gate_proj", "up_proj", "down_proj");
            continue;
        }
        const std::string m = p + moePrefix(s) + ".";
        const int64_t I = (s.arch == "mixtral" || s.arch == "olmoe") ? s.intermediate : s.moe_intermediate;
        mat(m + "gate.weight", {s.experts, H}, s.router_scale);
        if (s.arch == "deepseek_v3") mat(m + "gate.e_score_correction_bias", {s.experts}, 0.05f);
        const char* g = s.arch == "mixtral" ? "w1" : "gate_proj";
        const char* u = s.arch == "mixtral" ? "w3" : "up_proj";
        const char* d = s.arch == "mixtral" ? "w2" : "down_proj";
        if (s.fused_experts) {
            mat(m + "experts.gate_up_proj", {s.experts, 2 * I, H}, ws);
            mat(m + "experts.down_proj", {s.experts, H, I}, ws);
        } else {
            for (int e = 0; e < s.experts; ++e) mlp(m + "experts." + std::to_string(e), I, g, u, d);
        }
        if (s.arch == "qwen2_moe" && s.shared_intermediate > 0) {
            mlp(m + "shared_expert", s.shared_intermediate, "gate_proj", "up_proj", "down_proj");
            mat(m + "shared_expert_gate.weight", {1, H}, ws);
        }
        if (isDeepseek(s) && s.n_shared > 0)
            mlp(m + "shared_experts", static_cast<int64_t>(s.n_shared) * s.moe_intermediate, "gate_proj", "up_proj", "down_proj");
    }
    norm("model.norm.weight", H);
    if (!s.tie_embeddings) mat("lm_head.weight", {V, H}, ws);
    for (const auto& edit : s.edits) edit(ts);
    return ts;
}

FixtureTensor* findTensor(std::vector<FixtureTensor>& ts, const std::string& name) {
    for (auto& t : ts)
        if (t.name == name) return &t;
    return nullptr;
}

std::string routerName(const FixtureSpec& s, int layer) {
    return "model.layers." + std::to_string(layer) + "." + moePrefix(s) + ".gate.weight";
}

std::string downProjName(const FixtureSpec& s, int layer, int expert) {
    return "model.layers." + std::to_string(layer) + "." + moePrefix(s) + ".experts." + std::to_string(expert) + "." +
           (s.arch == "mixtral" ? "w2" : "down_proj") + ".weight";
}

void plantTokenRouting(FixtureSpec& spec, int layer, int expert, const std::vector<int>& ids, int channel) {
    const std::string router = routerName(spec, layer);
    const int H = spec.hidden;
    spec.edits.push_back([=](std::vector<FixtureTensor>& ts) {
        FixtureTensor* emb = findTensor(ts, "model.embed_tokens.weight");
        FixtureTensor* r = findTensor(ts, router);
        if (!emb || !r) throw Error("plantTokenRouting: missing embed or router tensor " + router);
        const int64_t V = emb->shape[0];
        for (int64_t t = 0; t < V; ++t) emb->values[t * H + channel] = 0.0f;
        for (int t : ids) emb->values[static_cast<size_t>(t) * H + channel] = 6.0f;
        const int64_t E = r->shape[0];
        for (int64_t e = 0; e < E; ++e) r->values[e * H + channel] = e == expert ? 12.0f : -1.0f;
    });
}

void plantHugeDownProj(FixtureSpec& spec, int layer, int expert, int hidden_channel, float value) {
    const std::string name = downProjName(spec, layer, expert);
    spec.edits.push_back([=](std::vector<FixtureTensor>& ts) {
        FixtureTensor* d = findTensor(ts, name);
        if (!d) throw Error("plantHugeDownProj: missing " + name);
        const int64_t I = d->shape[1];
        for (int64_t i = 0; i < I; ++i) d->values[hidden_channel * I + i] = value;
    });
}

void plantZeroRouter(FixtureSpec& spec, int layer) {
    const std::string name = routerName(spec, layer);
    spec.edits.push_back([=](std::vector<FixtureTensor>& ts) {
        FixtureTensor* r = findTensor(ts, name);
        if (!r) throw Error("plantZeroRouter: missing " + name);
        std::fill(r->values.begin(), r->values.end(), 0.0f);
    });
}

std::string writeFixture(const std::string& dir, const FixtureSpec& spec, const std::string& subdir) {
    const fs::path out = subdir.empty() ? fs::path(dir) : fs::path(dir) / subdir;
    fs::create_directories(out);
    {
        std::ofstream f(out / "config.json");
        f << fixtureConfig(spec).dump(2);
    }
    if (spec.generation_config) {
        std::ofstream f(out / "generation_config.json");
        f << *spec.generation_config;
    }
    const auto ts = fixtureTensors(spec);
    const int n = std::max(1, spec.shards);
    if (n == 1) {
        SafetensorsWriter w;
        for (const auto& t : ts) w.add_f32(t.name, spec.dtype, t.shape, t.values);
        w.set_metadata("format", "pt");
        w.write((out / "model.safetensors").string());
        return out.string();
    }
    nlohmann::json index;
    index["metadata"] = {{"total_size", 0}};
    std::vector<SafetensorsWriter> ws(n);
    for (size_t i = 0; i < ts.size(); ++i) {
        const int shard = static_cast<int>(i * n / ts.size());
        ws[shard].add_f32(ts[i].name, spec.dtype, ts[i].shape, ts[i].values);
        char name[64];
        std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", shard + 1, n);
        index["weight_map"][ts[i].name] = name;
    }
    for (int i = 0; i < n; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i + 1, n);
        ws[i].write((out / name).string());
    }
    std::ofstream f(out / "model.safetensors.index.json");
    f << index.dump(2);
    return out.string();
}

}  // namespace moescope::test
