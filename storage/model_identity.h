#pragma once
// Which checkpoint recorded a run, and whether a model folder is that checkpoint. Used before anything
// is derived from runs and written against a model (the app's "Export pruned model…"): pruning a
// different checkpoint with experts ranked on another one's routing would silently produce nonsense.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/database.h"

namespace moescope::storage {

// FNV-1a 64 over the folder's config.json bytes and the names and sizes of its *.safetensors files,
// sorted: cheap, reads no weights, and the value model_info() records in the model row. Empty folder
// or no config.json: the hash of nothing.
std::string model_content_hash(const std::string& dir);

// nullopt when every run in run_ids was recorded with the checkpoint in `dir` (same content hash), or
// has no model row to compare (imported runs); else a message naming the run, the model it was recorded
// with (name, path) and the folder given. Throws Error for an unknown run id.
std::optional<std::string> runs_model_mismatch(Database& db, const std::vector<int64_t>& run_ids, const std::string& dir);

}  // namespace moescope::storage
