#pragma once
// Read-only catalogue queries beside the routing reader, for the analysis views and scripts: which prompt
// sets have recorded tokens, and the stored text of the token rows read_routing() returns for a selection
// (row for row, so a view can label routing rows without a second SQL dialect in the app layer).
#include <cstdint>
#include <string>
#include <vector>

#include "storage/database.h"
#include "storage/routing_reader.h"
#include "storage/run_admin.h"

namespace moescope::storage {

struct PromptSetSummary {
    std::string name;
    int64_t prompts = 0;  // prompts in the set (recorded or not)
};
// Prompt sets with at least one recorded token, sorted by name.
std::vector<PromptSetSummary> recorded_prompt_sets(Database& db);

// The token rows read_routing(db, sel) returns, in the same order and with the same run, prompt-set and
// prompt/generated filters: element r describes routing row r. Throws Error like read_routing for an
// unknown run or prompt set.
std::vector<TokenRow> selection_token_rows(Database& db, const RoutingSelection& sel);

}  // namespace moescope::storage
