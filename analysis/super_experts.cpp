#include "analysis/super_experts.h"

#include <algorithm>
#include <cmath>

#include "analysis/stats.h"

namespace moescope::analysis {

Result<SuperExpertResult> super_experts(const RoutingArrays& a, const SuperExpertOptions& o) {
    return try_result([&]() -> SuperExpertResult {
        if (auto v = validate(a, "super experts"); !v) throw v.error();
        if (a.n_moe == 0 || a.n_experts == 0) throw Error("super experts: the data has no MoE layers or no experts");
        if (!a.has_activations())
            throw Error("super experts need per-expert down_proj maxima: record the runs with capture level "
                        "'activations'");
        if (!(o.include_layers > 0 && o.include_layers <= 1)) throw Error("super experts: include_layers must be in (0, 1]");
        auto rows = select_rows(a, o.filter, "super experts");
        if (!rows) throw rows.error();
        if (rows->empty()) throw Error("super experts: no tokens match the selection");
        const int E = a.n_experts;
        SuperExpertResult res;
        res.options = o;
        res.n_experts = E;
        res.moe_layers = a.moe_layers;
        res.num_hidden_layers = a.n_layers > 0 ? a.n_layers : *std::max_element(a.moe_layers.begin(), a.moe_layers.end()) + 1;
        if (a.n_layers <= 0)
            res.notes.push_back("num_hidden_layers not recorded; assumed last MoE layer + 1 = " +
                                std::to_string(res.num_hidden_layers));
        // Python's round() (ties to even), as in the repo's `round(0.75 * num_hidden_layers)`.
        res.layer_limit = static_cast<int>(std::nearbyint(o.include_layers * res.num_hidden_layers));
        res.max_output.assign(a.n_moe, std::vector<ExpertMax>(E));
        for (int m = 0; m < a.n_moe; ++m)
            for (int e = 0; e < E; ++e) {
                res.max_output[m][e].layer = a.moe_layers[m];
                res.max_output[m][e].expert = e;
            }
        auto consider = [&](int64_t t, int m, int j) {
            const size_t s = a.slot(t, m, j);
            const int e = a.experts[s];
            if (e < 0) return;
            ExpertMax& x = res.max_output[m][e];
            const double v = std::abs(static_cast<double>(a.down_proj_max[s]));
            if (x.channel < 0 || v > x.value) {
                x.value = v;
                x.channel = a.down_proj_channel[s];
                x.row = t;
                x.position = a.position[t];
                x.token_id = a.token_id[t];
            }
        };
        if (!o.repo_first_token_quirk) {
            for (int64_t t : *rows)
                for (int m = 0; m < a.n_moe; ++m)
                    for (int j = 0; j < a.k_max; ++j) consider(t, m, j);
        } else {
            // Only the earliest token routed to each expert in each sequence (the repo's output[0]).
            for (const auto& seq : group_sequences(a, *rows)) {
                std::vector<char> seen(static_cast<size_t>(a.n_moe) * E, 0);
                for (int64_t t : seq)
                    for (int m = 0; m < a.n_moe; ++m)
                        for (int j = 0; j < a.k_max; ++j) {
                            const int e = a.experts[a.slot(t, m, j)];
                            if (e < 0 || seen[static_cast<size_t>(m) * E + e]) continue;
                            seen[static_cast<size_t>(m) * E + e] = 1;
                            consider(t, m, j);
                        }
            }
            res.notes.push_back("repo_first_token_quirk: only the first routed token per expert and sequence counts "
                                "(reproduces the reference repo's output[0]; the paper defines the max over all tokens)");
        }
        std::vector<double> pop;
        for (int m = 0; m < a.n_moe; ++m)
            if (a.moe_layers[m] < res.layer_limit)
                for (int e = 0; e < E; ++e) pop.push_back(res.max_output[m][e].value);
        res.population = static_cast<int64_t>(pop.size());
        if (pop.empty()) {
            res.notes.push_back("no recorded MoE layer has index < " + std::to_string(res.layer_limit) +
                                "; no super experts can be identified");
            return res;
        }
        res.percentile_value = percentile_linear(pop, o.percentile);
        res.a_max = *std::max_element(pop.begin(), pop.end());
        const double by_max = res.a_max / o.times;
        res.threshold = std::max(res.percentile_value, by_max);
        for (int m = 0; m < a.n_moe; ++m) {
            if (a.moe_layers[m] >= res.layer_limit) continue;
            for (int e = 0; e < E; ++e) {
                const ExpertMax& x = res.max_output[m][e];
                if (x.value > res.percentile_value && x.value > by_max) res.super_experts.push_back(x);
            }
        }
        std::stable_sort(res.super_experts.begin(), res.super_experts.end(),
                         [](const ExpertMax& x, const ExpertMax& y) { return x.value > y.value; });
        for (size_t i = 0; i < res.super_experts.size(); ++i) {
            res.super_experts[i].rank = static_cast<int>(i + 1);
            for (auto& x : res.max_output[std::max(0, moe_slot_of_layer(a, res.super_experts[i].layer))])
                if (x.expert == res.super_experts[i].expert) x.rank = static_cast<int>(i + 1);
        }
        res.notes.push_back("population: routed experts only (shared-expert maxima are not in the recorded arrays)");
        return res;
    });
}

}  // namespace moescope::analysis
