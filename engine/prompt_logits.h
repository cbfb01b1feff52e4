#pragma once
// Teacher-forced logits of prompts under a set of interventions: one fresh session and one prefill per
// prompt (the forward passes behind "prune what-if", methods.md §3.2 item 6). Shared by
// `moescope-cli analyze what-if` and the app's Super experts view; the comparison itself is
// analysis/what_if.h (distribution_shift).
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/interventions.h"
#include "engine/model/model.h"
#include "engine/session.h"

namespace moescope {

struct PromptLogits {
    int vocab = 0;
    std::vector<float> logits;     // [T][V], every prompt position
    std::vector<int32_t> targets;  // [T] next prompt token, -1 at the last position
};

// Throws Error when the session rejects the interventions (message prefixed "interventions: ") or a
// forward fails. Stops early (fewer results) when `stop` is raised. on_progress(done) after each prompt.
std::vector<PromptLogits> prompt_logits(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                        const Interventions& interventions, int threads = 0,
                                        const std::atomic<bool>* stop = nullptr,
                                        const std::function<void(size_t done)>& on_progress = {},
                                        const SessionDevice& device = {});

}  // namespace moescope
