#pragma once
// Recording a prompt set into the activation database: one run (kind record), one prompt row per line,
// one fresh session per prompt, routing per step through the storage Recorder. Shared by
// `moescope-cli record` and the app's "Record now" (fTRI, super experts views), so both write the same
// rows. Also the model and sampling descriptions every recorded run carries (interventions: engine/presets.h
// interventions_to_json).
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/session.h"
#include "engine/interventions.h"
#include "engine/model/model.h"
#include "engine/prompt_file.h"
#include "engine/sampling.h"
#include "engine/tokenizer/tokenizer.h"
#include "storage/database.h"

namespace moescope::storage {

// name (folder name), architecture, path, config.json text, a content hash (FNV-1a 64 over config.json
// and the sizes of the *.safetensors files: cheap, identifies a checkpoint without reading weights),
// layers/experts/top-k and the MoE layer list. A model quantised with quantize_q8_0() is named
// "<folder> (Q8_0)".
ModelInfo model_info(const Model& model);
std::string sampling_json(const SamplingParams& sp, int max_new_tokens);

// The names of the database's prompt sets, sorted.
std::vector<std::string> prompt_set_names(Database& db);

struct PromptRecordingOptions {
    std::string label;                      // run label
    CaptureLevel level = CaptureLevel::Routing;
    LogitsDtype logits_dtype = LogitsDtype::F16;
    bool sink_per_head = false;             // per-head first-token attention mass (level Activations)
    int max_new_tokens = 32;                // per prompt (0 = prompt only)
    SamplingParams sampling;                // default greedy
    bool stop_on_eos = true;
    int threads = 0;                        // 0 = all cores
    SessionDevice device;                   // CPU by default; the app passes the loaded model's device
    Interventions interventions;
    const std::atomic<bool>* stop = nullptr;  // polled per token; raised -> the run ends Interrupted
    std::string stop_detail = "stopped by the user";
};

struct PromptRecordingResult {
    int64_t run_id = 0;
    size_t prompts = 0, done = 0;
    int64_t tokens = 0;              // prompt + generated tokens fed
    double bytes_per_token = 0;      // storage estimate for this capture level
    int64_t planned_tokens = 0;      // prompt tokens + max_new per prompt
    RunStatus status = RunStatus::Complete;
    std::string detail;              // why failed / interrupted
    std::string recorder_error;      // the recorder stopped (disk full, ...): non-empty = failed
    std::string engine_error;        // the engine threw
};

// Thrown before anything is written when the session rejects the interventions (the CLI maps it to a
// usage error).
class InvalidInterventions : public Error {
public:
    using Error::Error;
};

// `prompts` must be tokenized (tokenize_prompts). on_start runs once after the run row exists (the CLI
// prints its header there); on_progress after each prompt. Engine errors end the run Failed and are
// returned, not thrown; database errors before the run starts are thrown (Error).
PromptRecordingResult record_prompts(Database& db, const Model& model, const Tokenizer* tok,
                                     const std::vector<PromptLine>& prompts, const PromptRecordingOptions& options,
                                     const std::function<void(const PromptRecordingResult&)>& on_start = {},
                                     const std::function<void(const PromptRecordingResult&)>& on_progress = {});

}  // namespace moescope::storage
