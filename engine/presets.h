#pragma once
// Intervention presets as JSON (no Qt; the CLI's --preset and anything outside the app use this).
// Format (same as app/gui/expert_preset.h):
//   {"name": "...", "disable": [[L,E],...], "force": [[L,E],...], "bias": [[L,E,b],...],
//    "top_k": 4 | null, "top_k_per_layer": [[L,k],...], "top_p": 0.9, "top_p_max_k": 8,
//    "rank_only": r, "rank_only_layers": [L,...], "zero_output": [[L,E],...]}
//   zero_output: the expert stays selected with its weight, its output is zeroed (interventions.h)
// Every key except "name" is optional; unknown keys are errors (a typo must not silently do nothing).
#include <string>

#include "engine/error.h"
#include "engine/interventions.h"

namespace moescope {

struct Preset {
    std::string name;
    Interventions interventions;
};

// `source` names the file in messages ("refusal.json: 'disable'[3]: expected [layer, expert]").
Result<Preset> parse_preset(const std::string& json_text, const std::string& source = "preset");
std::string preset_to_json(const Preset& preset);
// The interventions alone as one compact JSON object in the same format without "name" ("disable",
// "force", "bias" and "top_k" always; the other keys only when set), so parse_preset reads it back. The
// one serialisation for `eval` / `generate --json` output and a recorded run's intervention timeline.
std::string interventions_to_json(const Interventions& iv);
Result<Preset> load_preset_file(const std::string& path);
Result<bool> save_preset_file(const std::string& path, const Preset& preset);

}  // namespace moescope
