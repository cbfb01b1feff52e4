#include "engine/behavior_eval.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "engine/generate.h"
#include "engine/session.h"

namespace moescope {

Result<std::vector<Detector>> load_detectors(const std::string& json_path) {
    std::ifstream f(json_path, std::ios::binary);
    if (!f) return Error(json_path + ": cannot open the detectors file");
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error(json_path + ": not a JSON object");
    std::vector<Detector> out;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_object() || !it.value().contains("regex")) continue;  // e.g. "domain_checks" (prose)
        const auto& d = it.value();
        if (!d["regex"].is_string()) return Error(json_path + ": " + it.key() + ".regex must be a string");
        Detector det;
        det.name = it.key();
        det.pattern = d["regex"].get<std::string>();
        if (d.contains("description") && d["description"].is_string()) det.description = d["description"].get<std::string>();
        try {
            det.re = std::regex(det.pattern, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            return Error(json_path + ": " + it.key() + ".regex: " + e.what());
        }
        out.push_back(std::move(det));
    }
    if (out.empty()) return Error(json_path + ": no detector with a \"regex\"");
    return out;
}

Result<Detector> load_detector(const std::string& json_path, const std::string& name) {
    auto all = load_detectors(json_path);
    if (!all.ok()) return Error(all.message());
    std::string known;
    for (auto& d : all.value()) {
        if (d.name == name) return d;
        known += (known.empty() ? "" : ", ") + d.name;
    }
    return Error(json_path + ": no detector '" + name + "' (known: " + known + ")");
}

BehaviorEvalResult evaluate_behavior(const Model& model, const Tokenizer* tok, const std::vector<PromptLine>& prompts,
                                     const Detector& detector, const BehaviorEvalOptions& o,
                                     const std::function<void(size_t done)>& on_progress) {
    BehaviorEvalResult res;
    auto stopped = [&] { return o.stop && o.stop->load(); };
    GenerateOptions g;
    g.sampling.greedy = true;
    g.max_new_tokens = o.max_new_tokens;
    g.stop_on_eos = true;
    g.capture_routing = false;
    g.top_alternatives = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
        if (stopped()) {
            res.stopped = true;
            break;
        }
        Session session(model, SessionOptions{o.threads}, o.device);
        if (auto ok = session.set_interventions(o.interventions); !ok.ok()) throw Error(ok.message());
        const GenerateResult r = generate(session, prompts[i].ids, g, [&](const GeneratedToken&) { return !stopped(); });
        if (stopped()) {
            res.stopped = true;
            break;
        }
        BehaviorSample s;
        s.line = prompts[i].line;
        if (tok) s.reply = tok->decode(r.tokens, /*skip_special=*/true);
        s.detected = detector.matches(s.reply);
        res.detected += s.detected ? 1 : 0;
        ++res.prompts;
        res.samples.push_back(std::move(s));
        if (on_progress) on_progress(i + 1);
    }
    return res;
}

}  // namespace moescope
