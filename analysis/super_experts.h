#pragma once
// Super experts (methods.md §3, Su et al. arXiv 2507.23279, ZunhaiSu/Super-Experts-Profilling).
//
// a[L,E] = max |down_proj output| of routed expert E at layer L over every token routed to it (the
// paper's definition). The reference repo hooks `output[0]` of the Linear, i.e. only the FIRST routed
// token per expert per sequence; `repo_first_token_quirk = true` reproduces that.
// Super expert iff a > P99.5(A) AND a > max(A) / 10 AND layer index < round(0.75 * num_hidden_layers),
// A = {a[L,E] : L in the kept layers} (routed experts only: RoutingArrays carries no shared-expert
// statistics; the repo also includes shared experts in A).
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

struct SuperExpertOptions {
    TokenFilter filter;
    double include_layers = 0.75;  // --include_layers: keep layers with index < round(f * num_hidden_layers)
    double percentile = 99.5;
    double times = 10;             // a > a_max / times
    bool repo_first_token_quirk = false;
};
struct ExpertMax {
    int layer = 0, expert = 0;
    double value = 0;          // a[L,E]
    int channel = -1;          // hidden channel of the max (-1 = expert never routed)
    int64_t row = -1;          // token row where it occurred
    int32_t position = -1;
    int32_t token_id = -1;
    int rank = 0;              // 1-based among super experts (0 = not a super expert)
};
struct SuperExpertResult {
    SuperExpertOptions options;
    int n_experts = 0;
    int num_hidden_layers = 0;
    int layer_limit = 0;                  // layers with index < layer_limit are in the population
    std::vector<int> moe_layers;
    std::vector<std::vector<ExpertMax>> max_output;  // [n_moe][E], every recorded MoE layer
    double percentile_value = 0, a_max = 0, threshold = 0;  // P99.5, max, max(P, a_max/times)
    int64_t population = 0;
    std::vector<ExpertMax> super_experts;  // sorted by value descending, rank 1..n
    std::vector<std::string> notes;
};
Result<SuperExpertResult> super_experts(const RoutingArrays& a, const SuperExpertOptions& o);

}  // namespace moescope::analysis
