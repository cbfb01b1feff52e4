#pragma once
// Internal helpers shared by the *_json.cpp files.
#include <cmath>

#include <nlohmann/json.hpp>

#include "analysis/common.h"

namespace moescope::analysis::detail {

inline nlohmann::json filter_json(const TokenFilter& f) {
    return {{"tokens", token_kind_name(f.kind)},
            {"sets", f.sets},
            {"exclude_token_ids", f.exclude_token_ids},
            {"marked_span", !f.mask.empty()}};
}
inline const char* score_name(ScoreFunction s) { return s == ScoreFunction::Softmax ? "softmax" : "sigmoid"; }
inline nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace moescope::analysis::detail
