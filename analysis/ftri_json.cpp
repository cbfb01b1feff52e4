#include "analysis/serialize.h"
#include "analysis/serialize_util.h"

namespace moescope::analysis {

nlohmann::json to_json(const FtriResult& r, const std::string& preset_name) {
    using detail::num;
    const auto& o = r.options;
    nlohmann::json ranked = nlohmann::json::array();
    int rank = 0;
    for (const auto& x : r.ranked)
        ranked.push_back({{"rank", ++rank},
                          {"layer", x.layer},
                          {"expert", x.expert},
                          {"behavior_freq", num(x.behavior_freq)},
                          {"control_freq", num(x.control_freq)},
                          {"difference", num(x.difference)},
                          {"risk_ratio", num(x.risk_ratio)},
                          {"statistic", num(x.statistic)},
                          {"p", num(x.p)},
                          {"q", num(x.q)},
                          {"test", test_method_name(x.method)},
                          {"behavior_count", x.behavior_count},
                          {"control_count", x.control_count}});
    nlohmann::json randoms = nlohmann::json::array();
    for (size_t i = 0; i < r.random_controls.size(); ++i)
        randoms.push_back(preset_json(preset_name + "-random-" + std::to_string(i + 1), r.random_controls[i]));
    nlohmann::json j = {
        {"analysis", "ftri"},
        {"parameters",
         {{"behavior", detail::filter_json(o.behavior)},
          {"control", detail::filter_json(o.control)},
          {"pooling", o.pooling == FtriPooling::Tokens ? "tokens" : "prompts"},
          {"rank_by", o.rank_by == FtriRankBy::Difference ? "difference" : "abs_difference"},
          {"top_n", o.top_n},
          {"max_q", o.max_q},
          {"random_repeats", o.random_repeats},
          {"random_seed", o.random_seed},
          {"fdr", "benjamini_hochberg"}}},
        {"behavior", {{"tokens", r.behavior_tokens}, {"prompts", r.behavior_prompts}}},
        {"control", {{"tokens", r.control_tokens}, {"prompts", r.control_prompts}}},
        {"moe_layers", r.moe_layers},
        {"n_experts", r.n_experts},
        {"ranked", ranked},
        {"preset", preset_json(preset_name, r.preset)},
        {"random_control", r.random_controls.empty() ? preset_json(preset_name + "-random-1", {})
                                                     : randoms.at(0)},
        {"random_controls", randoms},
        {"notes", r.notes}};
    return j;
}

std::string to_csv(const FtriResult& r) {
    std::string out = csv_row({"rank", "layer", "expert", "behavior_freq", "control_freq", "difference", "risk_ratio",
                               "statistic", "p", "q", "test", "behavior_count", "control_count"});
    int rank = 0;
    for (const auto& x : r.ranked)
        out += csv_row({std::to_string(++rank), std::to_string(x.layer), std::to_string(x.expert), csv_num(x.behavior_freq),
                        csv_num(x.control_freq), csv_num(x.difference), csv_num(x.risk_ratio), csv_num(x.statistic),
                        csv_num(x.p), csv_num(x.q), test_method_name(x.method), std::to_string(x.behavior_count),
                        std::to_string(x.control_count)});
    return out;
}

}  // namespace moescope::analysis
