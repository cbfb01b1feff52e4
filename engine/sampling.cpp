// Sampling: penalties -> temperature -> top-k -> softmax -> top-p -> min-p -> draw (llama.cpp-like order).
#include "engine/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moescope {

namespace {
uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
// Larger first, ties to the lower id; NaN last.
inline bool ranks_before(float a, int32_t ia, float b, int32_t ib) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na != nb) return nb;
    if (!na && a != b) return a > b;
    return ia < ib;
}
}  // namespace

Result<bool> SamplingParams::validate() const {
    if (greedy) return true;
    if (!(temperature > 0.0f) || !std::isfinite(temperature)) return Error("temperature must be > 0 (use greedy for 0)");
    if (top_k < 0) return Error("top-k must be >= 0");
    if (!(top_p > 0.0f && top_p <= 1.0f)) return Error("top-p must be in (0, 1]");
    if (!(min_p >= 0.0f && min_p <= 1.0f)) return Error("min-p must be in [0, 1]");
    if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty)) return Error("repeat penalty must be > 0");
    if (repeat_last_n < 0) return Error("repeat-last-n must be >= 0");
    return true;
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
    uint64_t x = params.seed;
    for (auto& v : s_) v = splitmix64(x);
}

double Sampler::next_uniform() {  // xoshiro256**
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return static_cast<double>(result >> 11) * 0x1.0p-53;
}

int32_t Sampler::argmax(std::span<const float> logits) {
    int32_t best = 0;
    for (int32_t i = 1; i < static_cast<int32_t>(logits.size()); ++i)
        if (ranks_before(logits[i], i, logits[best], best)) best = i;
    return best;
}

float Sampler::logprob(std::span<const float> logits, int32_t id) {
    float mx = -std::numeric_limits<float>::infinity();
    for (float v : logits) mx = std::max(mx, v);
    double sum = 0.0;
    for (float v : logits) sum += std::exp(static_cast<double>(v - mx));
    return static_cast<float>(static_cast<double>(logits[id] - mx) - std::log(sum));
}

std::vector<TokenProb> Sampler::top_n(std::span<const float> logits, int n) {
    std::vector<TokenProb> out;
    if (n <= 0 || logits.empty()) return out;
    float mx = -std::numeric_limits<float>::infinity();
    for (float v : logits) mx = std::max(mx, v);
    double sum = 0.0;
    for (float v : logits) sum += std::exp(static_cast<double>(v - mx));
    const double lse = static_cast<double>(mx) + std::log(sum);
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    n = std::min<int>(n, static_cast<int>(ids.size()));
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(),
                      [&](int32_t a, int32_t b) { return ranks_before(logits[a], a, logits[b], b); });
    for (int i = 0; i < n; ++i) out.push_back({ids[i], static_cast<float>(logits[ids[i]] - lse)});
    return out;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
    const SamplingParams& p = params_;
    const int V = static_cast<int>(logits.size());
    if (p.greedy) return argmax(logits);
    work_.assign(logits.begin(), logits.end());
    if (p.repeat_penalty != 1.0f) {  // CTRL penalty on each distinct recent token, once
        const size_t from = (p.repeat_last_n == 0 || history.size() <= size_t(p.repeat_last_n))
                                ? 0 : history.size() - p.repeat_last_n;
        order_.assign(history.begin() + static_cast<std::ptrdiff_t>(from), history.end());
        std::sort(order_.begin(), order_.end());
        order_.erase(std::unique(order_.begin(), order_.end()), order_.end());
        for (int32_t id : order_) {
            if (id < 0 || id >= V) continue;
            float& l = work_[id];
            l = l > 0.0f ? l / p.repeat_penalty : l * p.repeat_penalty;
        }
    }
    for (float& l : work_) l /= p.temperature;
    order_.resize(V);
    for (int i = 0; i < V; ++i) order_[i] = i;
    int n = V;
    if (p.top_k > 0 && p.top_k < V) n = p.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(),
                      [&](int32_t a, int32_t b) { return ranks_before(work_[a], a, work_[b], b); });
    order_.resize(n);
    // softmax over the candidates (double for a stable cumulative sum)
    const float mx = work_[order_[0]];
    std::vector<double>& prob = prob_;  // reused: no allocation per token once grown
    prob.resize(n);
    double sum = 0.0;
    for (int i = 0; i < n; ++i) sum += prob[i] = std::exp(static_cast<double>(work_[order_[i]] - mx));
    for (double& q : prob) q /= sum;
    int keep = n;
    if (p.top_p < 1.0f) {
        double acc = 0.0;
        for (int i = 0; i < n; ++i) {
            acc += prob[i];
            if (acc >= p.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    if (p.min_p > 0.0f) {
        int m = 0;
        while (m < keep && prob[m] >= p.min_p * prob[0]) ++m;
        keep = std::max(1, m);
    }
    double total = 0.0;
    for (int i = 0; i < keep; ++i) total += prob[i];
    const double r = next_uniform() * total;
    double acc = 0.0;
    for (int i = 0; i < keep; ++i) {
        acc += prob[i];
        if (r < acc) return order_[i];
    }
    return order_[keep - 1];
}

}  // namespace moescope
