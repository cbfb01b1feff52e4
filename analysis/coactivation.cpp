#include "analysis/coactivation.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace moescope::analysis {

static std::vector<int64_t> rows_or_throw(const RoutingArrays& a, const TokenFilter& f, const std::string& what) {
    if (auto v = validate(a, what); !v) throw v.error();
    if (a.n_moe == 0 || a.n_experts == 0) throw Error(what + ": the data has no MoE layers or no experts");
    auto rows = select_rows(a, f, what);
    if (!rows) throw rows.error();
    if (rows->empty()) throw Error(what + ": no tokens match the selection");
    return *rows;
}

Result<CoactivationResult> coactivation(const RoutingArrays& a, const CoactivationOptions& o) {
    return try_result([&]() -> CoactivationResult {
        if (o.mode == PairMode::RankAligned) throw Error("co-activation: rank-aligned pairing applies to transitions only");
        const auto rows = rows_or_throw(a, o.filter, "co-activation");
        const int E = a.n_experts;
        CoactivationResult res;
        res.n_experts = E;
        res.tokens = static_cast<int64_t>(rows.size());
        int64_t selections = 0;
        for (int m = 0; m < a.n_moe; ++m) {
            LayerCoactivation L;
            L.layer = a.moe_layers[m];
            L.count.assign(E, 0);
            L.pair.assign(static_cast<size_t>(E) * E, 0);
            for (int64_t t : rows) {
                const int16_t* ex = &a.experts[a.slot(t, m, 0)];
                int n = 0;
                while (n < a.k_max && ex[n] >= 0) ++n;  // slots are best first, padded with -1
                for (int i = 0; i < n; ++i) ++L.count[ex[i]];
                selections += n;
                for (int i = 0; i < n; ++i)
                    for (int j = i + 1; j < n; ++j) {
                        if (o.mode == PairMode::AdjacentRank && j != i + 1) break;
                        const int x = ex[i], y = ex[j];
                        if (x == y) continue;
                        ++L.pair[static_cast<size_t>(x) * E + y];
                        ++L.pair[static_cast<size_t>(y) * E + x];
                    }
            }
            L.conditional.assign(L.pair.size(), 0.0);
            L.lift.assign(L.pair.size(), 0.0);
            const double T = static_cast<double>(rows.size());
            for (int x = 0; x < E; ++x)
                for (int y = 0; y < E; ++y) {
                    const size_t i = static_cast<size_t>(x) * E + y;
                    if (L.count[x] > 0) L.conditional[i] = static_cast<double>(L.pair[i]) / L.count[x];
                    if (L.count[x] > 0 && L.count[y] > 0)
                        L.lift[i] = static_cast<double>(L.pair[i]) * T / (static_cast<double>(L.count[x]) * L.count[y]);
                }
            res.layers.push_back(std::move(L));
        }
        const double k = static_cast<double>(selections) / (static_cast<double>(rows.size()) * a.n_moe);
        res.independence_baseline = E > 1 ? (k - 1) / (E - 1) : 0.0;
        if (o.mode == PairMode::AdjacentRank)
            res.notes.push_back("adjacent-rank pairs only (reproduces OLMoE do_correlation_analysis)");
        return res;
    });
}

Result<TransitionResult> transitions(const RoutingArrays& a, const TransitionOptions& o) {
    return try_result([&]() -> TransitionResult {
        if (o.mode == PairMode::AdjacentRank) throw Error("transitions: adjacent-rank pairing applies to co-activation only");
        if (o.layer_gap < 1) throw Error("transitions: layer_gap must be >= 1");
        const auto rows = rows_or_throw(a, o.filter, "transitions");
        if (a.n_moe <= o.layer_gap)
            throw Error("transitions: need at least " + std::to_string(o.layer_gap + 1) + " MoE layers, the data has " +
                        std::to_string(a.n_moe));
        const int E = a.n_experts;
        TransitionResult res;
        res.n_experts = E;
        res.tokens = static_cast<int64_t>(rows.size());
        for (int m = 0; m + o.layer_gap < a.n_moe; ++m) {
            LayerTransition P;
            P.from_layer = a.moe_layers[m];
            P.to_layer = a.moe_layers[m + o.layer_gap];
            P.count.assign(static_cast<size_t>(E) * E, 0);
            for (int64_t t : rows) {
                const int16_t* x = &a.experts[a.slot(t, m, 0)];
                const int16_t* y = &a.experts[a.slot(t, m + o.layer_gap, 0)];
                for (int i = 0; i < a.k_max; ++i) {
                    if (x[i] < 0) continue;
                    if (o.mode == PairMode::RankAligned) {
                        if (y[i] >= 0) ++P.count[static_cast<size_t>(x[i]) * E + y[i]];
                        continue;
                    }
                    for (int j = 0; j < a.k_max; ++j)
                        if (y[j] >= 0) ++P.count[static_cast<size_t>(x[i]) * E + y[j]];
                }
            }
            P.prob.assign(P.count.size(), 0.0);
            P.row_entropy.assign(E, 0.0);
            double total = 0;
            std::vector<double> row(E, 0.0), col(E, 0.0);
            for (int x = 0; x < E; ++x)
                for (int y = 0; y < E; ++y) {
                    const double c = static_cast<double>(P.count[static_cast<size_t>(x) * E + y]);
                    row[x] += c;
                    col[y] += c;
                    total += c;
                }
            int nonempty = 0;
            for (int x = 0; x < E; ++x) {
                if (row[x] <= 0) continue;
                ++nonempty;
                std::vector<double> pr(E);
                for (int y = 0; y < E; ++y) {
                    pr[y] = P.count[static_cast<size_t>(x) * E + y] / row[x];
                    P.prob[static_cast<size_t>(x) * E + y] = pr[y];
                    if (pr[y] > 0) P.row_entropy[x] -= pr[y] * std::log(pr[y]);
                }
                std::partial_sort(pr.begin(), pr.begin() + std::min(4, E), pr.end(), std::greater<>());
                for (int i = 0; i < std::min(4, E); ++i) P.top4_mass += pr[i];
            }
            if (nonempty > 0) P.top4_mass /= nonempty;
            if (total > 0)
                for (int x = 0; x < E; ++x)
                    for (int y = 0; y < E; ++y) {
                        const double c = static_cast<double>(P.count[static_cast<size_t>(x) * E + y]);
                        if (c > 0) P.mutual_information += c / total * std::log(c * total / (row[x] * col[y]));
                    }
            res.pairs.push_back(std::move(P));
        }
        if (o.mode == PairMode::RankAligned)
            res.notes.push_back("rank-aligned pairs only (reproduces OLMoE run_routing_analysis)");
        return res;
    });
}

}  // namespace moescope::analysis
