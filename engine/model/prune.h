#pragma once
// Expert pruning of a Hugging Face checkpoint (methods.md §6 EASY-EP / §8 MC-MoE plans; `moescope-cli prune`
// and the app's Importance view "Export pruned model…" both call this).
//
// A plan keeps, per MoE layer, a set of original expert ids:
//   {"kind": "moescope.prune_plan", "n_experts": E, "layers": [{"layer": L, "keep": [e, ...]}, ...]}
// Every MoE layer must keep the same number of experts K (config.json has one expert count); a MoE layer
// missing from the plan must therefore keep all E, so K = E there. For each MoE layer the kept experts are
// renumbered 0..K-1 in ascending original id (config.json gets "moescope_prune" with the original ids):
//   - router `...gate.weight` [E, H] keeps the rows of the kept experts (and DeepSeek's
//     `gate.e_score_correction_bias` [E] its entries);
//   - per-expert tensors `...experts.{e}.*` of dropped experts are removed, kept ones renamed;
//   - fused tensors `...experts.gate_up_proj` [E, 2I, H] / `...experts.down_proj` [E, H, I] keep slices;
//   - config.json: num_local_experts / num_experts / n_routed_experts set to K (whichever keys exist);
//   - every other tensor and file is copied unchanged; sharded checkpoints keep their shard names and get
//     a rewritten model.safetensors.index.json.
// For softmax routers, removing router rows equals masking those logits to -inf (P1, methods.md §0.3), so
// the pruned model computes exactly what the original computes with the dropped experts disabled.
// DeepSeek-V3 group-limited routing regroups experts (groups are contiguous id ranges), so its pruned model
// differs from masking; plans whose K is not divisible by n_group are refused.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/config.h"

namespace moescope {

struct PrunePlan {
    std::optional<int> n_experts;                          // the expert count the plan was made for, if stated
    std::vector<std::pair<int, std::vector<int>>> layers;  // (layer, kept ids) as listed
    std::string source;                                    // file path or description (errors, config record)
};

// Reads the JSON shape of a plan file (throws Error naming the file).
PrunePlan read_prune_plan(const std::string& path);

// layer -> kept original expert ids, ascending, for EVERY MoE layer of `c` (throws Error naming
// plan.source and the reason: unknown layer, duplicate ids, uneven K, K < top_k, K % n_group).
using KeptExperts = std::map<int, std::vector<int>>;
KeptExperts resolve_prune_plan(const PrunePlan& plan, const ModelConfig& c);

struct PruneOptions {
    bool force = false;                                  // write into a non-empty output folder
    std::function<void(int done, int total)> progress;   // safetensors files written so far (engine thread)
    const std::atomic<bool>* stop = nullptr;             // checked between files; throws Error("cancelled")
};
struct PruneReport {
    int original_num_experts = 0, num_experts = 0, layers = 0;
    int64_t removed_tensors = 0, sliced_tensors = 0, copied_tensors = 0;
    uint64_t weight_bytes = 0;
    KeptExperts kept;
};

// Writes the pruned checkpoint of `model_dir` into `out_dir` (created). Validates everything (model folder,
// config, plan, output folder) before writing anything. Throws Error on failure.
PruneReport prune_checkpoint(const std::string& model_dir, const std::string& out_dir, const PrunePlan& plan,
                             const PruneOptions& options = {});

}  // namespace moescope
