#pragma once
// Router-level metrics (methods.md §7.2 load-balancing loss, §7.3 micro- vs global-batch LBL, §7.4
// router entropy/confidence, §7.9 router saturation / routing agreement).
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

// ---- §7.2 / §7.3 / §7.4 (need router logits: capture level Logits) --------------------------------
struct RouterStatsOptions {
    TokenFilter filter;
    ScoreFunction score = ScoreFunction::Softmax;  // Sigmoid for DeepSeek-V3/R1 (q = s / sum s, §7.4)
    std::vector<int> micro_batch_sizes = {1, 4, 16};  // b sequences per pseudo micro-batch (§7.3)
    double margin_epsilon = 0.01;                     // near-tie threshold for p_(k) - p_(k+1)
};
struct MicroGlobal {
    int batch_sequences = 0;  // b
    int n_batches = 0;
    double lbl_micro = 0;     // mean_m E sum_e f^(m) P^(m)
    double lbl_global = 0;    // mean_m E sum_e f^(G) P^(m)
};
struct LayerRouterStats {
    int layer = 0;
    double lbl_norm = 0;       // E * sum_e f[e] P[e], f = count / total selections: 1.0 = balanced
    double lbl_hf = 0;         // HF load_balancing_loss_func convention for this layer alone = mean k * lbl_norm
    double z_loss = 0;         // mean (logsumexp z)^2 (ST-MoE router z-loss, without its coefficient)
    double mean_entropy = 0;   // mean over tokens of H(p_t) / log E
    double mean_topk_mass = 0; // mean sum_{e in S_t} p_t[e]
    double mean_margin = 0;    // mean p_(k) - p_(k+1) (k = experts selected for that token)
    double near_tie_fraction = 0;  // share of tokens with margin < margin_epsilon
    std::vector<double> mean_prob;  // [E] P[e]
    std::vector<MicroGlobal> micro_global;
};
struct RouterStatsResult {
    RouterStatsOptions options;
    int64_t tokens = 0, sequences = 0;
    int n_experts = 0;
    std::vector<LayerRouterStats> layers;
    double mean_lbl_norm = 0;  // averaged over layers
    std::vector<std::string> notes;
};
Result<RouterStatsResult> router_stats(const RoutingArrays& a, const RouterStatsOptions& o);

// ---- §7.9 router saturation / routing agreement between two runs on identical tokens -----------------
struct SaturationOptions {
    int k = 0;  // 0 = each side's k_max (the same K is used for both)
};
struct LayerSaturation {
    int layer = 0;
    double saturation = 0;     // mean_t |TopK_a ∩ TopK_b| / K
    double top1_agreement = 0; // share of tokens whose top-1 expert is identical
    double jaccard = 0;        // mean_t |A ∩ B| / |A ∪ B|
    double set_differ = 0;     // share of tokens whose top-K sets differ (A != B as sets; order ignored)
};
struct SaturationResult {
    int k = 0;
    int64_t tokens = 0;
    double random_baseline = 0;  // K / E: expected overlap of independent random top-K sets
    std::vector<LayerSaturation> layers;
    std::vector<std::string> notes;
};
// `reference` is the final checkpoint / unmodified run; `other` the intermediate / modified one.
Result<SaturationResult> router_saturation(const RoutingArrays& reference, const RoutingArrays& other,
                                           const SaturationOptions& o);

}  // namespace moescope::analysis
