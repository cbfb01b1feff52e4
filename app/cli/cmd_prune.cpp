// moescope-cli prune MODEL --plan PLAN.json --out DIR — writes a pruned Hugging Face checkpoint.
//
// The plan is what `analyze importance --plan-out` writes:
//   {"kind": "moescope.prune_plan", "n_experts": E, "layers": [{"layer": L, "keep": [e, ...]}, ...]}
// The pruning itself (plan rules, tensor selection, config rewrite) is engine/model/prune.h, shared with
// the app's Importance view ("Export pruned model…"); this file is argument parsing and the JSON report.
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "engine/model/prune.h"

namespace moescope::cli {

int cmd_prune(const CommandArgs& argv) {
    namespace fs = std::filesystem;
    Args args;
    args.positional("MODEL", "model folder (Hugging Face layout)")
        .option("plan", "prune plan JSON (moescope-cli analyze importance --plan-out)")
        .option("out", "output folder (created; must be empty or absent)")
        .flag("force", "write into a non-empty output folder");
    args.parse(argv);
    if (args.help_requested()) {
        std::cout << args.usage("prune");
        return 0;
    }
    const fs::path model_dir = *args.pos("MODEL");
    const fs::path out_dir = args.get("out");
    const std::string plan_path = args.get("plan");
    if (!fs::is_directory(model_dir)) throw Error(model_dir.string() + ": not a model folder");
    std::error_code ec;
    if (fs::equivalent(model_dir, out_dir, ec)) throw UsageError("--out must differ from MODEL");

    PruneOptions o;
    o.force = args.has("force");
    const PruneReport st = prune_checkpoint(model_dir.string(), out_dir.string(), read_prune_plan(plan_path), o);
    nlohmann::json report = {{"model", model_dir.string()},
                             {"out", out_dir.string()},
                             {"original_num_experts", st.original_num_experts},
                             {"num_experts", st.num_experts},
                             {"layers", st.layers},
                             {"removed_tensors", st.removed_tensors},
                             {"sliced_tensors", st.sliced_tensors},
                             {"copied_tensors", st.copied_tensors},
                             {"weight_bytes", st.weight_bytes}};
    std::cout << report.dump(2) << "\n";
    return 0;
}

}  // namespace moescope::cli
