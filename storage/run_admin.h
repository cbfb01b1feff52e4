#pragma once
// Run administration for the app's Runs panel and scripts: rename, delete, and the token rows of a run.
// Kept in storage/ with the schema it touches, so a new per-run table is deleted in one place
// (tests/storage/test_run_admin.cpp fails when a table is neither listed here nor known to be global).
#include <cstdint>
#include <string>
#include <vector>

#include "storage/database.h"

namespace moescope::storage {

// Per-token capture tables keyed by rowid token * 1024 + layer (schema.cpp): deleted by token range.
extern const std::vector<std::string> kPerTokenTables;
// Tables with a run_id column: deleted by run id.
extern const std::vector<std::string> kPerRunTables;

// Throws Error when the run does not exist or the database is read-only.
void rename_run(Database& db, int64_t run_id, const std::string& label);
// Deletes the run and every row that belongs to it, in one transaction (all or nothing).
void delete_run(Database& db, int64_t run_id);

struct TokenRow {
    std::string text;   // "" when the recorder had no text for it
    int32_t token_id = -1;
    bool generated = false;
};
// The run's tokens in row order (sequence, then position): the order read_routing returns rows in.
std::vector<TokenRow> token_rows(Database& db, int64_t run_id);

}  // namespace moescope::storage
