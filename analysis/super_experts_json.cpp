#include "analysis/serialize.h"
#include "analysis/serialize_util.h"

namespace moescope::analysis {

static nlohmann::json expert_max_json(const ExpertMax& x) {
    return {{"layer", x.layer}, {"expert", x.expert}, {"max_output", x.value}, {"channel", x.channel},
            {"position", x.position}, {"token_id", x.token_id}, {"rank", x.rank}};
}

nlohmann::json to_json(const SuperExpertResult& r) {
    nlohmann::json se = nlohmann::json::array(), all = nlohmann::json::array();
    std::vector<ExpertRef> refs;
    for (const auto& x : r.super_experts) {
        se.push_back(expert_max_json(x));
        refs.push_back({x.layer, x.expert});
    }
    for (const auto& layer : r.max_output) {
        std::vector<double> v;
        for (const auto& x : layer) v.push_back(x.value);
        all.push_back({{"layer", layer.empty() ? 0 : layer.front().layer}, {"max_output", v}});
    }
    return {{"analysis", "super-experts"},
            {"parameters",
             {{"filter", detail::filter_json(r.options.filter)},
              {"include_layers", r.options.include_layers},
              {"percentile", r.options.percentile},
              {"times", r.options.times},
              {"repo_first_token_quirk", r.options.repo_first_token_quirk}}},
            {"num_hidden_layers", r.num_hidden_layers},
            {"layer_limit", r.layer_limit},
            {"population", r.population},
            {"percentile_value", r.percentile_value},
            {"a_max", r.a_max},
            {"threshold", r.threshold},
            {"super_experts", se},
            {"preset", preset_json("super-experts", refs)},
            {"max_output", all},
            {"notes", r.notes}};
}

std::string to_csv(const SuperExpertResult& r) {
    std::string out = csv_row({"layer", "expert", "max_output", "channel", "position", "token_id", "super_rank"});
    for (const auto& layer : r.max_output)
        for (const auto& x : layer)
            out += csv_row({std::to_string(x.layer), std::to_string(x.expert), csv_num(x.value), std::to_string(x.channel),
                            std::to_string(x.position), std::to_string(x.token_id), std::to_string(x.rank)});
    return out;
}

nlohmann::json to_json(const MassiveResult& r) {
    nlohmann::json layers = nlohmann::json::array(), hits = nlohmann::json::array();
    for (const auto& L : r.layers)
        layers.push_back({{"layer", L.layer}, {"median", detail::num(L.median)}, {"top", {L.top[0], L.top[1], L.top[2]}}});
    for (const auto& h : r.hits)
        hits.push_back({{"layer", h.layer}, {"token", h.token}, {"position", h.position}, {"token_id", h.token_id},
                        {"channel", h.channel}, {"value", h.value}, {"ratio", detail::num(h.ratio)}});
    return {{"analysis", "massive-activations"},
            {"parameters",
             {{"min_abs", r.options.min_abs},
              {"min_ratio", r.options.min_ratio},
              {"median", r.options.median == MedianScope::LayerTensor ? "layer_tensor" : "per_token"}}},
            {"layers", layers}, {"hits", hits}, {"notes", r.notes}};
}

std::string to_csv(const MassiveResult& r) {
    std::string out = csv_row({"layer", "token", "position", "token_id", "channel", "value", "ratio"});
    for (const auto& h : r.hits)
        out += csv_row({std::to_string(h.layer), std::to_string(h.token), std::to_string(h.position),
                        std::to_string(h.token_id), std::to_string(h.channel), csv_num(h.value), csv_num(h.ratio)});
    return out;
}

nlohmann::json to_json(const SinkResult& r) {
    return {{"analysis", "sinks"},
            {"parameters", {{"epsilon", r.options.epsilon}, {"tau", r.options.tau}, {"window", r.options.window}}},
            {"T", r.T}, {"sink_score", r.sink_score}, {"sink_positions", r.sink_positions}, {"alpha", r.alpha},
            {"notes", r.notes}};
}

nlohmann::json to_json(const RecordedSinkResult& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& L : r.layers) {
        nlohmann::json heads = nlohmann::json::array();
        for (const auto& H : L.heads)
            heads.push_back({{"head", H.head}, {"alpha_first", detail::num(H.alpha_first)}, {"sink", H.sink}});
        nlohmann::json lj = {{"layer", L.layer}, {"alpha_first", detail::num(L.alpha_first)}, {"sink", L.sink}};
        if (r.n_heads > 0) {
            lj["sink_heads"] = L.sink_heads;
            lj["heads"] = heads;
        }
        layers.push_back(lj);
    }
    return {{"analysis", "sinks"},
            {"parameters", {{"epsilon", r.options.epsilon}, {"tau", r.options.tau}, {"window", r.options.window}}},
            {"queries", r.queries}, {"n_heads", r.n_heads}, {"metric", r.metric},
            {"sink_fraction", r.sink_fraction}, {"layer_fraction", r.layer_fraction},
            {"first_token_is_sink", r.first_token_is_sink}, {"layers", layers}, {"notes", r.notes}};
}

// One row per layer (head empty: the head mean) and, when recorded, one row per (layer, head).
std::string to_csv(const RecordedSinkResult& r) {
    std::string out = csv_row({"layer", "head", "alpha_first", "sink"});
    for (const auto& L : r.layers) {
        out += csv_row({std::to_string(L.layer), "", csv_num(L.alpha_first), L.sink ? "1" : "0"});
        for (const auto& H : L.heads)
            out += csv_row({std::to_string(L.layer), std::to_string(H.head), csv_num(H.alpha_first), H.sink ? "1" : "0"});
    }
    return out;
}

}  // namespace moescope::analysis
