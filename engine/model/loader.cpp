// Model loading: resolve the folder, parse config, map the safetensors (single file or sharded index),
// bind every tensor the architecture needs with its expected shape, and reject missing, extra or
// mis-shaped tensors with messages naming file and tensor.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/model/model.h"
#include "engine/model/safetensors.h"
#include "moescope/build_info.h"

namespace moescope {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw Error(p.string() + ": cannot open");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::string o = "[";
    for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
    return o + "]";
}

// Tensor-name patterns of a family (HF on-disk names).
struct ArchNames {
    const char* moe;            // MoE sub-module of a layer
    const char* w_gate;         // per-expert gate/up/down names
    const char* w_up;
    const char* w_down;
    const char* shared;         // shared expert MLP sub-module
};

ArchNames names_for(Family f) {
    switch (f) {
        case Family::Mixtral: return {"block_sparse_moe", "w1", "w3", "w2", ""};
        case Family::Qwen2Moe: return {"mlp", "gate_proj", "up_proj", "down_proj", "shared_expert"};
        case Family::DeepseekV2:
        case Family::DeepseekV3: return {"mlp", "gate_proj", "up_proj", "down_proj", "shared_experts"};
        default: return {"mlp", "gate_proj", "up_proj", "down_proj", ""};
    }
}

}  // namespace

class ModelLoader {
public:
    ModelLoader(Model& m, Model::Progress progress, const std::atomic<bool>* cancel)
        : m_(m), progress_(std::move(progress)), cancel_(cancel) {}

    void load(const fs::path& dir) {
        m_.dir_ = dir.string();
        if (!fs::is_directory(dir)) throw Error(dir.string() + ": not a model folder (expected config.json and *.safetensors)");
        const fs::path cfg = dir / "config.json";
        if (!fs::exists(cfg)) throw Error(cfg.string() + ": missing (not a Hugging Face model folder)");
        std::string gen;
        if (fs::exists(dir / "generation_config.json")) gen = read_text(dir / "generation_config.json");
        auto parsed = parse_model_config(read_text(cfg), gen, cfg.string());
        if (!parsed.ok()) throw parsed.error();
        m_.config_ = parsed.value();
        open_files(dir);
        bind_all();
        check_extra();
        summarize();
        report(1.0, "done");
    }

private:
    void report(double f, const std::string& what) {
        if (progress_) progress_(f, what);
        if (cancel_ && cancel_->load()) throw Error(m_.dir_ + ": loading cancelled");
    }

    void open_files(const fs::path& dir) {
        const fs::path index = dir / "model.safetensors.index.json";
        const fs::path single = dir / "model.safetensors";
        if (fs::exists(index)) {
            index_file_ = index.string();
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(read_text(index));
            } catch (const nlohmann::json::parse_error& e) {
                throw Error(index.string() + ": malformed JSON: " + e.what());
            }
            if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
                throw Error(index.string() + ": missing 'weight_map' object");
            std::map<std::string, size_t> file_ids;
            for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
                if (!it.value().is_string()) throw Error(index.string() + ": weight_map entry '" + it.key() + "' is not a file name");
                const std::string shard = it.value().get<std::string>();
                if (shard.find('/') != std::string::npos || shard == ".." || shard.empty())
                    throw Error(index.string() + ": weight_map entry '" + it.key() + "' names an invalid file '" + shard + "'");
                if (!file_ids.count(shard)) {
                    const size_t id = m_.files_.size();
                    file_ids[shard] = id;
                    report(0.05 + 0.15 * id / std::max<size_t>(1, j["weight_map"].size()), "opening " + shard);
                    auto f = SafetensorsFile::open((dir / shard).string());
                    if (!f.ok()) throw f.error();
                    m_.files_.push_back(f.value());
                }
                const auto& file = m_.files_[file_ids[shard]];
                const TensorInfo* t = file->find(it.key());
                if (!t)
                    throw Error(index.string() + ": tensor '" + it.key() + "' is mapped to " + shard +
                                " but that file does not contain it");
                tensors_[it.key()] = {t, file->path()};
            }
            // Tensors present in shards but not listed in the index are extra.
            for (const auto& f : m_.files_)
                for (const auto& t : f->tensors())
                    if (!tensors_.count(t.name))
                        throw Error(f->path() + ": tensor '" + t.name + "' is not listed in " + index.filename().string());
        } else if (fs::exists(single)) {
            index_file_ = single.string();
            report(0.05, "opening model.safetensors");
            auto f = SafetensorsFile::open(single.string());
            if (!f.ok()) throw f.error();
            m_.files_.push_back(f.value());
            for (const auto& t : f.value()->tensors()) tensors_[t.name] = {&t, f.value()->path()};
        } else {
            throw Error(dir.string() + ": no model.safetensors or model.safetensors.index.json");
        }
    }

    struct Found {
        const TensorInfo* t = nullptr;
        std::string file;
    };

    const Found& get(const std::string& name, const std::vector<int64_t>& shape) {
        auto it = tensors_.find(name);
        if (it == tensors_.end())
            throw Error(index_file_ + ": missing tensor '" + name + "' (expected shape " + shape_str(shape) + ")");
        const TensorInfo& t = *it->second.t;
        if (!t.dtype) {
            if (t.dtype_name.rfind("F8", 0) == 0)
                throw Error(it->second.file + ": tensor '" + name + "' has dtype " + t.dtype_name +
                            ": FP8 checkpoints are not supported yet (use a BF16 conversion)");
            throw Error(it->second.file + ": tensor '" + name + "' has unsupported dtype " + t.dtype_name +
                        " (supported: BF16, F16, F32)");
        }
        if (t.shape != shape)
            throw Error(it->second.file + ": tensor '" + name + "' has shape " + shape_str(t.shape) + ", expected " +
                        shape_str(shape));
        used_.insert(name);
        dtypes_[*t.dtype] += t.numel();
        return it->second;
    }
    bool has(const std::string& name) const { return tensors_.count(name) > 0; }

    MatrixView matrix(const std::string& name, int64_t rows, int64_t cols) {
        const Found& f = get(name, {rows, cols});
        return MatrixView{name, *f.t->dtype, f.t->data, rows, cols};
    }
    std::vector<float> vec(const std::string& name, int64_t n) {
        const Found& f = get(name, {n});
        std::vector<float> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) v[i] = load_as_f32(*f.t->dtype, f.t->data, static_cast<size_t>(i));
        return v;
    }
    MlpWeights mlp(const std::string& prefix, int64_t inter, const ArchNames& nm, bool per_expert_names) {
        const int64_t H = m_.config_.hidden_size;
        MlpWeights w;
        const std::string g = per_expert_names ? nm.w_gate : "gate_proj";
        const std::string u = per_expert_names ? nm.w_up : "up_proj";
        const std::string d = per_expert_names ? nm.w_down : "down_proj";
        w.gate = matrix(prefix + "." + g + ".weight", inter, H);
        w.up = matrix(prefix + "." + u + ".weight", inter, H);
        w.down = matrix(prefix + "." + d + ".weight", H, inter);
        return w;
    }

    void bind_attention(const std::string& p, AttentionWeights& a) {
        const ModelConfig& c = m_.config_;
        const int64_t H = c.hidden_size, nh = c.n_heads, nkv = c.n_kv_heads, D = c.head_dim;
        if (c.attention == AttentionKind::Gqa) {
            a.q = matrix(p + "q_proj.weight", nh * D, H);
            a.k = matrix(p + "k_proj.weight", nkv * D, H);
            a.v = matrix(p + "v_proj.weight", nkv * D, H);
            a.o = matrix(p + "o_proj.weight", H, nh * D);
            if (c.qkv_bias) {
                a.q_bias = vec(p + "q_proj.bias", nh * D);
                a.k_bias = vec(p + "k_proj.bias", nkv * D);
                a.v_bias = vec(p + "v_proj.bias", nkv * D);
            }
            if (c.o_bias) a.o_bias = vec(p + "o_proj.bias", H);
            if (c.qk_norm == QkNorm::PerHead) {
                a.q_norm = vec(p + "q_norm.weight", D);
                a.k_norm = vec(p + "k_norm.weight", D);
            } else if (c.qk_norm == QkNorm::Full) {
                a.q_norm = vec(p + "q_norm.weight", nh * D);
                a.k_norm = vec(p + "k_norm.weight", nkv * D);
            }
        } else {
            const int64_t qd = c.qk_nope_head_dim + c.qk_rope_head_dim;
            if (c.q_lora_rank > 0) {
                a.q_a = matrix(p + "q_a_proj.weight", c.q_lora_rank, H);
                a.q_a_norm = vec(p + "q_a_layernorm.weight", c.q_lora_rank);
                a.q_b = matrix(p + "q_b_proj.weight", nh * qd, c.q_lora_rank);
            } else {
                a.q = matrix(p + "q_proj.weight", nh * qd, H);
            }
            a.kv_a = matrix(p + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, H);
            a.kv_a_norm = vec(p + "kv_a_layernorm.weight", c.kv_lora_rank);
            a.kv_b = matrix(p + "kv_b_proj.weight", nh * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
            a.o = matrix(p + "o_proj.weight", H, nh * c.v_head_dim);
            if (c.o_bias) a.o_bias = vec(p + "o_proj.bias", H);
        }
    }

    void bind_moe(const std::string& p, MoeWeights& w) {
        const ModelConfig& c = m_.config_;
        const ArchNames nm = names_for(c.family);
        const int64_t H = c.hidden_size, E = c.n_experts, I = c.moe_intermediate_size;
        const std::string mp = p + nm.moe + ".";
        w.router = matrix(mp + "gate.weight", E, H);
        if (c.has_score_correction_bias) w.score_correction_bias = vec(mp + "gate.e_score_correction_bias", E);
        w.experts.resize(E);
        const std::string fused_gu = mp + "experts.gate_up_proj", fused_d = mp + "experts.down_proj";
        if (has(fused_gu) || has(fused_d)) {
            // transformers v5 fused layout: gate_up_proj [E, 2I, H] (gate rows first, then up; HF
            // .chunk(2, dim=-1) of the linear output), down_proj [E, H, I].
            const Found& gu = get(fused_gu, {E, 2 * I, H});
            const Found& dn = get(fused_d, {E, H, I});
            const size_t es = dtype_size(*gu.t->dtype), ds = dtype_size(*dn.t->dtype);
            for (int64_t e = 0; e < E; ++e) {
                const char* base = reinterpret_cast<const char*>(gu.t->data) + static_cast<size_t>(e * 2 * I * H) * es;
                w.experts[e].gate = {fused_gu + "[" + std::to_string(e) + "].gate", *gu.t->dtype, base, I, H};
                w.experts[e].up = {fused_gu + "[" + std::to_string(e) + "].up", *gu.t->dtype,
                                   base + static_cast<size_t>(I * H) * es, I, H};
                w.experts[e].down = {fused_d + "[" + std::to_string(e) + "]", *dn.t->dtype,
                                     reinterpret_cast<const char*>(dn.t->data) + static_cast<size_t>(e * H * I) * ds, H, I};
            }
        } else {
            for (int64_t e = 0; e < E; ++e) w.experts[e] = mlp(mp + "experts." + std::to_string(e), I, nm, true);
        }
        if (c.n_shared_experts > 0 && c.shared_intermediate_size > 0) {
            w.shared = mlp(mp + nm.shared, c.shared_intermediate_size, nm, false);
            if (c.shared_expert_gate) w.shared_gate = matrix(mp + "shared_expert_gate.weight", 1, H);
        }
    }

    void bind_all() {
        const ModelConfig& c = m_.config_;
        const int64_t H = c.hidden_size, V = c.vocab_size;
        ModelWeights& w = m_.weights_;
        w.embed = matrix("model.embed_tokens.weight", V, H);
        for (int l = 0; l < c.n_layers; ++l) {
            report(0.2 + 0.75 * l / c.n_layers, "layer " + std::to_string(l));
            const std::string p = "model.layers." + std::to_string(l) + ".";
            // grown per layer, so an absurd num_hidden_layers fails on the first missing tensor
            LayerWeights& L = w.layers.emplace_back();
            L.input_norm = vec(p + "input_layernorm.weight", H);
            L.post_attn_norm = vec(p + "post_attention_layernorm.weight", H);
            bind_attention(p + "self_attn.", L.attn);
            L.is_moe = c.is_moe(l);
            if (L.is_moe) bind_moe(p, L.moe);
            else L.dense = mlp(p + "mlp", c.intermediate_size, names_for(c.family), false);
        }
        w.final_norm = vec("model.norm.weight", H);
        if (c.tie_word_embeddings && !has("lm_head.weight")) w.lm_head = w.embed;
        else w.lm_head = matrix("lm_head.weight", V, H);
    }

    void check_extra() {
        const ModelConfig& c = m_.config_;
        for (const auto& [name, f] : tensors_) {
            if (used_.count(name)) continue;
            // Ignorable by HF too: rotary caches, DeepSeek multi-token-prediction layers beyond n_layers.
            if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;
            if (name.rfind("model.layers.", 0) == 0) {
                const int idx = std::atoi(name.c_str() + 13);
                if (idx >= c.n_layers && (c.family == Family::DeepseekV3 || c.family == Family::DeepseekV2)) continue;
            }
            if (name.ends_with(".weight_scale_inv"))
                throw Error(f.file + ": tensor '" + name + "': FP8 block-scaled checkpoints are not supported yet");
            throw Error(f.file + ": unexpected tensor '" + name + "' (not used by " + c.model_type +
                        " with this config; wrong model_type or config?)");
        }
    }

    void summarize() {
        const ModelConfig& c = m_.config_;
        ModelSummary& s = m_.summary_;
        s.architecture = c.model_type;
        s.path = m_.dir_;
        s.n_layers = c.n_layers;
        s.moe_layers = c.moe_layers;
        s.n_experts = c.n_experts;
        s.top_k = c.top_k;
        s.n_shared_experts = c.moe_layers.empty() ? 0 : c.n_shared_experts;
        s.vocab_size = c.vocab_size;
        s.hidden_size = c.hidden_size;
        s.eos_token_ids = c.eos_token_ids;
        s.bos_token_id = c.bos_token_id;
        s.generation = c.generation;
        int64_t total = 0;
        uint64_t bytes = 0;
        for (const auto& name : used_) {
            const TensorInfo& t = *tensors_.at(name).t;
            total += t.numel();
            bytes += t.nbytes();
        }
        s.params_total = total;
        s.weight_bytes = bytes;
        const int64_t per_expert = 3 * static_cast<int64_t>(c.moe_intermediate_size) * c.hidden_size;
        s.params_active = total - static_cast<int64_t>(c.moe_layers.size()) * (c.n_experts - c.top_k) * per_expert;
        if (dtypes_.size() == 1) s.dtype = dtype_name(dtypes_.begin()->first);
        else s.dtype = "mixed";
        // float32 K and V per token per layer as the CPU cache stores them.
        const int64_t kv = static_cast<int64_t>(c.kv_heads_cached()) * (c.q_head_dim() + c.attn_v_head_dim());
        s.kv_bytes_per_token = static_cast<uint64_t>(kv) * 4 * c.n_layers;
    }

    Model& m_;
    Model::Progress progress_;
    const std::atomic<bool>* cancel_;
    std::string index_file_;
    std::map<std::string, Found> tensors_;
    std::set<std::string> used_;
    std::map<DType, int64_t> dtypes_;
};

Result<std::string> Model::resolve_model_path(const std::string& path_or_demo) {
    if (path_or_demo != "demo") return path_or_demo;
    std::vector<std::string> tried;
    if (const char* e = std::getenv("MOESCOPE_DEMO_MODEL"); e && *e) {
        if (fs::exists(fs::path(e) / "config.json")) return std::string(e);
        tried.push_back(std::string(e) + " ($MOESCOPE_DEMO_MODEL)");
    }
    const fs::path src = fs::path(MOESCOPE_SOURCE_DIR) / "resources" / "models" / "demo";
    if (fs::exists(src / "config.json")) return src.string();
    tried.push_back(src.string());
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path rel = exe.parent_path() / ".." / ".." / "resources" / "models" / "demo";
        if (fs::exists(rel / "config.json")) return fs::weakly_canonical(rel).string();
        tried.push_back(rel.string());
    }
    std::string list;
    for (const auto& t : tried) list += "\n  " + t;
    return Error("demo model not found; looked in:" + list +
                 "\nSet MOESCOPE_DEMO_MODEL to a model folder or pass a model path instead of 'demo'.");
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path_or_demo, Progress progress,
                                           const std::atomic<bool>* cancel) {
    return try_result([&]() -> std::unique_ptr<Model> {
        auto resolved = resolve_model_path(path_or_demo);
        if (!resolved.ok()) throw resolved.error();
        std::unique_ptr<Model> m(new Model());
        ModelLoader loader(*m, std::move(progress), cancel);
        loader.load(fs::path(resolved.value()));
        return m;
    });
}

Model::~Model() = default;

Result<bool> Model::check_expert(int layer, int expert) const {
    const ModelConfig& c = config_;
    if (layer < 0 || layer >= c.n_layers)
        return Error("layer " + std::to_string(layer) + " is out of range (the model has layers 0.." +
                     std::to_string(c.n_layers - 1) + ")");
    if (!c.is_moe(layer)) {
        std::string list;
        for (int l : c.moe_layers) list += (list.empty() ? "" : ",") + std::to_string(l);
        return Error("layer " + std::to_string(layer) + " is not a MoE layer (MoE layers: " + list + ")");
    }
    if (expert < 0 || expert >= c.n_experts)
        return Error("expert " + std::to_string(expert) + " is out of range for layer " + std::to_string(layer) +
                     " (experts 0.." + std::to_string(c.n_experts - 1) + ")");
    return true;
}

}  // namespace moescope
