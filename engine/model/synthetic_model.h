#pragma once
// Synthetic models for benchmarks: the real shapes (hyperparameters) of well-known MoE checkpoints with
// random BF16 weights, optionally cut to fewer layers so they fit in memory. They are written as a
// Hugging Face folder (config.json + model.safetensors) into a RAM-backed temporary directory
// (/dev/shm when it has room, else the system temp dir) and loaded through the ordinary Model::load,
// so the engine runs them exactly like a real checkpoint (memory-mapped weights). The folder is
// removed when the SyntheticModel is destroyed.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/model/model.h"

namespace moescope {

// "olmoe-1b-7b", "qwen3-30b-a3b", "mixtral-8x7b", "deepseek-v2-lite", and "tiny-olmoe" (a few-MB
// OLMoE-shaped model for CI runs of the bench command).
std::vector<std::string> synthetic_model_names();

// config.json of a synthetic model; layers > 0 truncates num_hidden_layers. Error for unknown names.
Result<std::string> synthetic_config_json(const std::string& name, int layers);

// Parameters of the synthetic model (every tensor written), without building it.
Result<int64_t> synthetic_param_count(const std::string& name, int layers);

class SyntheticModel {
public:
    // Builds and loads the model. `seed` makes the weights reproducible.
    static Result<std::unique_ptr<SyntheticModel>> create(const std::string& name, int layers, uint64_t seed = 1);
    ~SyntheticModel();
    SyntheticModel(const SyntheticModel&) = delete;
    SyntheticModel& operator=(const SyntheticModel&) = delete;

    const Model& model() const { return *model_; }
    Model& model() { return *model_; }  // e.g. to quantize_q8_0() before use
    const std::string& dir() const { return dir_; }
    uint64_t file_bytes() const { return file_bytes_; }

private:
    SyntheticModel() = default;
    std::string dir_;
    uint64_t file_bytes_ = 0;
    std::unique_ptr<Model> model_;
};

}  // namespace moescope
