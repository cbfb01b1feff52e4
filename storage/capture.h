#pragma once
// Capture levels as users choose them, and what they cost on disk before recording starts.
#include <cstdint>
#include <optional>
#include <string>

#include "engine/routing_tap.h"
#include "storage/database.h"

namespace moescope::storage {

// "routing" (alias "ids+weights"), "logits", "activations"; nullopt for anything else.
std::optional<CaptureLevel> parse_capture_level(const std::string& name);
const char* capture_level_name(CaptureLevel level);

struct ModelShape {
    int n_layers = 0;   // decoder layers (layer statistics are per layer)
    int n_moe = 0;      // MoE layers (routing rows are per MoE layer)
    int top_k = 0;
    int n_experts = 0;
    int n_heads = 0;    // attention heads (per-head sink mass, opt-in)
};

// Estimated database bytes per recorded token at `level`: the BLOB payloads plus SQLite's per-row
// record and B-tree overhead (measured on this schema; see docs/database.md). Shown by `record`
// before it starts and checked against real files by the tests.
double estimate_bytes_per_token(const ModelShape& shape, CaptureLevel level,
                                LogitsDtype logits = LogitsDtype::F16, bool sink_per_head = false);

// "1.5 KB" style formatting for the estimate.
std::string human_bytes(double bytes);

}  // namespace moescope::storage
