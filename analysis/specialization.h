#pragma once
// Routing specialisation (methods.md §4 OpenMoE, §7.1 load, §7.7 domain, §7.8 vocabulary).
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

// ---- §7.1 expert load per layer -------------------------------------------------------------------
struct LoadOptions {
    TokenFilter filter;
};
struct LayerLoad {
    int layer = 0;
    std::vector<int64_t> count;       // [E] selections (token, slot)
    std::vector<double> fraction;     // f[e] = count / sum(count)  (= count / (k|T|) for fixed k); sums to 1
    std::vector<double> utilisation;  // u[e] = count / |T|; sums to the mean k
    std::vector<double> weight_mass;  // sum of gate weights (MC-MoE "activated weights")
    double norm_entropy = 0;          // H(f) / log E
    double cv = 0;                    // std(f) / mean(f), population std
    double max_over_mean = 0;         // E * max f
    double gini = 0;
    double max_vio = 0;               // (max count - mean count) / mean count
    double freq_sd = 0;               // std of activation frequency u (moe-lrc Table 2, units UNCONFIRMED)
    int dead = 0;                     // experts never selected
};
struct LoadResult {
    int64_t tokens = 0;
    int n_experts = 0;
    std::vector<LayerLoad> layers;
    std::vector<std::string> notes;
};
Result<LoadResult> expert_load(const RoutingArrays& a, const LoadOptions& o);

// ---- §7.7 domain specialisation across prompt sets (OLMoE) ----------------------------------------
struct DomainOptions {
    TokenKind kind = TokenKind::All;
    std::vector<std::string> sets;  // empty = every set in the data
};
struct DomainSpecialization {
    std::vector<std::string> sets;
    std::vector<int64_t> set_tokens;  // [S]
    std::vector<int> moe_layers;
    int n_experts = 0;
    double uniform_baseline = 0;      // mean k / E
    // spec[s][m][e] = #tokens of set s with e in top-k at MoE slot m / #tokens of set s  (OLMoE)
    std::vector<std::vector<std::vector<double>>> spec;
    // cv[m][e] = coefficient of variation across sets of e's load fraction (moe-lrc §5.4)
    std::vector<std::vector<double>> cv;
    std::vector<std::string> notes;
};
Result<DomainSpecialization> domain_specialization(const RoutingArrays& a, const DomainOptions& o);

// ---- §4.2 / §7.8 token-ID (vocabulary) specialisation ----------------------------------------------
struct TokenSpecOptions {
    TokenFilter filter;
    bool top1_only = true;   // OLMoE / moe-lrc use the top-1 expert; OpenMoE's choice is UNCONFIRMED
    int64_t min_count = 128; // OpenMoE App. E; moe-lrc uses 20, OLMoE 10
    int top_tokens_per_expert = 15;  // OLMoE / moe-lrc lists
};
struct IdSpec {
    int32_t id = 0;          // token id or position id
    int64_t count = 0;
    int top_expert = -1;
    double max_share = 0;    // max_e r_v[e]
    double sd = 0;           // population std over experts of r_v (OpenMoE routing-decision std)
    double norm_entropy = 0; // H(r_v) / log E
};
struct ExpertTopTokens {
    int expert = 0;
    std::vector<std::pair<int32_t, double>> tokens;  // (token id, share r_v[e]) best first
};
struct LayerTokenSpec {
    int layer = 0;
    std::vector<IdSpec> tokens;     // ids with count >= min_count, by count descending
    std::vector<IdSpec> positions;  // position ids with count >= min_count, ascending
    double mean_token_max_share = 0, mean_token_sd = 0;       // unweighted over token ids
    double mean_position_max_share = 0, mean_position_sd = 0; // unweighted over position ids
    std::vector<ExpertTopTokens> top_tokens;  // per expert
};
struct TokenSpecialization {
    TokenSpecOptions options;
    int n_experts = 0;
    std::vector<LayerTokenSpec> layers;
    std::vector<std::string> notes;
};
Result<TokenSpecialization> token_specialization(const RoutingArrays& a, const TokenSpecOptions& o);

// Summary helpers (exposed for tests).
double gini_coefficient(std::vector<double> values);

}  // namespace moescope::analysis
