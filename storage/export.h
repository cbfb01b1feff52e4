#pragma once
// Export recorded routing for pandas/numpy users (docs/database.md "Export"):
//   csv:         routing.csv (long form: one row per token x MoE layer x rank, with shared_gate) + tokens.csv
//                (+ layer_stats.csv and sink_heads.csv at level activations)
//   jsonl:       routing.jsonl (one object per token x MoE layer) + tokens.jsonl (+ layer_stats.jsonl)
//   safetensors: run_<id>.safetensors per run with dense tensors experts I16 [T, M, K], weights F32
//                [T, M, K], token columns, router_logits [T, M, E] when captured, activations when captured,
//                shared_gate [T, M], sink_mass_head [T, n_layers, n_heads]
// Every format also writes runs.json, a sidecar describing the runs, models, MoE layers and prompt sets.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/database.h"

namespace moescope::storage {

enum class ExportFormat { Csv, Jsonl, Safetensors };
std::optional<ExportFormat> parse_export_format(const std::string& name);

struct ExportResult {
    std::vector<std::string> files;  // written, in order
    int64_t runs = 0;
    int64_t tokens = 0;
    int64_t token_layers = 0;
};

// Creates out_dir when missing. `run` limits the export to one run. Throws Error naming the file.
ExportResult export_routing(Database& db, ExportFormat format, const std::string& out_dir,
                            std::optional<int64_t> run = std::nullopt);

}  // namespace moescope::storage
