#include "app/cli/record_support.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

namespace moescope::cli {

namespace fs = std::filesystem;

static uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

storage::ModelInfo model_info(const Model& model) {
    const ModelSummary& s = model.summary();
    storage::ModelInfo m;
    fs::path dir(model.dir());
    m.name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
    m.architecture = s.architecture;
    m.path = fs::absolute(dir).lexically_normal().string();
    std::ifstream cfg(dir / "config.json", std::ios::binary);
    m.config_json.assign(std::istreambuf_iterator<char>(cfg), std::istreambuf_iterator<char>());
    uint64_t h = fnv1a(0xcbf29ce484222325ull, m.config_json.data(), m.config_json.size());
    std::set<std::string> files;  // sorted: the hash does not depend on directory order
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".safetensors") files.insert(e.path().filename().string());
    for (const auto& f : files) {
        uint64_t size = fs::file_size(dir / f, ec);
        h = fnv1a(h, f.data(), f.size());
        h = fnv1a(h, &size, sizeof size);
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    m.content_hash = buf;
    m.n_layers = s.n_layers;
    m.n_experts = s.n_experts;
    m.top_k = s.top_k;
    m.moe_layers = s.moe_layers;
    return m;
}

std::string interventions_json(const Interventions& iv) {
    nlohmann::json j;
    j["disable"] = nlohmann::json::array();
    for (const auto& d : iv.disable) j["disable"].push_back({d.layer, d.expert});
    j["force"] = nlohmann::json::array();
    for (const auto& f : iv.force) j["force"].push_back({f.layer, f.expert});
    j["bias"] = nlohmann::json::array();
    for (const auto& b : iv.bias) j["bias"].push_back({b.layer, b.expert, b.bias});
    j["top_k"] = iv.top_k ? nlohmann::json(*iv.top_k) : nlohmann::json(nullptr);
    j["top_k_per_layer"] = nlohmann::json::array();
    for (const auto& t : iv.top_k_per_layer) j["top_k_per_layer"].push_back({t.layer, t.k});
    j["top_p"] = iv.top_p ? nlohmann::json(*iv.top_p) : nlohmann::json(nullptr);
    j["top_p_max_k"] = iv.top_p_max_k;
    return j.dump();
}

std::string sampling_json(const SamplingParams& sp, int max_new_tokens) {
    nlohmann::json j = {{"greedy", sp.greedy},     {"temperature", sp.temperature},
                        {"top_k", sp.top_k},       {"top_p", sp.top_p},
                        {"min_p", sp.min_p},       {"repeat_penalty", sp.repeat_penalty},
                        {"seed", sp.seed},         {"max_new_tokens", max_new_tokens}};
    return j.dump();
}

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
    db_->add_intervention_change(run_, -1, interventions_json(iv));
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
