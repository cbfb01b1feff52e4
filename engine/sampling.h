#pragma once
// Token sampling: greedy, temperature, top-k, top-p, min-p, repetition penalty, seeded.
// Deterministic given the seed: the generator is a self-contained xoshiro256** (no std:: distributions,
// whose output differs between standard libraries), so a run replays identically everywhere.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/error.h"

namespace moescope {

struct SamplingParams {
    bool greedy = true;          // argmax (ties -> lowest id); the other fields are ignored
    float temperature = 1.0f;    // > 0
    int top_k = 0;               // 0 = off
    float top_p = 1.0f;          // 1 = off; keep the smallest prefix with mass >= top_p
    float min_p = 0.0f;          // 0 = off; drop tokens with p < min_p * p_max
    float repeat_penalty = 1.0f; // 1 = off; CTRL-style: logit > 0 ? logit / r : logit * r for recent tokens
    int repeat_last_n = 64;      // how many recent tokens the penalty looks at (0 = the whole history)
    uint64_t seed = 0;

    // Error naming the bad field (temperature <= 0, top_p outside (0, 1], ...).
    Result<bool> validate() const;
};

struct TokenProb {
    int32_t id = 0;
    float logprob = 0.0f;
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& params = {});
    const SamplingParams& params() const { return params_; }

    // Picks the next token from raw logits [V]; `history` is the context so far (for the repetition
    // penalty). Copying a Sampler copies its random state (a fork continues the same stream).
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

    // log softmax of the raw logits (no temperature / penalty) for token `id`.
    static float logprob(std::span<const float> logits, int32_t id);
    // The n most likely tokens under the raw logits, best first, with log probabilities.
    static std::vector<TokenProb> top_n(std::span<const float> logits, int n);
    // argmax, lowest id on ties.
    static int32_t argmax(std::span<const float> logits);

private:
    double next_uniform();  // [0, 1)
    SamplingParams params_;
    uint64_t s_[4];
    std::vector<float> work_;     // scratch, reused between calls
    std::vector<int32_t> order_;
    std::vector<double> prob_;
};

}  // namespace moescope
