#pragma once
// SCMoE self-contrast decoding (Shi et al., NeurIPS 2024; ../shared/docs/methods.md §2).
//
// Two sequences run side by side, each with its own Session (own KV cache), fed the same tokens:
//   strong = the model's normal routing (with the user's interventions),
//   weak   = rank-r routing (only the r-th ranked expert, weight 1; paper default rank-2 for Mixtral)
//            or top-k' routing (DeepSeekMoE setting), optionally only on a set of MoE layers.
// Per step (methods.md §2.2):
//   z_sc(i) = (1+β)·log p_strong(i) − β·log p_weak(i)   if p_strong(i) ≥ α·max_j p_strong(j)
//           = −inf                                       otherwise (adaptive plausibility constraint)
// Using log-softmax instead of the raw logits z changes z_sc only by a constant per step, so argmax,
// softmax and the plausibility set are identical to the reference's logit formulation.
// next token = argmax z_sc (greedy) or a sample from softmax(z_sc) with the user's sampling params.
// Shared experts stay on in the weak pass (the paper leaves DeepSeekMoE's shared experts UNCONFIRMED;
// only routed selection changes, which is the presumed reading in methods.md §2.3).
// Unlike the reference's default, EOS is not banned here: stop_on_eos decides (as in generate()).
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/generate.h"
#include "engine/sampling.h"
#include "engine/session.h"

namespace moescope {

struct WeakRouting {
    enum class Kind { Rank, TopK };
    Kind kind = Kind::Rank;
    int n = 2;                 // the rank r (1-based) or k'
    std::vector<int> layers;   // MoE layers that use the weak routing (empty = all)
    bool operator==(const WeakRouting&) const = default;
};

// "rank2", "rank3", "top1", ... (case-sensitive). Error names the bad spec.
Result<WeakRouting> parse_weak_routing(const std::string& spec);

// The weak pass's interventions: the strong side's disable and bias entries (the user's steering
// applies to both passes) plus the weak routing. Force/top-k/top-p of the strong side are not carried
// over (they are routing choices the weak routing replaces).
Interventions scmoe_weak_interventions(const Interventions& strong, const WeakRouting& weak);

// The pure scoring function. logp_strong / logp_weak: log-probabilities (or raw logits) [V].
// Returns z_sc [V] with −inf outside the plausible set. Throws Error on size mismatch or bad β/α.
std::vector<float> scmoe_scores(std::span<const float> logp_strong, std::span<const float> logp_weak, float beta,
                                float alpha);

// β ≥ 0 and finite; α in [0, 1].
Result<bool> validate_scmoe_params(float beta, float alpha);

struct ScmoeOptions {
    float beta = 0.5f;             // reference code default (--cd_beta 0.5); paper searches 0.1..0.9
    float alpha = 0.1f;            // fixed in the paper for every task
    WeakRouting weak;              // default rank-2 (paper's Mixtral setting)
    SamplingParams sampling;       // greedy by default; otherwise sampled from softmax(z_sc)
    int max_new_tokens = 64;
    bool stop_on_eos = true;
    std::vector<int32_t> eos_ids;  // empty = the model's eos ids
    int top_alternatives = 5;
    std::function<std::string(int32_t)> detokenize;
};

struct ScmoeToken {
    int index = 0;
    int32_t id = 0;
    std::string piece;
    float strong_logprob = 0.0f;           // log p_strong(id)
    float weak_logprob = 0.0f;             // log p_weak(id)
    float contrast_logprob = 0.0f;         // log softmax(z_sc)(id)
    std::vector<TokenProb> strong_top;     // best first, log p_strong
    std::vector<TokenProb> weak_top;       // best first, log p_weak
    std::vector<TokenProb> contrast_top;   // best first over the plausible set, log softmax(z_sc)
    bool differs_from_strong = false;      // id != argmax p_strong (methods.md §2.5 side-by-side)
};

// "beta=0.5,alpha=0.1,weak=rank2,layers=1:3" (every key optional; layers colon-separated MoE layers).
// Fills beta/alpha/weak of a copy of `base`. Error names the bad key or value.
Result<ScmoeOptions> parse_scmoe_spec(const std::string& spec, const ScmoeOptions& base = {});

class ScmoeDecoder {
public:
    // Two fresh CPU sessions: strong with `strong` interventions, weak with scmoe_weak_interventions.
    // Throws Error on bad options or interventions.
    ScmoeDecoder(const Model& model, const Interventions& strong, const ScmoeOptions& options,
                 SessionOptions session_options = {});
    ~ScmoeDecoder();

    // Prefills both sessions with `prompt` and decodes. The callback returns false to stop.
    GenerateResult run(std::span<const int32_t> prompt, const std::function<bool(const ScmoeToken&)>& on_token = {});

    Session& strong() { return *strong_; }
    Session& weak() { return *weak_; }
    const ScmoeOptions& options() const { return opt_; }

private:
    ScmoeOptions opt_;
    std::unique_ptr<Session> strong_;
    std::unique_ptr<Session> weak_;
};

}  // namespace moescope
