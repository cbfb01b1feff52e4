#pragma once
// Streaming generation on a Session: sample, feed, report each token through a callback.
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/sampling.h"
#include "engine/session.h"

namespace moescope {

// Routing of one MoE layer at one position (copied out of the engine's scratch).
struct LayerRouting {
    int layer = 0;
    std::vector<int32_t> experts;  // best first
    std::vector<float> weights;
    float shared_gate = -1.0f;
};

struct GeneratedToken {
    int index = 0;                 // 0-based index among the new tokens
    int32_t id = 0;
    std::string piece;             // decoded text piece (empty when no detokenizer was given)
    float logprob = 0.0f;          // log p(id) under the raw logits
    std::vector<TokenProb> top;    // the most likely alternatives at this position, best first
    // Routing of the forward pass whose logits chose this token, at its last position (for token 0 the
    // last prompt position), per MoE layer in layer order.
    std::vector<LayerRouting> routing;
    // Index into Session::timeline() of the interventions in force for that forward pass.
    int timeline_index = 0;
};

struct GenerateOptions {
    SamplingParams sampling;
    int max_new_tokens = 64;
    bool stop_on_eos = true;
    std::vector<int32_t> eos_ids;  // empty = the model's eos ids
    int top_alternatives = 5;      // entries in GeneratedToken::top (0 = none)
    bool capture_routing = true;   // fill GeneratedToken::routing
    // Interventions to switch to at given steps (a recorded Session::timeline() replays a run exactly):
    // an entry with step s is applied right before decode step s (step -1: before the prompt).
    std::vector<InterventionChange> schedule;
    // Text piece of a new token (e.g. the tokenizer's incremental decoder). Optional.
    std::function<std::string(int32_t)> detokenize;
};

struct GenerateResult {
    std::vector<int32_t> tokens;   // the new tokens
    std::string stop_reason;       // "eos", "max_new_tokens", "cancelled", "callback"
};

// Prefills `prompt` (may be empty when the session already holds a context) and generates. The callback
// returns false to stop. The session's observer (if any) still receives every event. Throws Error on bad
// input (see Session).
GenerateResult generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(const GeneratedToken&)>& on_token = {});

}  // namespace moescope
