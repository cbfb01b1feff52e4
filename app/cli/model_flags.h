#pragma once
// Flags shared by the model-running subcommands (eval, generate, and later record): interventions
// (--disable L:E, --force L:E, --bias L:E:B, --top-k K, --route-top-p P), token lists, threads.
#include <memory>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "engine/interventions.h"
#include "engine/model/model.h"

namespace moescope::cli {

// Declares --disable, --force, --bias, --top-k, --route-top-p, --route-top-p-max-k on args.
void declare_intervention_flags(Args& args);
// Parses them (UsageError on malformed values) and validates against the model (UsageError naming the
// flag when a layer/expert is out of range or not MoE).
Interventions parse_intervention_flags(const Args& args, const Model& model);
// "1,17,42" -> ids (UsageError on malformed entries).
std::vector<int32_t> parse_token_list(const std::string& text, const std::string& what);
// Loads MODEL (or 'demo'); throws moescope::Error on failure.
std::unique_ptr<Model> load_model_or_throw(const std::string& path);

}  // namespace moescope::cli
