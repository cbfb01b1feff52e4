#pragma once
// "Prune what-if" (methods.md §3.2 item 6, §3.1): how much a set of disabled experts changes the model's
// next-token distributions, against the unmodified model and against random expert sets of the same size.
// Pure comparison of logits produced by the engine (the CLI drives the forward passes).
//
// For each position t with logits [V] of the base and the variant run:
//   KL(base || variant) = sum_v p_b log(p_b / p_v)   (softmax in double)
//   top-1 agreement     = argmax equal
//   NLL                 = -log p(target_t) where target_t is the next prompt token (teacher forcing);
//   perplexity          = exp(mean NLL) over positions with a target.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/interventions.h"

namespace moescope::analysis {

// What "pruning" an expert set means in the what-if (methods.md §0.3):
//   ZeroOutput (default, P2): the Super Experts paper's down_proj zeroing — routing unchanged, the experts
//                             keep their slots and gate weights, their outputs are zero;
//   Disable (P1):             router logit -inf before top-k — other experts take the slots.
enum class PruneMode { ZeroOutput, Disable };
const char* prune_mode_name(PruneMode m);  // "zero" / "disable"
Interventions prune_interventions(const std::vector<ExpertRef>& set, PruneMode mode);

struct LogitRun {
    int vocab = 0;
    std::vector<float> logits;    // [T][V]
    std::vector<int32_t> targets; // [T] next token id, -1 = none (last position)
};

struct DistributionShift {
    int64_t positions = 0;
    double mean_kl = 0;          // mean KL(base || variant) in nats
    double max_kl = 0;
    double top1_agreement = 0;   // share of positions with the same argmax
    double nll_base = 0, nll_variant = 0;    // mean NLL over positions with a target
    double ppl_base = 0, ppl_variant = 0;
    int64_t scored = 0;          // positions with a target
};

// Compares runs position by position; several prompts are concatenated (same T per pair). Error when the
// shapes differ or are empty.
Result<DistributionShift> distribution_shift(const std::vector<LogitRun>& base, const std::vector<LogitRun>& variant);

}  // namespace moescope::analysis
