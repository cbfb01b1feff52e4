#include "analysis/serialize.h"
#include "analysis/serialize_util.h"

namespace moescope::analysis {

static nlohmann::json srp_json(const SrpValue& v) {
    return {{"srp", v.srp}, {"alpha", v.alpha}, {"rho_hat", v.rho_hat}, {"act_rate", v.act_rate}, {"windows", v.windows}};
}

nlohmann::json to_json(const LrcResult& r) {
    nlohmann::json srp = nlohmann::json::array();
    for (const auto& s : r.srp) {
        nlohmann::json layers = nlohmann::json::array();
        for (size_t m = 0; m < s.layer.size(); ++m) {
            std::vector<double> per_expert;
            for (const auto& v : s.expert[m]) per_expert.push_back(v.srp);
            nlohmann::json l = srp_json(s.layer[m]);
            l["layer"] = r.moe_layers[m];
            l["expert_srp"] = per_expert;
            layers.push_back(l);
        }
        srp.push_back({{"m", s.m}, {"model", srp_json(s.model)}, {"layers", layers}});
    }
    nlohmann::json sch = nlohmann::json::array();
    for (size_t m = 0; m < r.sch.size(); ++m) {
        nlohmann::json v = nlohmann::json::array();
        for (const auto& x : r.sch[m])
            v.push_back({{"m", x.m}, {"ratio", x.ratio}, {"cache_size", x.cache_size}, {"hit_rate", x.hit_rate}});
        sch.push_back({{"layer", r.moe_layers[m]}, {"values", v}});
    }
    nlohmann::json sch_model = nlohmann::json::array();
    for (const auto& x : r.sch_model)
        sch_model.push_back({{"m", x.m}, {"ratio", x.ratio}, {"cache_size", x.cache_size}, {"hit_rate", x.hit_rate}});
    return {{"analysis", "lrc"},
            {"parameters",
             {{"filter", detail::filter_json(r.options.filter)},
              {"seg_lengths", r.options.seg_lengths},
              {"cache_ratios", r.options.cache_ratios}}},
            {"sequences", r.sequences}, {"tokens", r.tokens}, {"k", r.k}, {"n_experts", r.n_experts},
            {"srp", srp}, {"sch", sch}, {"sch_model", sch_model}, {"notes", r.notes}};
}

std::string to_csv(const LrcResult& r) {
    std::string out = csv_row({"metric", "layer", "m", "ratio", "value", "alpha", "rho_hat"});
    for (const auto& s : r.srp) {
        out += csv_row({"srp", "all", std::to_string(s.m), "", csv_num(s.model.srp), std::to_string(s.model.alpha),
                        csv_num(s.model.rho_hat)});
        for (size_t m = 0; m < s.layer.size(); ++m)
            out += csv_row({"srp", std::to_string(r.moe_layers[m]), std::to_string(s.m), "", csv_num(s.layer[m].srp),
                            std::to_string(s.layer[m].alpha), csv_num(s.layer[m].rho_hat)});
    }
    for (size_t m = 0; m < r.sch.size(); ++m)
        for (const auto& x : r.sch[m])
            out += csv_row({"sch", std::to_string(r.moe_layers[m]), std::to_string(x.m), csv_num(x.ratio),
                            csv_num(x.hit_rate), "", ""});
    for (const auto& x : r.sch_model)
        out += csv_row({"sch", "all", std::to_string(x.m), csv_num(x.ratio), csv_num(x.hit_rate), "", ""});
    return out;
}

}  // namespace moescope::analysis
