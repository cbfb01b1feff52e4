#pragma once
// A loaded MoE model: resolved config, memory-mapped weights, summary. Load once, share read-only
// between any number of Sessions (engine/session.h); the Model must outlive them.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/model/config.h"
#include "engine/model/weights.h"

namespace moescope {

class SafetensorsFile;

// What `info` prints and the app shows.
struct ModelSummary {
    std::string architecture;       // model_type ("mixtral", "qwen3_moe", ...)
    std::string path;               // model folder
    int n_layers = 0;
    std::vector<int> moe_layers;    // HF layer indices
    int n_experts = 0;
    int top_k = 0;
    int n_shared_experts = 0;       // 0 = none
    int vocab_size = 0;
    int hidden_size = 0;
    int64_t params_total = 0;       // every tensor the model uses
    int64_t params_active = 0;      // per token: everything except the unselected routed experts
    std::string dtype;              // storage dtype of most weights ("BF16"), "mixed" when several
    uint64_t weight_bytes = 0;      // bytes of the tensors the model uses
    uint64_t kv_bytes_per_token = 0;  // float32 KV cache per token over all layers
    std::vector<int> eos_token_ids;
    std::optional<int> bos_token_id;
    GenerationDefaults generation;
    // Memory for weights plus a float32 KV cache holding `context` tokens.
    uint64_t memory_bytes(int64_t context) const { return weight_bytes + kv_bytes_per_token * static_cast<uint64_t>(context); }
};

class Model {
public:
    // fraction in [0, 1] and a short description of what is being loaded.
    using Progress = std::function<void(double fraction, const std::string& what)>;

    // Loads a Hugging Face model folder (config.json, model.safetensors or model.safetensors.index.json
    // with shards, generation_config.json when present), or "demo" for the bundled demo model
    // (see resolve_model_path). `cancel` is polled between tensors; a cancelled load returns an Error.
    static Result<std::unique_ptr<Model>> load(const std::string& path_or_demo, Progress progress = {},
                                               const std::atomic<bool>* cancel = nullptr);

    // "demo" -> $MOESCOPE_DEMO_MODEL, else <source dir>/resources/models/demo (MOESCOPE_SOURCE_DIR),
    // else <executable dir>/../../resources/models/demo. Other paths are returned unchanged.
    // Error when "demo" is asked for and none of these exists.
    static Result<std::string> resolve_model_path(const std::string& path_or_demo);

    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ModelConfig& config() const { return config_; }
    const ModelWeights& weights() const { return weights_; }
    const ModelSummary& summary() const { return summary_; }
    const std::string& dir() const { return dir_; }

    // Converts the big weight matrices (attention, MLPs and experts, lm_head; not the router, gates or
    // embeddings) to Q8_0 copies in memory (engine/model/quantize.h) for the CPU backend's 8-bit path.
    // Opt-in and lossy: call it right after load, before any Session or CUDA upload uses the model.
    // Returns how many matrices were converted (0 when already done or none qualifies: cols % 32 != 0).
    Result<int> quantize_q8_0(Progress progress = {});

    // Checks an (L, E) pair against the model: L must be a MoE layer and E < n_experts. Error text says why.
    Result<bool> check_expert(int layer, int expert) const;

private:
    Model() = default;
    friend class ModelLoader;
    std::string dir_;
    ModelConfig config_;
    ModelWeights weights_;
    ModelSummary summary_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;  // keep the mappings alive
    std::vector<std::vector<uint8_t>> owned_;              // Q8_0 copies (quantize_q8_0), 64 bytes of slack
};

}  // namespace moescope
