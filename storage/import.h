#pragma once
// Importing routing captured by other engines into the same schema (ids only; what a source does not
// carry is stored as absent: NULL columns plus run.fields_json, never zeros). docs/database.md lists
// which fields each format fills.
//
//   vllm-routed-experts: vLLM's `routed_experts`, int16 [tokens, moe_layers, top_k]; a .npy file, or JSON:
//     a nested list [T][M][K], an object {"routed_experts": [...] | base64, "prompt_token_ids": [...],
//     "output_token_ids"|"token_ids": [...]}, or a list of such objects (one sequence each).
//   sglang-per-token: SGLang's expert-distribution recorder in per-token mode, dumped to JSON (records
//     with "topk_ids_of_layer" [L][T][K] and optional "physical_to_logical_map" [L][P]) or to .npy
//     ([L, T, K]); or a per-request "routed_experts" base64 int32 [T, L, K] with "shape" or
//     "num_layers"/"top_k". SGLang's .pt files are pickles and are refused: dump them to JSON or .npy.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/database.h"

namespace moescope::storage {

enum class ImportFormat { VllmRoutedExperts, SglangPerToken };
std::optional<ImportFormat> parse_import_format(const std::string& name);

struct ImportOptions {
    std::string model_name;          // empty: "unknown (imported)"
    std::string label;               // empty: the file name
    std::optional<std::string> prompt_set;
    std::vector<int> moe_layers;     // HF layer index per MoE slot; empty: slots 0..M-1 (marked absent)
    int n_experts = 0;               // 0: max id + 1 (marked absent)
};

struct ImportResult {
    int64_t run_id = 0;
    int64_t sequences = 0;
    int64_t tokens = 0;
    int n_moe = 0;
    int top_k = 0;
    std::string fields_json;
};

// One transaction: on any error nothing is written. Throws Error naming the file and the reason.
ImportResult import_routing(Database& db, ImportFormat format, const std::string& file, const ImportOptions& opt = {});

}  // namespace moescope::storage
