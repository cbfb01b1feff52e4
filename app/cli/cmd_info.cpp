// moescope-cli info MODEL [--context N]: the model summary as one JSON object (architecture, layers,
// MoE layers, experts, top-k, shared experts, parameters total/active, dtype, memory for weights + KV
// cache at N tokens of context).
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/model_flags.h"
#include "engine/model/summary_json.h"

namespace moescope::cli {

int cmd_info(const CommandArgs& argv) {
    Args args;
    args.positional("MODEL", "model folder (Hugging Face layout) or 'demo'")
        .option("context", "context length for the memory estimate (default 4096)");
    args.parse(argv);
    if (args.help_requested()) {
        std::cout << args.usage("info");
        return 0;
    }
    const long long ctx = args.get_int("context", 4096);
    if (ctx < 0 || ctx > (1ll << 40)) throw UsageError("--context must be a non-negative token count");
    auto model = load_model_or_throw(*args.pos("MODEL"));
    std::cout << summary_to_json(*model, ctx).dump(2) << "\n";
    return 0;
}

}  // namespace moescope::cli
