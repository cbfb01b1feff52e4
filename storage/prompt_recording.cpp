#include "storage/prompt_recording.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "engine/generate.h"
#include "engine/presets.h"
#include "engine/session.h"
#include "storage/capture.h"
#include "storage/model_identity.h"
#include "storage/recorder.h"

namespace moescope::storage {

namespace fs = std::filesystem;

ModelInfo model_info(const Model& model) {
    const ModelSummary& s = model.summary();
    ModelInfo m;
    fs::path dir(model.dir());
    m.name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
    // Runs of a Q8_0-quantised model (Model::quantize_q8_0) get their own model row, named so that
    // exports and the app show that the routing came from 8-bit weights.
    if (s.dtype == "Q8_0") m.name += " (Q8_0)";
    m.architecture = s.architecture;
    m.path = fs::absolute(dir).lexically_normal().string();
    std::ifstream cfg(dir / "config.json", std::ios::binary);
    m.config_json.assign(std::istreambuf_iterator<char>(cfg), std::istreambuf_iterator<char>());
    m.content_hash = model_content_hash(dir.string());
    m.n_layers = s.n_layers;
    m.n_experts = s.n_experts;
    m.top_k = s.top_k;
    m.moe_layers = s.moe_layers;
    return m;
}

std::string sampling_json(const SamplingParams& sp, int max_new_tokens) {
    nlohmann::json j = {{"greedy", sp.greedy},     {"temperature", sp.temperature},
                        {"top_k", sp.top_k},       {"top_p", sp.top_p},
                        {"min_p", sp.min_p},       {"repeat_penalty", sp.repeat_penalty},
                        {"seed", sp.seed},         {"max_new_tokens", max_new_tokens}};
    return j.dump();
}

std::vector<std::string> prompt_set_names(Database& db) {
    std::vector<std::string> out;
    Stmt s = db.db().prepare("SELECT name FROM prompt_set ORDER BY name");
    while (s.step()) out.push_back(s.text(0));
    return out;
}

PromptRecordingResult record_prompts(Database& db, const Model& model, const Tokenizer* tok,
                                     const std::vector<PromptLine>& prompts, const PromptRecordingOptions& o,
                                     const std::function<void(const PromptRecordingResult&)>& on_start,
                                     const std::function<void(const PromptRecordingResult&)>& on_progress) {
    const ModelSummary& ms = model.summary();
    const Interventions& iv = o.interventions;
    {
        Session probe(model, SessionOptions{1});
        if (auto ok = probe.set_interventions(iv); !ok.ok()) throw InvalidInterventions(ok.message());
    }
    RunInfo run;
    run.model_id = db.find_or_add_model(model_info(model));
    run.kind = RunKind::Record;
    run.label = o.label;
    run.sampling_json = sampling_json(o.sampling, o.max_new_tokens);
    run.seed = static_cast<int64_t>(o.sampling.seed);
    run.capture = o.level;
    run.logits_dtype = o.logits_dtype;
    run.n_layers = ms.n_layers;
    run.n_experts = ms.n_experts;
    run.k_max = ms.top_k;
    if (iv.top_k) run.k_max = std::max(run.k_max, *iv.top_k);
    for (const auto& t : iv.top_k_per_layer) run.k_max = std::max(run.k_max, t.k);
    if (iv.top_p) run.k_max = std::max(run.k_max, iv.top_p_max_k > 0 ? iv.top_p_max_k : ms.top_k);
    run.moe_layers = ms.moe_layers;

    PromptRecordingResult res;
    res.prompts = prompts.size();
    res.run_id = db.begin_run(run);
    db.add_intervention_change(res.run_id, -1, interventions_to_json(iv));
    std::vector<int64_t> prompt_ids;
    for (const auto& p : prompts) prompt_ids.push_back(db.add_prompt(db.prompt_set(p.set), p.text, p.messages_json));

    ModelShape shape{ms.n_layers, static_cast<int>(ms.moe_layers.size()), run.k_max, ms.n_experts, model.config().n_heads};
    for (const auto& p : prompts) res.planned_tokens += static_cast<int64_t>(p.ids.size()) + o.max_new_tokens;
    res.bytes_per_token = estimate_bytes_per_token(shape, o.level, o.logits_dtype, o.sink_per_head);
    if (on_start) on_start(res);

    RecorderOptions ropt;
    ropt.level = o.level;
    ropt.logits_dtype = o.logits_dtype;
    ropt.sink_per_head = o.sink_per_head;
    Recorder rec(db, res.run_id, ropt);
    auto stopped = [&] { return o.stop && o.stop->load(); };
    GenerateOptions gopt;
    gopt.sampling = o.sampling;
    gopt.max_new_tokens = o.max_new_tokens;
    gopt.stop_on_eos = o.stop_on_eos;
    gopt.capture_routing = false;
    gopt.top_alternatives = 0;
    try {
        for (size_t i = 0; i < prompts.size() && !stopped() && !rec.failed(); ++i) {
            const PromptLine& p = prompts[i];
            Session session(model, SessionOptions{o.threads}, o.device);
            (void)session.set_interventions(iv);  // validated above
            session.set_observer(&rec);
            rec.begin_sequence(prompt_ids[i]);
            if (tok)
                for (size_t k = 0; k < p.ids.size(); ++k) rec.set_token_text(static_cast<int64_t>(k), tok->decode({p.ids[k]}));
            std::optional<IncrementalDecoder> dec;
            if (tok) dec.emplace(*tok);
            if (dec) gopt.detokenize = [&](int32_t id) { return dec->push(id); };
            res.tokens += static_cast<int64_t>(p.ids.size());
            generate(session, p.ids, gopt, [&](const GeneratedToken& t) {
                rec.set_token_text(static_cast<int64_t>(p.ids.size()) + t.index, t.piece);
                ++res.tokens;
                return !stopped() && !rec.failed();
            });
            gopt.detokenize = nullptr;
            ++res.done;
            if (on_progress) on_progress(res);
        }
    } catch (const std::exception& e) {
        res.engine_error = e.what();
    }
    if (!res.engine_error.empty()) {
        res.status = RunStatus::Failed;
        res.detail = "engine: " + res.engine_error;
    } else if (stopped()) {
        res.status = RunStatus::Interrupted;
        res.detail = o.stop_detail;
    }
    res.recorder_error = rec.finish(res.status, res.detail);
    if (!res.recorder_error.empty()) res.status = RunStatus::Failed;
    return res;
}

}  // namespace moescope::storage
