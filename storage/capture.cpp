#include "storage/capture.h"

#include <cstdio>

namespace moescope::storage {

std::optional<CaptureLevel> parse_capture_level(const std::string& name) {
    if (name == "routing" || name == "ids+weights" || name == "ids") return CaptureLevel::Routing;
    if (name == "logits") return CaptureLevel::Logits;
    if (name == "activations") return CaptureLevel::Activations;
    return std::nullopt;
}

const char* capture_level_name(CaptureLevel level) {
    switch (level) {
        case CaptureLevel::None: return "none";
        case CaptureLevel::Routing: return "routing";
        case CaptureLevel::Logits: return "logits";
        case CaptureLevel::Activations: return "activations";
    }
    return "routing";
}

double estimate_bytes_per_token(const ModelShape& s, CaptureLevel level, LogitsDtype logits, bool sink_per_head) {
    if (level == CaptureLevel::None) return 0.0;
    // Row sizes of docs/database.md's tables: rowid key varint (token * 1024 + layer: ~6 bytes), record
    // header, cell pointer and size, then the payload. Keys are appended in order, so leaf pages end up
    // nearly full (measured on this schema with 16 KiB pages: ~97%).
    const double fill = 1.0 / 0.97;
    const double k = s.top_k;
    double bytes = 40.0;                              // token row + its (run, seq, position) index entry
    bytes += s.n_moe * (12.0 + 2.0 * k + 4.0 * k);    // routing: ids int16 + weights f32
    if (level >= CaptureLevel::Logits)
        bytes += s.n_moe * (12.0 + s.n_experts * (logits == LogitsDtype::F16 ? 2.0 : 4.0));
    if (level >= CaptureLevel::Activations) {
        bytes += s.n_moe * (23.0 + 12.0 * k);         // out_norm f32, down_proj max f32, channel i32, s_t REAL
        bytes += s.n_layers * (44.0 + (sink_per_head ? 4.0 * s.n_heads + 2.0 : 0.0));  // layer_stat row
    }
    return bytes * fill;
}

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

}  // namespace moescope::storage
