#pragma once
// Expert co-activation within a layer (methods.md §7.5, OLMoE) and layer-to-layer transition matrices
// (§7.6, MoETuner). Both count every pair by default; the OLMoE reproduction modes are options.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

enum class PairMode {
    AllPairs,      // default: every unordered pair of the top-k (co-activation) / all k x k (transitions)
    AdjacentRank,  // OLMoE do_correlation_analysis: rank1-rank2, rank2-rank3, ... (co-activation only)
    RankAligned,   // OLMoE run_routing_analysis: r-th expert of layer l with r-th of layer l' (transitions)
};

struct CoactivationOptions {
    TokenFilter filter;
    PairMode mode = PairMode::AllPairs;
};
struct LayerCoactivation {
    int layer = 0;
    std::vector<int64_t> count;       // [E] tokens selecting e
    std::vector<int64_t> pair;        // [E*E] symmetric: tokens selecting both a and b (diagonal 0)
    std::vector<double> conditional;  // [E*E] CoAct[a,b] = pair[a,b] / count[a] (asymmetric; 0 if count[a]=0)
    std::vector<double> lift;         // [E*E] pair*T / (count[a] count[b]) (0 where undefined)
};
struct CoactivationResult {
    int n_experts = 0;
    int64_t tokens = 0;
    double independence_baseline = 0;  // (k-1)/(E-1), k = mean selections per token
    std::vector<LayerCoactivation> layers;
    std::vector<std::string> notes;
};
Result<CoactivationResult> coactivation(const RoutingArrays& a, const CoactivationOptions& o);

struct TransitionOptions {
    TokenFilter filter;
    PairMode mode = PairMode::AllPairs;
    int layer_gap = 1;  // compare MoE slot m with m + layer_gap
};
struct LayerTransition {
    int from_layer = 0, to_layer = 0;
    std::vector<int64_t> count;     // [E*E] Count[a,b]
    std::vector<double> prob;       // [E*E] P(b | a), rows sum to 1 (0 rows stay 0)
    std::vector<double> row_entropy;  // [E] nats
    double mutual_information = 0;  // nats, of the joint pair distribution
    double top4_mass = 0;           // mean over non-empty rows of the 4 largest P(b|a)
};
struct TransitionResult {
    int n_experts = 0;
    int64_t tokens = 0;
    std::vector<LayerTransition> pairs;
    std::vector<std::string> notes;
};
Result<TransitionResult> transitions(const RoutingArrays& a, const TransitionOptions& o);

}  // namespace moescope::analysis
