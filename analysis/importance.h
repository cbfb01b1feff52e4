#pragma once
// Expert importance for pruning (methods.md §6 EASY-EP, §8 MC-MoE) and keep-top-N-per-layer plans.
//
// Per MoE layer and expert, over the selected calibration tokens t and their slots i with expert e:
//   frequency   = sum 1                                  (MC-MoE phi before normalisation)
//   gate        = sum w[t,i]
//   output      = sum w[t,i] * n[t,i]                    n = ||E_e(x_t)||_2 (capture level Activations)
//   easy_ep     = sum w[t,i] * n[t,i] * s_t              s_t = max(0, 1 - cos(h_t, h_t + r_t)), the token
//                                                        contribution, supplied per token-layer by the caller
//                                                        (the engine computes it; RoutingArrays has no h, r)
//   mc_moe      = phi^alpha * omega^beta, phi = frequency / layer sum, omega = sum of PRE-renormalisation
//                 softmax p_e over selections / layer sum (needs router logits; falls back to recorded gate
//                 weights, which equal p_e only for models without top-k renormalisation).
// A plan keeps the top keep_per_layer experts of each layer by the chosen score (ties: lower id).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/common.h"
#include "engine/interventions.h"

namespace moescope::analysis {

enum class ImportanceMethod { Frequency, Gate, Output, EasyEp, McMoe };
const char* importance_method_name(ImportanceMethod m);
Result<ImportanceMethod> parse_importance_method(const std::string& text);

struct ImportanceOptions {
    TokenFilter filter;
    ImportanceMethod method = ImportanceMethod::EasyEp;
    std::vector<float> token_contribution;  // [n_tokens][n_moe] s_t; required for EasyEp
    double mc_alpha = 1.0;   // precision_solver.py argparse defaults
    double mc_beta = 1.5;
    int keep_per_layer = 0;  // 0 = half the experts (EASY-EP keeps 128 of 256)
    ScoreFunction score = ScoreFunction::Softmax;
};
struct ImportanceResult {
    ImportanceOptions options;  // token_contribution cleared (size only in notes)
    int n_experts = 0;
    int64_t tokens = 0;
    std::vector<int> moe_layers;
    // [n_moe][E] each; empty when the inputs for it were not recorded
    std::vector<std::vector<double>> frequency, gate, output, easy_ep, mc_moe;
    std::vector<std::vector<double>> score;  // the chosen method's scores
    std::vector<std::vector<int>> keep;      // [n_moe] kept expert ids ascending
    std::vector<std::vector<int>> drop;      // [n_moe] dropped expert ids ascending
    std::vector<ExpertRef> disable_preset;   // the drops as a quick-mode (P1) disable preset
    std::vector<std::string> notes;
};
Result<ImportanceResult> expert_importance(const RoutingArrays& a, const ImportanceOptions& o);

// Coverage of a keep plan: per layer, sum of values[l][e] over kept e / sum over all e (the fraction of the
// importance or routing mass the kept experts carry). A layer whose values sum to 0 counts as fully
// covered (1.0). values and keep are [n_moe][...] as in ImportanceResult.
std::vector<double> kept_fraction(const std::vector<std::vector<double>>& values, const std::vector<std::vector<int>>& keep);

}  // namespace moescope::analysis
