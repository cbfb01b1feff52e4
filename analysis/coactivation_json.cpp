#include "analysis/serialize.h"
#include "analysis/serialize_util.h"

namespace moescope::analysis {

nlohmann::json to_json(const CoactivationResult& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& L : r.layers)
        layers.push_back({{"layer", L.layer}, {"count", L.count}, {"pair", L.pair}, {"conditional", L.conditional},
                          {"lift", L.lift}});
    return {{"analysis", "coactivation"}, {"n_experts", r.n_experts}, {"tokens", r.tokens},
            {"independence_baseline", r.independence_baseline}, {"layers", layers},
            {"layout", "pair, conditional and lift are row-major [E*E]: index a*E + b"}, {"notes", r.notes}};
}

std::string to_csv(const CoactivationResult& r) {
    std::string out = csv_row({"layer", "a", "b", "pair_count", "conditional", "lift"});
    const int E = r.n_experts;
    for (const auto& L : r.layers)
        for (int a = 0; a < E; ++a)
            for (int b = 0; b < E; ++b) {
                const size_t i = static_cast<size_t>(a) * E + b;
                if (L.pair[i] == 0) continue;
                out += csv_row({std::to_string(L.layer), std::to_string(a), std::to_string(b), std::to_string(L.pair[i]),
                                csv_num(L.conditional[i]), csv_num(L.lift[i])});
            }
    return out;
}

nlohmann::json to_json(const TransitionResult& r) {
    nlohmann::json pairs = nlohmann::json::array();
    for (const auto& P : r.pairs)
        pairs.push_back({{"from_layer", P.from_layer}, {"to_layer", P.to_layer}, {"count", P.count}, {"prob", P.prob},
                         {"row_entropy", P.row_entropy}, {"mutual_information", P.mutual_information},
                         {"top4_mass", P.top4_mass}});
    return {{"analysis", "transitions"}, {"n_experts", r.n_experts}, {"tokens", r.tokens}, {"pairs", pairs},
            {"layout", "count and prob are row-major [E*E]: index a*E + b, a at from_layer"}, {"notes", r.notes}};
}

std::string to_csv(const TransitionResult& r) {
    std::string out = csv_row({"from_layer", "to_layer", "a", "b", "count", "prob"});
    const int E = r.n_experts;
    for (const auto& P : r.pairs)
        for (int a = 0; a < E; ++a)
            for (int b = 0; b < E; ++b) {
                const size_t i = static_cast<size_t>(a) * E + b;
                if (P.count[i] == 0) continue;
                out += csv_row({std::to_string(P.from_layer), std::to_string(P.to_layer), std::to_string(a),
                                std::to_string(b), std::to_string(P.count[i]), csv_num(P.prob[i])});
            }
    return out;
}

}  // namespace moescope::analysis
