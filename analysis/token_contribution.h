#pragma once
// Per-layer summary of the EASY-EP token contribution s_t = max(0, 1 - cos(h_t, h_t + r_t)) (methods.md §6.2),
// recorded per token-layer at capture level Activations (RoutingArrays::token_contribution, NaN where a
// token-layer has no stored value). The summary is a distribution view of how much each MoE layer's routed
// output changes the residual direction: mean, min/max and quartiles (numpy's linear percentiles) over the
// selected rows' non-NaN values.
#include <cstdint>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

struct ContributionLayer {
    int layer = 0;       // HF layer index
    int64_t count = 0;   // non-NaN values summarised (0: every statistic below is NaN)
    double mean = 0, min = 0, q1 = 0, median = 0, q3 = 0, max = 0;
};
struct ContributionSummary {
    int64_t tokens = 0;  // rows selected by the filter
    std::vector<ContributionLayer> layers;  // [n_moe]
};
// Error when the arrays carry no token contribution (a recording below capture level Activations, or a
// read without RoutingSelection::activations) or are malformed.
Result<ContributionSummary> token_contribution_summary(const RoutingArrays& a, const TokenFilter& filter = {});

}  // namespace moescope::analysis
