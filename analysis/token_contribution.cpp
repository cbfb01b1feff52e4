#include "analysis/token_contribution.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "analysis/stats.h"

namespace moescope::analysis {

Result<ContributionSummary> token_contribution_summary(const RoutingArrays& a, const TokenFilter& filter) {
    if (auto v = validate(a, "routing arrays"); !v.ok()) return Error(v.message());
    if (!a.has_token_contribution())
        return Error("no token contribution s_t in the data: it is stored only for runs recorded at capture level "
                     "activations (record --capture activations)");
    const size_t want = static_cast<size_t>(a.n_tokens) * static_cast<size_t>(a.n_moe);
    if (a.token_contribution.size() != want)
        return Error("token_contribution has " + std::to_string(a.token_contribution.size()) + " entries, expected " +
                     std::to_string(want) + " = tokens x MoE layers");
    auto rows = select_rows(a, filter, "routing arrays");
    if (!rows.ok()) return Error(rows.message());
    ContributionSummary s;
    s.tokens = static_cast<int64_t>(rows.value().size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (int m = 0; m < a.n_moe; ++m) {
        std::vector<double> v;
        v.reserve(rows.value().size());
        for (int64_t t : rows.value()) {
            const float x = a.token_contribution[static_cast<size_t>(t) * a.n_moe + m];
            if (!std::isnan(x)) v.push_back(x);
        }
        ContributionLayer L;
        L.layer = a.moe_layers[static_cast<size_t>(m)];
        L.count = static_cast<int64_t>(v.size());
        if (v.empty()) {
            L.mean = L.min = L.q1 = L.median = L.q3 = L.max = nan;
        } else {
            L.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
            const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
            L.min = *lo;
            L.max = *hi;
            L.q1 = percentile_linear(v, 25);
            L.median = percentile_linear(v, 50);
            L.q3 = percentile_linear(v, 75);
        }
        s.layers.push_back(L);
    }
    return s;
}

}  // namespace moescope::analysis
