#pragma once
// Reading API for analysis/: routing of runs (or of a prompt set across runs) as dense RoutingArrays,
// and the aggregates the recorder maintains. Readers use their own connection (Access::ReadOnly is
// fine while a recording is in progress) and read inside one transaction, so the arrays are one
// consistent snapshot even if the writer commits meanwhile.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/database.h"
#include "storage/routing_arrays.h"

namespace moescope::storage {

struct RoutingSelection {
    std::vector<int64_t> run_ids;           // empty: all runs (or all runs with prompts in prompt_set)
    std::optional<std::string> prompt_set;  // only tokens of prompts in this set
    bool prompt_tokens = true;              // include prefill tokens
    bool generated_tokens = true;           // include generated tokens
    bool logits = false;                    // fill router_logits (when captured)
    bool activations = false;               // fill expert_out_norm / down_proj_max / down_proj_channel / token_contribution
    bool layer_stats = false;               // fill hidden_*, sink_mass and sink_mass_head (when stored)
};

// Throws Error when a run does not exist, the prompt set is unknown, or runs of different shapes are
// mixed: different MoE layer lists, different routed-expert counts (the message names both runs and
// their counts), or per-head sink mass for different head counts. `shared_gate` is always filled when
// any selected row has one. Absent fields stay empty in the arrays (an import without
// weights leaves `weights` empty; a token without a known id has token_id -1).
RoutingArrays read_routing(Database& db, const RoutingSelection& sel);
inline RoutingArrays read_run_routing(Database& db, int64_t run_id) {
    RoutingSelection s;
    s.run_ids = {run_id};
    return read_routing(db, s);
}

struct ExpertAggregate {
    int layer = 0;  // HF layer index
    int expert = 0;
    int64_t count = 0;
    std::optional<double> weight_sum;     // absent when the run has no weights (imports)
    std::optional<float> down_proj_max;   // absent below capture level Activations
};
// Per (layer, expert) selection counts of a run, from the aggregate table (no routing scan).
std::vector<ExpertAggregate> expert_aggregates(Database& db, int64_t run_id);
// Per layer token counts of a run: (layer, tokens).
std::vector<std::pair<int, int64_t>> layer_token_counts(Database& db, int64_t run_id);

}  // namespace moescope::storage
