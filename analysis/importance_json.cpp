#include <algorithm>
#include "analysis/serialize.h"
#include "analysis/serialize_util.h"

namespace moescope::analysis {

nlohmann::json prune_plan_json(const ImportanceResult& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (size_t m = 0; m < r.keep.size(); ++m)
        layers.push_back({{"layer", r.moe_layers[m]}, {"keep", r.keep[m]}, {"drop", r.drop[m]}});
    return {{"kind", "moescope.prune_plan"},
            {"method", importance_method_name(r.options.method)},
            {"n_experts", r.n_experts},
            {"layers", layers}};
}

nlohmann::json to_json(const ImportanceResult& r) {
    nlohmann::json scores = nlohmann::json::object();
    for (auto [name, v] : {std::pair{"frequency", &r.frequency}, std::pair{"gate", &r.gate}, std::pair{"output", &r.output},
                           std::pair{"easy_ep", &r.easy_ep}, std::pair{"mc_moe", &r.mc_moe}})
        if (!v->empty()) scores[name] = *v;
    return {{"analysis", "importance"},
            {"parameters",
             {{"filter", detail::filter_json(r.options.filter)},
              {"method", importance_method_name(r.options.method)},
              {"mc_alpha", r.options.mc_alpha},
              {"mc_beta", r.options.mc_beta},
              {"keep_per_layer", r.keep.empty() ? 0 : static_cast<int>(r.keep.front().size())}}},
            {"tokens", r.tokens}, {"n_experts", r.n_experts}, {"moe_layers", r.moe_layers},
            {"scores", scores}, {"score", r.score},
            {"plan", prune_plan_json(r)},
            {"preset", preset_json(std::string("prune-") + importance_method_name(r.options.method), r.disable_preset)},
            {"notes", r.notes}};
}

std::string to_csv(const ImportanceResult& r) {
    std::string out = csv_row({"layer", "expert", "frequency", "gate", "output", "easy_ep", "mc_moe", "score", "kept"});
    for (size_t m = 0; m < r.moe_layers.size(); ++m)
        for (int e = 0; e < r.n_experts; ++e) {
            auto cell = [&](const std::vector<std::vector<double>>& v) { return v.empty() ? std::string() : csv_num(v[m][e]); };
            const bool kept = std::find(r.keep[m].begin(), r.keep[m].end(), e) != r.keep[m].end();
            out += csv_row({std::to_string(r.moe_layers[m]), std::to_string(e), cell(r.frequency), cell(r.gate),
                            cell(r.output), cell(r.easy_ep), cell(r.mc_moe), cell(r.score), kept ? "1" : "0"});
        }
    return out;
}

}  // namespace moescope::analysis
