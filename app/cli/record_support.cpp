#include "app/cli/record_support.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/presets.h"

namespace moescope::cli {

namespace fs = std::filesystem;

}  // namespace moescope::cli

#include <ostream>

#include "storage/capture.h"
#include "storage/recorder.h"

namespace moescope::cli {

GenerationRecording::GenerationRecording(const std::string& db_path, const std::string& capture, const Model& model,
                                         const Interventions& iv, const SamplingParams& sp, int max_new,
                                         const std::vector<int32_t>& prompt, const std::string& prompt_text,
                                         const Tokenizer* tok)
    : path_(db_path) {
    auto level = storage::parse_capture_level(capture);
    if (!level) throw UsageError("--capture must be routing, logits or activations");
    db_ = storage::Database::open(db_path, storage::Access::Write);
    const ModelSummary& ms = model.summary();
    storage::RunInfo run;
    run.model_id = db_->find_or_add_model(model_info(model));
    run.kind = storage::RunKind::Generation;
    run.label = "generate";
    run.sampling_json = sampling_json(sp, max_new);
    run.seed = static_cast<int64_t>(sp.seed);
    run.capture = *level;
    run.n_layers = ms.n_layers;
    run.n_experts = ms.n_experts;
    run.k_max = std::max(ms.top_k, iv.top_k.value_or(0));
    for (const auto& t : iv.top_k_per_layer) run.k_max = std::max(run.k_max, t.k);
    if (iv.top_p) run.k_max = std::max(run.k_max, iv.top_p_max_k > 0 ? iv.top_p_max_k : ms.top_k);
    run.moe_layers = ms.moe_layers;
    run_ = db_->begin_run(run);
    db_->add_intervention_change(run_, -1, interventions_to_json(iv));
    const int64_t prompt_id = db_->add_prompt(std::nullopt, prompt_text, "");
    storage::RecorderOptions opt;
    opt.level = *level;
    rec_ = std::make_unique<storage::Recorder>(*db_, run_, opt);
    rec_->begin_sequence(prompt_id);
    if (tok)
        for (size_t i = 0; i < prompt.size(); ++i) rec_->set_token_text(static_cast<int64_t>(i), tok->decode({prompt[i]}));
}

GenerationRecording::~GenerationRecording() = default;

RoutingObserver* GenerationRecording::observer() { return rec_.get(); }

void GenerationRecording::token_text(int64_t position, const std::string& text) { rec_->set_token_text(position, text); }

bool GenerationRecording::finish(bool interrupted, std::ostream& log) {
    std::string err = rec_->finish(interrupted ? storage::RunStatus::Interrupted : storage::RunStatus::Complete,
                                   interrupted ? "stopped by the user (Ctrl-C)" : "");
    storage::RunInfo r = db_->run(run_);
    log << "recorded run " << run_ << " into " << path_ << " (" << storage::run_status_name(r.status) << "): "
        << db_->token_count(run_) << " tokens, " << r.steps_committed << " steps\n";
    if (!err.empty()) log << "moescope-cli generate: error: recording stopped: " << err << "\n";
    return err.empty();
}

}  // namespace moescope::cli
