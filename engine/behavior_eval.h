#pragma once
// Behaviour evaluation (methods.md §1 MoTE): generate greedily on held-out prompts under a set of
// interventions and count replies a detector flags (e.g. refusals). The detector comes from a
// detectors.json file (resources/prompts/detectors.json): {"NAME": {"regex": "...", "description": ...}}.
// This is the loop tools/mote_demo.py runs through `moescope-cli generate --chat --greedy`, as a library
// function for the app's "Evaluate" button (fTRI view).
#include <atomic>
#include <cstdint>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "engine/interventions.h"
#include "engine/model/model.h"
#include "engine/prompt_file.h"
#include "engine/session.h"
#include "engine/tokenizer/tokenizer.h"

namespace moescope {

struct Detector {
    std::string name;
    std::string description;
    std::string pattern;  // ECMAScript regex, searched in the reply
    std::regex re;
    // The reply is the decoded new tokens with special tokens removed.
    bool matches(const std::string& reply) const { return std::regex_search(reply, re); }
};

// The detectors of a detectors.json file that have a "regex" (name order). Error names the file.
Result<std::vector<Detector>> load_detectors(const std::string& json_path);
Result<Detector> load_detector(const std::string& json_path, const std::string& name);

struct BehaviorEvalOptions {
    int max_new_tokens = 12;         // tools/mote_demo.py --max-new default
    Interventions interventions;
    int threads = 0;
    SessionDevice device;            // CPU by default; the app passes the loaded model's device
    const std::atomic<bool>* stop = nullptr;  // polled per token; the result is then partial (stopped)
};

struct BehaviorSample {
    int line = 0;        // prompt line in its file
    std::string reply;
    bool detected = false;
};

struct BehaviorEvalResult {
    int64_t prompts = 0;   // evaluated prompts
    int64_t detected = 0;
    bool stopped = false;
    std::vector<BehaviorSample> samples;
    double rate() const { return prompts ? static_cast<double>(detected) / static_cast<double>(prompts) : 0.0; }
};

// Greedy generation (stops at EOS) on each tokenized prompt in a fresh session. Throws Error when the
// interventions are rejected or the engine fails. on_progress(done) after each prompt.
BehaviorEvalResult evaluate_behavior(const Model& model, const Tokenizer* tok, const std::vector<PromptLine>& prompts,
                                     const Detector& detector, const BehaviorEvalOptions& options,
                                     const std::function<void(size_t done)>& on_progress = {});

}  // namespace moescope
