// moescope-cli import --db DB --format vllm-routed-experts|sglang-per-token FILE
#include <iostream>
#include <sstream>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "storage/import.h"

namespace moescope::cli {

static std::vector<int> parse_layers(const std::string& s) {
    std::vector<int> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(static_cast<int>(parse_int(item, "--moe-layers")));
    return out;
}

int cmd_import(const CommandArgs& argv) {
    Args a;
    a.positional("FILE", "routing captured by vLLM (.npy or .json) or SGLang (.json or .npy dump)")
        .option("db", "activation database to write (created when missing)")
        .option("format", "vllm-routed-experts | sglang-per-token")
        .option("model", "model name to record with the run (default: unknown (imported))")
        .option("label", "run label (default: the file name)")
        .option("set", "prompt set name for the imported sequences")
        .option("moe-layers", "comma-separated HF layer index of each MoE slot (default 0..M-1)")
        .option("n-experts", "routed experts per layer (default: largest id + 1)");
    a.parse(argv);
    if (a.help_requested()) {
        std::cout << a.usage("import")
                  << "\nImports expert ids only: weights, logits and activations are marked absent (not zero).\n"
                     "SGLang .pt files are pickles and are never loaded: dump them to JSON or .npy first.\n"
                     "See docs/database.md for the accepted layouts and the fields each import fills.\n";
        return 0;
    }
    auto fmt = storage::parse_import_format(a.get("format"));
    if (!fmt) throw UsageError("--format must be vllm-routed-experts or sglang-per-token (got '" + a.get("format") + "')");
    storage::ImportOptions opt;
    opt.model_name = a.get_or("model", "");
    opt.label = a.get_or("label", "");
    if (a.has("set")) opt.prompt_set = a.get("set");
    if (a.has("moe-layers")) opt.moe_layers = parse_layers(a.get("moe-layers"));
    opt.n_experts = static_cast<int>(a.get_int("n-experts", 0));
    auto db = storage::Database::open(a.get("db"), storage::Access::Write);
    storage::ImportResult r = storage::import_routing(*db, *fmt, *a.pos("FILE"), opt);
    std::cout << "imported run " << r.run_id << ": " << r.sequences << " sequence(s), " << r.tokens << " tokens x "
              << r.n_moe << " MoE layers, top-" << r.top_k << "\nfields: " << r.fields_json << "\n";
    return 0;
}

}  // namespace moescope::cli
