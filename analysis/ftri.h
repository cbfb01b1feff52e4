#pragma once
// fTRI behaviour localisation (methods.md §1 MoTE, §1b SteerMoE): which (layer, expert) pairs are
// activated more often on behaviour tokens than on control tokens.
//
// For every MoE layer L and expert E:
//   pooling = tokens (default, SteerMoE calc_risk_diff): f_b = a1 / n1, f_c = a2 / n2 where a = number of
//     selected tokens whose top-k contains E at L, n = number of selected tokens; test: stats.h
//     compare_proportions (Fisher exact when an expected cell < 5, else pooled two-proportion z).
//   pooling = prompts (MoTE workbench default, methods.md §1.3): A_p = C_p / |T_p| per prompt, f = mean of
//     A_p over the set's prompts; test: Welch t on the per-prompt rates.
//   difference = f_b - f_c; risk ratio = f_b / f_c (Haldane +0.5 correction on counts when a zero makes it
//   undefined); q = Benjamini–Hochberg over all L x E tests.
// Ranking: difference descending (rank_by = abs_difference: |difference| descending); ties by p, then (L, E).
// Preset: the first top_n ranked pairs with difference > 0 (and q <= max_q) — the experts to switch off.
// Random control: for each layer, as many experts as the preset has in that layer, drawn uniformly from
// that layer's experts outside the preset (MoTE random-expert control, "matched per layer").
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"
#include "analysis/stats.h"
#include "engine/interventions.h"

namespace moescope::analysis {

enum class FtriPooling { Tokens, Prompts };
enum class FtriRankBy { Difference, AbsDifference };

struct FtriOptions {
    TokenFilter behavior;  // rows of the behaviour set(s)
    TokenFilter control;   // rows of the control set(s)
    FtriPooling pooling = FtriPooling::Tokens;
    FtriRankBy rank_by = FtriRankBy::Difference;
    int top_n = 10;          // MoTE switched off the top 10 refusal experts
    double max_q = 1.0;      // only pairs with q <= max_q enter the preset (1 = no filter)
    int random_repeats = 5;  // methods.md §1.3 suggests R >= 5 random controls
    uint64_t random_seed = 0;
};

struct FtriRow {
    int layer = 0, expert = 0;       // HF layer index, expert index
    int64_t behavior_count = 0, control_count = 0;  // tokens with the expert selected (tokens pooling)
    double behavior_freq = 0, control_freq = 0;
    double difference = 0, risk_ratio = 0;
    double statistic = 0, p = 1, q = 1;
    TestMethod method = TestMethod::None;
};

struct FtriResult {
    FtriOptions options;
    int64_t behavior_tokens = 0, control_tokens = 0;
    int64_t behavior_prompts = 0, control_prompts = 0;
    int n_experts = 0;
    std::vector<int> moe_layers;
    std::vector<FtriRow> ranked;          // every (L, E), best first
    std::vector<ExpertRef> preset;        // top-N to disable
    std::vector<std::vector<ExpertRef>> random_controls;  // random_repeats sets, each matched per layer
    std::vector<std::string> notes;
};

// Both sets from one bundle (rows picked by options.behavior / options.control).
Result<FtriResult> ftri(const RoutingArrays& arrays, const FtriOptions& options);
// Behaviour and control recorded separately (e.g. two databases or two reads): layouts must match.
Result<FtriResult> ftri(const RoutingArrays& behavior, const RoutingArrays& control, const FtriOptions& options);

// Deterministic per-layer matched random expert sets (exposed for tests and the app).
std::vector<ExpertRef> random_matched_control(const std::vector<ExpertRef>& chosen, int n_experts, uint64_t seed);

}  // namespace moescope::analysis
