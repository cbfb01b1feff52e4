#pragma once
// Local routing consistency (methods.md §5, Liang et al. arXiv 2505.16056, ljcleo/moe-lrc).
//
// SRP (Segment Routing best Performance), per expert, layer (pooled over experts) and model (pooled over
// layers), for segment length m: every window [i, i+m) of every sequence (stride 1) gives n[f] = number
// of windows in which the expert is active f times; for threshold alpha
//   TP = sum_{f>=alpha} f n[f],  Pred = m sum_{f>=alpha} n[f],  Act = sum_f f n[f],  F1 = 2TP / (Pred + Act)
// SRP = max_alpha F1; rho_hat = Pred(alpha*) / Act; act_rate = Act / (m #windows).
// Pooled (group) SRP sums the histograms first and picks one common alpha (moe-lrc 31_srp_refine.py).
// Unlike moe-lrc's doubling trick, m need not be a power of two.
//
// SCH (Segment Cache best Hit rate), per layer: cache of C = round(rho k) experts, empty at the start of
// each sequence; at token t each demanded expert is a hit if cached, else a miss and is inserted; while
// the cache is over capacity evict, among cached experts NOT demanded at t, the one used fewest times
// in tokens [t, t+m), ties by least recent use, then lowest id. SCH = hits / demands. Cold-start misses
// count as misses (moe-lrc's stack algorithm treats empty slots as pre-filled; expect small differences
// on short sequences — methods.md §5.3).
// Model-level (cross-layer) SCH (moe-lrc 41_sch_calc.py, methods.md §5.3): one cache spanning all MoE
// layers, expert ids concatenated into one space (layer slot m, expert e -> m E + e), every token demands
// its experts of all layers, C = round(rho n_moe k) (cache_m = C / (L k)); same eviction rule.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

struct LrcOptions {
    TokenFilter filter;
    std::vector<int> seg_lengths = {4, 16, 64, 256};       // moe-lrc config.json
    std::vector<double> cache_ratios = {1, 1.5, 2, 3, 4};  // C = rho x k (turning point rho ~ 2)
    bool compute_sch = true;
};
struct SrpValue {
    double srp = 0;        // best F1 (0 when the expert is never active)
    int alpha = 0;         // best threshold
    double rho_hat = 0;    // Pred(alpha*) / Act
    double act_rate = 0;   // Act / (m #windows)
    int64_t windows = 0;
};
struct SrpForLength {
    int m = 0;
    SrpValue model;                           // pooled over all layers and experts
    std::vector<SrpValue> layer;              // [n_moe] pooled over experts
    std::vector<std::vector<SrpValue>> expert;  // [n_moe][E]
};
struct SchValue {
    int m = 0;
    double ratio = 0;
    int cache_size = 0;
    double hit_rate = 0;
};
struct LrcResult {
    LrcOptions options;
    int64_t sequences = 0, tokens = 0;
    int k = 0, n_experts = 0;
    std::vector<int> moe_layers;
    std::vector<SrpForLength> srp;              // one per segment length
    std::vector<std::vector<SchValue>> sch;     // [n_moe][m x ratio]
    std::vector<SchValue> sch_model;            // [m x ratio] cross-layer cache (cache_size = round(rho n_moe k))
    std::vector<std::string> notes;
};
Result<LrcResult> local_routing_consistency(const RoutingArrays& a, const LrcOptions& o);

// SRP from an activation-count histogram n[f], f = 0..m (exposed for tests).
SrpValue srp_from_histogram(const std::vector<int64_t>& n, int m);

}  // namespace moescope::analysis
