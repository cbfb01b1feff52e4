#include "analysis/serialize.h"
#include "analysis/serialize_util.h"

namespace moescope::analysis {

nlohmann::json to_json(const LoadResult& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& L : r.layers)
        layers.push_back({{"layer", L.layer},
                          {"count", L.count},
                          {"fraction", L.fraction},
                          {"utilisation", L.utilisation},
                          {"weight_mass", L.weight_mass},
                          {"norm_entropy", L.norm_entropy},
                          {"cv", L.cv},
                          {"max_over_mean", L.max_over_mean},
                          {"gini", L.gini},
                          {"max_vio", L.max_vio},
                          {"freq_sd", L.freq_sd},
                          {"dead", L.dead}});
    return {{"analysis", "load"}, {"tokens", r.tokens}, {"n_experts", r.n_experts}, {"layers", layers}, {"notes", r.notes}};
}

std::string to_csv(const LoadResult& r) {
    std::string out = csv_row({"layer", "expert", "count", "fraction", "utilisation", "weight_mass"});
    for (const auto& L : r.layers)
        for (size_t e = 0; e < L.count.size(); ++e)
            out += csv_row({std::to_string(L.layer), std::to_string(e), std::to_string(L.count[e]), csv_num(L.fraction[e]),
                            csv_num(L.utilisation[e]), csv_num(L.weight_mass[e])});
    return out;
}

nlohmann::json to_json(const DomainSpecialization& r) {
    nlohmann::json sets = nlohmann::json::array();
    for (size_t s = 0; s < r.sets.size(); ++s) sets.push_back({{"set", r.sets[s]}, {"tokens", r.set_tokens[s]}, {"spec", r.spec[s]}});
    return {{"analysis", "domain"}, {"moe_layers", r.moe_layers}, {"n_experts", r.n_experts},
            {"uniform_baseline", r.uniform_baseline}, {"sets", sets}, {"cv", r.cv}, {"notes", r.notes}};
}

std::string to_csv(const DomainSpecialization& r) {
    std::string out = csv_row({"set", "layer", "expert", "spec", "cv_across_sets"});
    for (size_t s = 0; s < r.sets.size(); ++s)
        for (size_t m = 0; m < r.moe_layers.size(); ++m)
            for (int e = 0; e < r.n_experts; ++e)
                out += csv_row({r.sets[s], std::to_string(r.moe_layers[m]), std::to_string(e), csv_num(r.spec[s][m][e]),
                                csv_num(r.cv[m][e])});
    return out;
}

static nlohmann::json ids_json(const std::vector<IdSpec>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : v)
        a.push_back({{"id", s.id}, {"count", s.count}, {"top_expert", s.top_expert}, {"max_share", s.max_share},
                     {"sd", s.sd}, {"norm_entropy", s.norm_entropy}});
    return a;
}

nlohmann::json to_json(const TokenSpecialization& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& L : r.layers) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& t : L.top_tokens) {
            nlohmann::json toks = nlohmann::json::array();
            for (const auto& [id, share] : t.tokens) toks.push_back({{"token_id", id}, {"share", share}});
            top.push_back({{"expert", t.expert}, {"tokens", toks}});
        }
        layers.push_back({{"layer", L.layer},
                          {"mean_token_max_share", L.mean_token_max_share},
                          {"mean_token_sd", L.mean_token_sd},
                          {"mean_position_max_share", L.mean_position_max_share},
                          {"mean_position_sd", L.mean_position_sd},
                          {"tokens", ids_json(L.tokens)},
                          {"positions", ids_json(L.positions)},
                          {"top_tokens", top}});
    }
    return {{"analysis", "tokens"},
            {"parameters",
             {{"filter", detail::filter_json(r.options.filter)},
              {"top1_only", r.options.top1_only},
              {"min_count", r.options.min_count},
              {"top_tokens_per_expert", r.options.top_tokens_per_expert}}},
            {"n_experts", r.n_experts},
            {"layers", layers},
            {"notes", r.notes}};
}

std::string to_csv(const TokenSpecialization& r) {
    std::string out = csv_row({"layer", "kind", "id", "count", "top_expert", "max_share", "sd", "norm_entropy"});
    for (const auto& L : r.layers)
        for (auto [kind, v] : {std::pair{"token", &L.tokens}, std::pair{"position", &L.positions}})
            for (const auto& s : *v)
                out += csv_row({std::to_string(L.layer), kind, std::to_string(s.id), std::to_string(s.count),
                                std::to_string(s.top_expert), csv_num(s.max_share), csv_num(s.sd), csv_num(s.norm_entropy)});
    return out;
}

}  // namespace moescope::analysis
