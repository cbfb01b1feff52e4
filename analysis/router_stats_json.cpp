#include "analysis/serialize.h"
#include "analysis/serialize_util.h"

namespace moescope::analysis {

nlohmann::json to_json(const RouterStatsResult& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& L : r.layers) {
        nlohmann::json mg = nlohmann::json::array();
        for (const auto& x : L.micro_global)
            mg.push_back({{"batch_sequences", x.batch_sequences}, {"n_batches", x.n_batches},
                          {"lbl_micro", x.lbl_micro}, {"lbl_global", x.lbl_global}});
        layers.push_back({{"layer", L.layer}, {"lbl_norm", L.lbl_norm}, {"lbl_hf", L.lbl_hf}, {"z_loss", L.z_loss},
                          {"mean_entropy", L.mean_entropy}, {"mean_topk_mass", L.mean_topk_mass},
                          {"mean_margin", L.mean_margin}, {"near_tie_fraction", L.near_tie_fraction},
                          {"mean_prob", L.mean_prob}, {"micro_vs_global", mg}});
    }
    return {{"analysis", "router"},
            {"parameters",
             {{"filter", detail::filter_json(r.options.filter)},
              {"score", detail::score_name(r.options.score)},
              {"micro_batch_sizes", r.options.micro_batch_sizes},
              {"margin_epsilon", r.options.margin_epsilon}}},
            {"tokens", r.tokens}, {"sequences", r.sequences}, {"n_experts", r.n_experts},
            {"mean_lbl_norm", r.mean_lbl_norm}, {"layers", layers}, {"notes", r.notes}};
}

std::string to_csv(const RouterStatsResult& r) {
    std::string out = csv_row({"layer", "lbl_norm", "lbl_hf", "z_loss", "mean_entropy", "mean_topk_mass", "mean_margin",
                               "near_tie_fraction"});
    for (const auto& L : r.layers)
        out += csv_row({std::to_string(L.layer), csv_num(L.lbl_norm), csv_num(L.lbl_hf), csv_num(L.z_loss),
                        csv_num(L.mean_entropy), csv_num(L.mean_topk_mass), csv_num(L.mean_margin),
                        csv_num(L.near_tie_fraction)});
    return out;
}

nlohmann::json to_json(const SaturationResult& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& L : r.layers)
        layers.push_back({{"layer", L.layer}, {"saturation", L.saturation}, {"top1_agreement", L.top1_agreement},
                          {"jaccard", L.jaccard}, {"set_differ", L.set_differ}});
    return {{"analysis", "saturation"}, {"k", r.k}, {"tokens", r.tokens}, {"random_baseline", r.random_baseline},
            {"layers", layers}, {"notes", r.notes}};
}

std::string to_csv(const SaturationResult& r) {
    std::string out = csv_row({"layer", "saturation", "top1_agreement", "jaccard", "set_differ"});
    for (const auto& L : r.layers)
        out += csv_row({std::to_string(L.layer), csv_num(L.saturation), csv_num(L.top1_agreement), csv_num(L.jaccard),
                        csv_num(L.set_differ)});
    return out;
}

nlohmann::json to_json(const DynamicKResult& r) {
    nlohmann::json sets = nlohmann::json::array();
    for (const auto& S : r.sets) {
        nlohmann::json layers = nlohmann::json::array();
        for (const auto& L : S.layers) {
            nlohmann::json l = {{"layer", L.layer},
                                {"observed", {{"mean", L.observed.mean}, {"histogram", L.observed.histogram}}}};
            if (r.simulated) l["simulated"] = {{"mean", L.simulated.mean}, {"histogram", L.simulated.histogram}};
            layers.push_back(l);
        }
        nlohmann::json s = {{"set", S.set}, {"tokens", S.tokens}, {"mean_observed", S.mean_observed}, {"layers", layers}};
        if (r.simulated) s["mean_simulated"] = S.mean_simulated;
        sets.push_back(s);
    }
    return {{"analysis", "dynamic-k"},
            {"parameters",
             {{"tokens", token_kind_name(r.options.kind)},
              {"top_p", r.options.top_p},
              {"max_k", r.options.max_k},
              {"score", detail::score_name(r.options.score)}}},
            {"simulated", r.simulated}, {"sets", sets}, {"notes", r.notes}};
}

std::string to_csv(const DynamicKResult& r) {
    std::string out = csv_row({"set", "layer", "observed_mean", "simulated_mean"});
    for (const auto& S : r.sets)
        for (const auto& L : S.layers)
            out += csv_row({S.set, std::to_string(L.layer), csv_num(L.observed.mean),
                            r.simulated ? csv_num(L.simulated.mean) : std::string()});
    return out;
}

}  // namespace moescope::analysis
