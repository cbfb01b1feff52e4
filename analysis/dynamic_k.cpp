#include "analysis/dynamic_k.h"

#include <algorithm>
#include <functional>

namespace moescope::analysis {

int top_p_count(const std::vector<double>& probs, double top_p, int max_k) {
    std::vector<double> s = probs;
    std::sort(s.begin(), s.end(), std::greater<>());
    const int cap = max_k > 0 ? std::min<int>(max_k, static_cast<int>(s.size())) : static_cast<int>(s.size());
    double mass = 0;
    int n = 0;
    // Tolerance so that e.g. 0.3 + 0.3 reaches 0.6 despite rounding.
    while (n < cap && (n == 0 || mass < top_p - 1e-12)) mass += s[n++];
    return n;
}

Result<DynamicKResult> dynamic_k(const RoutingArrays& a, const DynamicKOptions& o) {
    return try_result([&]() -> DynamicKResult {
        if (auto v = validate(a, "dynamic-k"); !v) throw v.error();
        if (a.n_moe == 0 || a.n_experts == 0) throw Error("dynamic-k: the data has no MoE layers or no experts");
        if (!(o.top_p > 0 && o.top_p <= 1)) throw Error("dynamic-k: top_p must be in (0, 1]");
        DynamicKResult res;
        res.options = o;
        res.simulated = o.simulate && a.has_logits();
        if (o.simulate && !a.has_logits())
            res.notes.push_back("no router logits recorded (capture level 'logits'): only observed k is reported");
        std::vector<std::pair<std::string, std::vector<std::string>>> groups;
        groups.push_back({"(all)", o.sets});
        for (const auto& s : (o.sets.empty() ? a.set_names : o.sets)) groups.push_back({s, {s}});
        const int E = a.n_experts;
        std::vector<double> p;
        for (const auto& [label, sets] : groups) {
            TokenFilter f;
            f.kind = o.kind;
            f.sets = sets;
            auto rows = select_rows(a, f, "dynamic-k");
            if (!rows) throw rows.error();
            if (rows->empty()) {
                if (label == "(all)") throw Error("dynamic-k: no tokens match the selection");
                res.notes.push_back("set '" + label + "' has no " + token_kind_name(o.kind) + " tokens; skipped");
                continue;
            }
            DynamicKSet S;
            S.set = label;
            S.tokens = static_cast<int64_t>(rows->size());
            for (int m = 0; m < a.n_moe; ++m) {
                DynamicKLayer L;
                L.layer = a.moe_layers[m];
                L.observed.histogram.assign(a.k_max + 1, 0);
                if (res.simulated) L.simulated.histogram.assign(E + 1, 0);
                for (int64_t t : *rows) {
                    int n = 0;
                    for (int j = 0; j < a.k_max; ++j) n += a.experts[a.slot(t, m, j)] >= 0;
                    ++L.observed.histogram[n];
                    L.observed.mean += n;
                    if (res.simulated) {
                        router_probs(&a.router_logits[(static_cast<size_t>(t) * a.n_moe + m) * E], E, o.score, p);
                        const int ks = top_p_count(p, o.top_p, o.max_k);
                        ++L.simulated.histogram[ks];
                        L.simulated.mean += ks;
                    }
                }
                L.observed.mean /= S.tokens;
                L.simulated.mean /= S.tokens;
                S.mean_observed += L.observed.mean / a.n_moe;
                S.mean_simulated += L.simulated.mean / a.n_moe;
                S.layers.push_back(std::move(L));
            }
            res.sets.push_back(std::move(S));
        }
        res.notes.push_back("UNCONFIRMED default top_p = 0.6 (SCMoE's dynamic-routing threshold); set it to the "
                            "threshold of the paper you reproduce");
        return res;
    });
}

}  // namespace moescope::analysis
