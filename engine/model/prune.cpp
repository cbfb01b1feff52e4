#include "engine/model/prune.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model/safetensors.h"

namespace moescope {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw Error(p.string() + ": cannot open");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) throw Error(p.string() + ": read failed");
    return s;
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream f(p, std::ios::binary);
    if (!f) throw Error(p.string() + ": cannot open for writing");
    f << text;
    if (!f) throw Error(p.string() + ": write failed");
}

nlohmann::json parse_json(const std::string& text, const std::string& what) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) throw Error(what + ": invalid JSON");
    return j;
}

// Copies rows `keep` along dimension 0 of a tensor.
std::vector<uint8_t> select_rows(const TensorInfo& t, const std::vector<int>& keep) {
    const size_t row = t.nbytes() / static_cast<size_t>(t.shape.at(0));
    std::vector<uint8_t> out;
    out.reserve(row * keep.size());
    for (int e : keep) out.insert(out.end(), t.data + e * row, t.data + (e + 1) * row);
    return out;
}

// Rewrites one safetensors file into `w`.
void prune_file(const SafetensorsFile& in, const KeptExperts& plan, SafetensorsWriter& w, PruneReport& st) {
    static const std::regex per_expert(R"(^(model\.layers\.(\d+)\.(?:block_sparse_moe|mlp)\.experts\.)(\d+)(\..+)$)");
    static const std::regex fused(R"(^model\.layers\.(\d+)\.(?:block_sparse_moe|mlp)\.experts\.(?:gate_up_proj|down_proj)$)");
    static const std::regex router(R"(^model\.layers\.(\d+)\.(?:block_sparse_moe|mlp)\.gate\.(?:weight|e_score_correction_bias)$)");
    for (const auto& kv : in.metadata()) w.set_metadata(kv.first, kv.second);
    for (const TensorInfo& t : in.tensors()) {
        std::smatch m;
        std::vector<uint8_t> bytes(t.data, t.data + t.nbytes());
        if (std::regex_match(t.name, m, per_expert)) {
            const auto it = plan.find(std::stoi(m[2].str()));
            if (it != plan.end()) {
                const auto& keep = it->second;
                const auto pos = std::find(keep.begin(), keep.end(), std::stoi(m[3].str()));
                if (pos == keep.end()) {
                    ++st.removed_tensors;
                    continue;
                }
                w.add_raw(m[1].str() + std::to_string(pos - keep.begin()) + m[4].str(), t.dtype_name, t.shape, std::move(bytes));
                ++st.copied_tensors;
                continue;
            }
        } else if (std::regex_match(t.name, m, fused) || std::regex_match(t.name, m, router)) {
            const auto it = plan.find(std::stoi(m[1].str()));
            if (it != plan.end()) {
                if (t.shape.empty()) throw Error(in.path() + ": tensor '" + t.name + "' has no expert dimension");
                std::vector<int64_t> shape = t.shape;
                for (int e : it->second)
                    if (e >= shape[0])
                        throw Error(in.path() + ": tensor '" + t.name + "' has " + std::to_string(shape[0]) +
                                    " rows, the plan keeps expert " + std::to_string(e));
                shape[0] = static_cast<int64_t>(it->second.size());
                w.add_raw(t.name, t.dtype_name, shape, select_rows(t, it->second));
                ++st.sliced_tensors;
                continue;
            }
        }
        w.add_raw(t.name, t.dtype_name, t.shape, std::move(bytes));
        ++st.copied_tensors;
    }
}

}  // namespace

PrunePlan read_prune_plan(const std::string& path) {
    const auto j = parse_json(read_text(path), path);
    if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array())
        throw Error(path + ": expected {\"layers\": [{\"layer\": L, \"keep\": [...]}, ...]}");
    PrunePlan plan;
    plan.source = path;
    if (j.contains("n_experts") && j["n_experts"].is_number_integer()) plan.n_experts = j["n_experts"].get<int>();
    for (size_t i = 0; i < j["layers"].size(); ++i) {
        const auto& l = j["layers"][i];
        const std::string where = path + ": layers[" + std::to_string(i) + "]";
        if (!l.is_object() || !l.contains("layer") || !l["layer"].is_number_integer() || !l.contains("keep") ||
            !l["keep"].is_array())
            throw Error(where + ": expected {\"layer\": L, \"keep\": [...]}");
        std::vector<int> keep;
        for (const auto& e : l["keep"]) {
            if (!e.is_number_integer()) throw Error(where + ": expert ids must be integers");
            keep.push_back(e.get<int>());
        }
        plan.layers.emplace_back(l["layer"].get<int>(), std::move(keep));
    }
    return plan;
}

KeptExperts resolve_prune_plan(const PrunePlan& p, const ModelConfig& c) {
    const std::string& path = p.source;
    if (p.n_experts && *p.n_experts != c.n_experts)
        throw Error(path + ": plan was made for " + std::to_string(*p.n_experts) + " experts, the model has " +
                    std::to_string(c.n_experts));
    KeptExperts plan;
    for (size_t i = 0; i < p.layers.size(); ++i) {
        const auto& [L, ids] = p.layers[i];
        const std::string where = path + ": layers[" + std::to_string(i) + "]";
        if (!c.is_moe(L)) throw Error(where + ": layer " + std::to_string(L) + " is not a MoE layer of this model");
        if (plan.count(L)) throw Error(where + ": layer " + std::to_string(L) + " listed twice");
        std::set<int> keep;
        for (int e : ids) {
            if (e < 0 || e >= c.n_experts)
                throw Error(where + ": expert ids must be integers in [0, " + std::to_string(c.n_experts) + ")");
            if (!keep.insert(e).second) throw Error(where + ": expert " + std::to_string(e) + " listed twice");
        }
        plan[L].assign(keep.begin(), keep.end());
    }
    if (plan.empty()) throw Error(path + ": the plan lists no layers");
    const size_t K = plan.begin()->second.size();
    for (const auto& [L, keep] : plan)
        if (keep.size() != K)
            throw Error(path + ": every MoE layer must keep the same number of experts (config.json has one count): layer " +
                        std::to_string(plan.begin()->first) + " keeps " + std::to_string(K) + ", layer " +
                        std::to_string(L) + " keeps " + std::to_string(keep.size()));
    if (K < static_cast<size_t>(c.top_k))
        throw Error(path + ": keeping " + std::to_string(K) + " experts per layer is fewer than num_experts_per_tok (" +
                    std::to_string(c.top_k) + ")");
    for (int L : c.moe_layers)
        if (!plan.count(L)) {
            if (K != static_cast<size_t>(c.n_experts))
                throw Error(path + ": MoE layer " + std::to_string(L) + " is missing from the plan (all MoE layers must keep " +
                            std::to_string(K) + ")");
            plan[L].resize(c.n_experts);
            for (int e = 0; e < c.n_experts; ++e) plan[L][e] = e;
        }
    if (c.n_group > 1 && K % static_cast<size_t>(c.n_group) != 0)
        throw Error(path + ": " + std::to_string(K) + " experts per layer is not divisible by n_group (" +
                    std::to_string(c.n_group) + ")");
    return plan;
}

PruneReport prune_checkpoint(const std::string& model, const std::string& out, const PrunePlan& p, const PruneOptions& o) {
    const fs::path model_dir = model, out_dir = out;
    if (!fs::is_directory(model_dir)) throw Error(model_dir.string() + ": not a model folder");
    std::error_code ec;
    if (fs::equivalent(model_dir, out_dir, ec)) throw Error(out_dir.string() + ": the output folder must differ from the model folder");
    if (fs::exists(out_dir) && !fs::is_empty(out_dir) && !o.force)
        throw Error(out_dir.string() + ": exists and is not empty (use --force to overwrite)");

    const std::string config_text = read_text(model_dir / "config.json");
    const std::string gen_text = fs::exists(model_dir / "generation_config.json") ? read_text(model_dir / "generation_config.json") : "";
    auto cfg = parse_model_config(config_text, gen_text, (model_dir / "config.json").string());
    if (!cfg.ok()) throw cfg.error();
    const ModelConfig& c = cfg.value();
    PruneReport st;
    st.kept = resolve_prune_plan(p, c);
    const KeptExperts& plan = st.kept;
    const int K = static_cast<int>(plan.begin()->second.size());

    // Which safetensors files make up the checkpoint.
    std::vector<std::string> shards;
    nlohmann::json index;
    const bool sharded = fs::exists(model_dir / "model.safetensors.index.json");
    if (sharded) {
        index = parse_json(read_text(model_dir / "model.safetensors.index.json"), (model_dir / "model.safetensors.index.json").string());
        if (!index.contains("weight_map") || !index["weight_map"].is_object())
            throw Error((model_dir / "model.safetensors.index.json").string() + ": missing 'weight_map' object");
        std::set<std::string> files;
        for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) files.insert(it.value().get<std::string>());
        shards.assign(files.begin(), files.end());
    } else if (fs::exists(model_dir / "model.safetensors")) {
        shards = {"model.safetensors"};
    } else {
        throw Error(model_dir.string() + ": no model.safetensors or model.safetensors.index.json");
    }
    auto config = parse_json(config_text, (model_dir / "config.json").string());

    fs::create_directories(out_dir);
    nlohmann::json weight_map = nlohmann::json::object();
    const int total_files = static_cast<int>(shards.size());
    for (size_t i = 0; i < shards.size(); ++i) {
        if (o.stop && o.stop->load()) throw Error("pruning cancelled (" + out_dir.string() + " is incomplete)");
        const auto& shard = shards[i];
        auto file = SafetensorsFile::open((model_dir / shard).string());
        if (!file.ok()) throw file.error();
        SafetensorsWriter w;
        prune_file(*file.value(), plan, w, st);
        const std::vector<uint8_t> bytes = w.serialize();
        const auto pruned = SafetensorsFile::parse(shard, bytes);  // re-validate what we are about to write
        if (!pruned.ok()) throw Error("pruned " + shard + " failed validation: " + pruned.message());
        for (const auto& t : pruned.value()->tensors()) {
            weight_map[t.name] = shard;
            st.weight_bytes += t.nbytes();
        }
        w.write((out_dir / shard).string());
        if (o.progress) o.progress(static_cast<int>(i) + 1, total_files);
    }
    if (sharded) {
        index["weight_map"] = weight_map;
        if (!index.contains("metadata") || !index["metadata"].is_object()) index["metadata"] = nlohmann::json::object();
        index["metadata"]["total_size"] = st.weight_bytes;
        write_text(out_dir / "model.safetensors.index.json", index.dump(2) + "\n");
    }

    // config.json with the new expert count and the original ids per layer.
    bool updated = false;
    for (const char* key : {"num_local_experts", "num_experts", "n_routed_experts"})
        if (config.contains(key)) {
            config[key] = K;
            updated = true;
        }
    if (!updated) throw Error((model_dir / "config.json").string() + ": no num_local_experts / num_experts / n_routed_experts key");
    nlohmann::json kept = nlohmann::json::object();
    for (const auto& [L, keep] : plan) kept[std::to_string(L)] = keep;
    config["moescope_prune"] = {{"original_num_experts", c.n_experts}, {"kept_experts", kept}, {"plan", p.source}};
    write_text(out_dir / "config.json", config.dump(2) + "\n");

    // Everything else (tokenizer, generation config, ...) unchanged.
    for (const auto& entry : fs::directory_iterator(model_dir)) {
        if (!entry.is_regular_file()) continue;
        const std::string name = entry.path().filename().string();
        if (name == "config.json" || name == "model.safetensors.index.json" ||
            std::find(shards.begin(), shards.end(), name) != shards.end())
            continue;
        if (entry.path().extension() == ".safetensors") continue;  // stray weights not in the checkpoint
        fs::copy_file(entry.path(), out_dir / name, fs::copy_options::overwrite_existing);
    }
    st.original_num_experts = c.n_experts;
    st.num_experts = K;
    st.layers = static_cast<int>(plan.size());
    return st;
}

}  // namespace moescope
