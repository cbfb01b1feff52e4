#pragma once
// Shared by `record` and `generate --record`: describing a loaded model, its interventions and
// sampling settings as database rows.
#include <string>

#include "engine/interventions.h"
#include "engine/model/model.h"
#include "engine/sampling.h"
#include "app/cli/args.h"
#include "storage/database.h"
#include "storage/prompt_recording.h"

namespace moescope::cli {

// name (folder name), architecture, path, config.json text, a content hash (FNV-1a 64 over config.json
// and the sizes of the *.safetensors files: cheap, identifies a checkpoint without reading weights),
// layers/experts/top-k and the MoE layer list.
// (They live in storage/prompt_recording.h, shared with the app.)
using storage::model_info;
using storage::sampling_json;

}  // namespace moescope::cli

#include <memory>

#include "engine/routing_tap.h"
#include "engine/tokenizer/tokenizer.h"

namespace moescope::storage {
class Recorder;
}

namespace moescope::cli {

// `generate --record DB`: one run (kind generation) holding the single generated sequence.
class GenerationRecording {
public:
    // Opens DB for writing, writes the model, run, prompt rows and the intervention state, and starts
    // the recorder. Throws Error (in use, read-only, not a database...) before anything is generated.
    GenerationRecording(const std::string& db_path, const std::string& capture, const Model& model,
                        const Interventions& iv, const SamplingParams& sp, int max_new,
                        const std::vector<int32_t>& prompt, const std::string& prompt_text, const Tokenizer* tok);
    ~GenerationRecording();
    RoutingObserver* observer();
    void token_text(int64_t position, const std::string& text);
    // Closes the run (complete, or interrupted) and prints one summary line to `log`. Returns false
    // when recording failed (the message is printed too).
    bool finish(bool interrupted, std::ostream& log);

private:
    std::unique_ptr<storage::Database> db_;
    std::unique_ptr<storage::Recorder> rec_;
    int64_t run_ = 0;
    std::string path_;
};

}  // namespace moescope::cli
