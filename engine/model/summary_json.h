#pragma once
// The model summary as JSON (what `moescope-cli info` prints and the app can show).
#include <nlohmann/json.hpp>

#include "engine/model/model.h"

namespace moescope {

// context: tokens for the memory estimate (weights + float32 KV cache).
nlohmann::json summary_to_json(const Model& model, int64_t context);

}  // namespace moescope
