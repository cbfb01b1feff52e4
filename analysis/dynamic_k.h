#pragma once
// Dynamic-k (methods.md §0.3 P6 / §7; "Harder Tasks Need More Experts", AdaMoE): how many experts
// tokens need per layer and per prompt set under top-p routing.
//  - observed: the number of filled slots per token-layer in runs recorded WITH top-p routing
//    (engine/interventions.h top_p);
//  - simulated (needs router logits): for threshold p, the smallest best-first set whose probability
//    mass >= p (at least 1, at most max_k), computed from the recorded logits of any run.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

struct DynamicKOptions {
    TokenKind kind = TokenKind::All;
    std::vector<std::string> sets;  // empty = every set (plus "(all)" pooled)
    bool simulate = true;           // compute from logits when present
    double top_p = 0.6;             // UNCONFIRMED default: SCMoE's dynamic-routing threshold (methods.md §10)
    int max_k = 0;                  // 0 = no cap (E)
    ScoreFunction score = ScoreFunction::Softmax;
};
struct KStats {
    double mean = 0;
    std::vector<int64_t> histogram;  // [0..max] tokens needing exactly k experts
};
struct DynamicKLayer {
    int layer = 0;
    KStats observed;
    KStats simulated;  // empty histogram when not simulated
};
struct DynamicKSet {
    std::string set;  // "(all)" for the pooled rows
    int64_t tokens = 0;
    std::vector<DynamicKLayer> layers;
    double mean_observed = 0, mean_simulated = 0;  // over layers
};
struct DynamicKResult {
    DynamicKOptions options;
    bool simulated = false;
    std::vector<DynamicKSet> sets;
    std::vector<std::string> notes;
};
Result<DynamicKResult> dynamic_k(const RoutingArrays& a, const DynamicKOptions& o);

// The top-p rule on one probability vector (exposed for tests).
int top_p_count(const std::vector<double>& probs, double top_p, int max_k);

}  // namespace moescope::analysis
