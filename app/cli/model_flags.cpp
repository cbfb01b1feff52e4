#include "app/cli/model_flags.h"

#include <sstream>

#include "engine/presets.h"
#include "engine/session.h"

namespace moescope::cli {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream is(s);
    while (std::getline(is, cur, sep)) out.push_back(cur);
    if (!s.empty() && s.back() == sep) out.push_back("");
    return out;
}

ExpertRef parse_ref(const std::string& v, const std::string& flag) {
    auto parts = split(v, ':');
    if (parts.size() != 2) throw UsageError("--" + flag + " expects LAYER:EXPERT, got '" + v + "'");
    return {static_cast<int>(parse_int(parts[0], "--" + flag + " layer")),
            static_cast<int>(parse_int(parts[1], "--" + flag + " expert"))};
}

}  // namespace

void declare_intervention_flags(Args& args) {
    args.option("preset", "intervention preset JSON file (flags below add to it)")
        .option("disable", "disable expert L:E (router logit -> -inf); repeatable", true)
        .option("force", "force expert L:E into the selection; repeatable", true)
        .option("zero", "zero the output of expert L:E (still selected, keeps its weight); repeatable", true)
        .option("bias", "add B to the router logit of expert L:E:B; repeatable", true)
        .option("top-k", "experts per token in every MoE layer (default: the model's)")
        .option("route-top-p", "dynamic-k routing: smallest expert set with probability mass >= P")
        .option("route-top-p-max-k", "upper bound on experts with --route-top-p (default: the layer's k)");
}

Interventions parse_intervention_flags(const Args& args, const Model& model) {
    Interventions iv;
    if (args.has("preset")) {
        auto p = load_preset_file(args.get("preset"));
        if (!p.ok()) throw UsageError(p.message());
        iv = p.value().interventions;
    }
    for (const auto& v : args.all("disable")) iv.disable.push_back(parse_ref(v, "disable"));
    for (const auto& v : args.all("force")) iv.force.push_back(parse_ref(v, "force"));
    for (const auto& v : args.all("zero")) iv.zero_output.push_back(parse_ref(v, "zero"));
    for (const auto& v : args.all("bias")) {
        auto parts = split(v, ':');
        if (parts.size() != 3) throw UsageError("--bias expects LAYER:EXPERT:BIAS, got '" + v + "'");
        iv.bias.push_back({static_cast<int>(parse_int(parts[0], "--bias layer")),
                           static_cast<int>(parse_int(parts[1], "--bias expert")),
                           static_cast<float>(parse_double(parts[2], "--bias value"))});
    }
    if (args.has("top-k")) iv.top_k = static_cast<int>(args.get_int("top-k", 0));
    if (args.has("route-top-p")) iv.top_p = static_cast<float>(args.get_double("route-top-p", 1.0));
    if (args.has("route-top-p-max-k")) iv.top_p_max_k = static_cast<int>(args.get_int("route-top-p-max-k", 0));
    if (auto ok = validate_interventions(model, iv); !ok.ok()) throw UsageError(ok.message());
    return iv;
}

std::vector<int32_t> parse_token_list(const std::string& text, const std::string& what) {
    std::vector<int32_t> ids;
    if (text.empty()) throw UsageError(what + " is empty");
    for (const auto& part : split(text, ',')) {
        const long long v = parse_int(part, what);
        if (v < 0 || v > INT32_MAX) throw UsageError(what + ": token id " + part + " is out of range");
        ids.push_back(static_cast<int32_t>(v));
    }
    return ids;
}

std::unique_ptr<Model> load_model_or_throw(const std::string& path) {
    auto m = Model::load(path);
    if (!m.ok()) throw m.error();
    return std::move(m.value());
}

}  // namespace moescope::cli
