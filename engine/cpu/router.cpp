// Routing variants (architectures.md §1.6): softmax top-k (Mixtral, Qwen2/3-MoE, OLMoE, DeepSeek-V2
// greedy / group-limited max) and sigmoid group-limited noaux_tc (DeepSeek-V3), with interventions.
#include "engine/cpu/router.h"

#include <cmath>
#include <limits>

namespace moescope::cpu {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// a ranks before b: larger value first, NaN last, ties to the lower index (deterministic).
inline bool better(float va, int a, float vb, int b) {
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na != nb) return nb;
    if (!na && va != vb) return va > vb;
    return a < b;
}

// Top-n indices of v by `better`, written to out (best first). O(n·E): n is small.
void top_n(const std::vector<float>& v, int n, std::vector<int32_t>& out, std::vector<int>& taken) {
    const int E = static_cast<int>(v.size());
    out.clear();
    taken.assign(E, 0);
    for (int r = 0; r < n && r < E; ++r) {
        int best = -1;
        for (int e = 0; e < E; ++e)
            if (!taken[e] && (best < 0 || better(v[e], e, v[best], best))) best = e;
        taken[best] = 1;
        out.push_back(best);
    }
}

// Forcing (golden README step 3): a forced expert that is not selected replaces the lowest-ranked
// selected expert that is not itself forced, and takes the last slot.
void apply_force(const LayerInterventions& li, std::vector<int32_t>& sel) {
    for (int f : li.forced) {
        bool present = false;
        for (int32_t e : sel) present |= (e == f);
        if (present) continue;
        for (int j = static_cast<int>(sel.size()) - 1; j >= 0; --j) {
            bool is_forced = false;
            for (int g : li.forced) is_forced |= (g == sel[j]);
            if (is_forced) continue;
            sel.erase(sel.begin() + j);
            sel.push_back(f);
            break;
        }
    }
}

// Dynamic k (top-p routing): smallest best-first prefix of `ranked` whose mass >= p, at least 1.
int top_p_count(const std::vector<int32_t>& ranked, const std::vector<float>& prob, float total, float p) {
    float acc = 0.0f;
    for (size_t i = 0; i < ranked.size(); ++i) {
        acc += prob[ranked[i]] / total;
        if (acc >= p) return static_cast<int>(i) + 1;
    }
    return static_cast<int>(ranked.size());
}

}  // namespace

void LayerInterventions::resolve(const ModelConfig& c, int layer, const Interventions& iv) {
    const int E = c.n_experts;
    k = iv.top_k ? *iv.top_k : c.top_k;
    for (const auto& t : iv.top_k_per_layer)
        if (t.layer == layer) k = t.k;
    disabled.assign(E, 0);
    bias.assign(E, 0.0f);
    forced.clear();
    any_bias = false;
    for (const auto& d : iv.disable)
        if (d.layer == layer && d.expert >= 0 && d.expert < E) disabled[d.expert] = 1;
    zeroed.assign(E, 0);
    for (const auto& z : iv.zero_output)
        if (z.layer == layer && z.expert >= 0 && z.expert < E) zeroed[z.expert] = 1;
    for (const auto& f : iv.force)
        if (f.layer == layer && f.expert >= 0 && f.expert < E) forced.push_back(f.expert);
    for (const auto& b : iv.bias)
        if (b.layer == layer && b.expert >= 0 && b.expert < E) {
            bias[b.expert] += b.bias;
            any_bias = true;
        }
    top_p = iv.top_p ? *iv.top_p : 0.0f;
    top_p_max_k = iv.top_p_max_k > 0 ? iv.top_p_max_k : k;
    rank_only = 0;
    if (iv.rank_only) {
        bool here = iv.rank_only_layers.empty();
        for (int l : iv.rank_only_layers) here |= (l == layer);
        if (here) rank_only = *iv.rank_only;
    }
}

void route_token(const ModelConfig& c, const float* z, const float* corr_bias, const LayerInterventions& li,
                 RouteScratch& s, RouteResult& out) {
    const int E = c.n_experts;
    std::vector<int>& taken = s.order;
    s.score.resize(E);
    s.choice.resize(E);
    out.experts.clear();
    out.weights.clear();
    const int k_sel = li.top_p > 0.0f ? li.top_p_max_k : li.k;

    if (c.router_score == RouterScore::Softmax) {
        // p = softmax(z') with z'_e = z_e + bias_e, and -inf for disabled experts (renormalises the rest).
        float mx = kNegInf;
        for (int e = 0; e < E; ++e) {
            const float v = li.disabled[e] ? kNegInf : z[e] + li.bias[e];
            s.score[e] = v;
            if (v > mx) mx = v;
        }
        float sum = 0.0f;
        for (int e = 0; e < E; ++e) {
            const float ex = (s.score[e] == kNegInf || mx == kNegInf) ? 0.0f : std::exp(s.score[e] - mx);
            s.score[e] = ex;
            sum += ex;
        }
        for (int e = 0; e < E; ++e) s.score[e] = sum > 0.0f ? s.score[e] / sum : 0.0f;
        // Selection key: p, or for DeepSeek-V2 group_limited_greedy p masked to the best groups by max.
        for (int e = 0; e < E; ++e) s.choice[e] = li.disabled[e] ? kNegInf : s.score[e];
        if (c.topk_method == TopkMethod::GroupLimitedMax) {
            const int G = c.n_group, per = E / G;
            s.group.assign(G, kNegInf);
            for (int e = 0; e < E; ++e) s.group[e / per] = std::max(s.group[e / per], s.choice[e]);
            std::vector<int32_t>& gsel = out.experts;  // reuse as scratch
            top_n(s.group, c.topk_group, gsel, taken);
            s.keep.assign(G, 0);
            for (int32_t g : gsel) s.keep[g] = 1;
            for (int e = 0; e < E; ++e)
                if (!s.keep[e / per] && !li.disabled[e]) s.choice[e] = 0.0f;
        }
    } else {
        // DeepSeek-V3 noaux_tc: s = sigmoid(z'), c = s + correction bias; disabled experts are removed
        // before the group choice.
        for (int e = 0; e < E; ++e) {
            const float v = z[e] + li.bias[e];
            s.score[e] = 1.0f / (1.0f + std::exp(-v));
            s.choice[e] = li.disabled[e] ? kNegInf : s.score[e] + (corr_bias ? corr_bias[e] : 0.0f);
        }
        const int G = c.n_group, per = E / G;
        s.group.assign(G, kNegInf);
        for (int g = 0; g < G; ++g) {
            // sum of the two largest non-disabled choices (one left: that one; none: -inf)
            float b1 = kNegInf, b2 = kNegInf;
            for (int e = g * per; e < (g + 1) * per; ++e) {
                if (li.disabled[e]) continue;
                const float v = s.choice[e];
                if (v > b1) {
                    b2 = b1;
                    b1 = v;
                } else if (v > b2) {
                    b2 = v;
                }
            }
            s.group[g] = b1 == kNegInf ? kNegInf : (b2 == kNegInf ? b1 : b1 + b2);
        }
        std::vector<int32_t>& gsel = out.experts;
        top_n(s.group, c.topk_group, gsel, taken);
        s.keep.assign(G, 0);
        for (int32_t g : gsel) s.keep[g] = 1;
        // HF masked_fill(~mask, 0.0) outside the kept groups (golden README; see docs/engine.md).
        for (int e = 0; e < E; ++e)
            if (!s.keep[e / per] && !li.disabled[e]) s.choice[e] = 0.0f;
    }

    if (li.rank_only > 0) {
        // SCMoE rank-r weak activation (methods.md §2.4): rank by the selection key, keep only the
        // r-th, weight 1 (no renormalisation or scaling: the reference sets the weight to 1).
        top_n(s.choice, std::min(li.rank_only, E), out.experts, taken);
        const int32_t pick = out.experts.empty() ? -1 : out.experts.back();
        out.experts.clear();
        if (pick >= 0 && !li.disabled[pick]) {
            out.experts.push_back(pick);
            out.weights.push_back(1.0f);
        }
        return;
    }
    top_n(s.choice, std::min(k_sel, E), out.experts, taken);
    // Never select a disabled expert, even when fewer than k remain.
    while (!out.experts.empty() && li.disabled[out.experts.back()]) out.experts.pop_back();
    if (li.top_p > 0.0f && !out.experts.empty()) {
        float total = 0.0f;
        for (int e = 0; e < E; ++e)
            if (!li.disabled[e]) total += s.score[e];
        if (total > 0.0f) out.experts.resize(top_p_count(out.experts, s.score, total, li.top_p));
    }
    apply_force(li, out.experts);
    if (out.experts.empty() && !li.forced.empty())  // every expert disabled but one forced
        out.experts.push_back(li.forced.front());

    // Weights from the expert's own score (never from the bias-corrected choice).
    float sum = 0.0f;
    for (int32_t e : out.experts) {
        out.weights.push_back(s.score[e]);
        sum += s.score[e];
    }
    const int n = static_cast<int>(out.experts.size());
    if (c.family == Family::Mixtral || (c.family != Family::DeepseekV2 && c.family != Family::DeepseekV3)) {
        if (c.always_renormalize || c.norm_topk_prob)
            for (float& w : out.weights) w = sum > 0.0f ? w / sum : 0.0f;
    } else if (c.router_score == RouterScore::Sigmoid) {
        // DeepSeek-V3: w = s / (Σ s + 1e-20) if norm_topk_prob, then × routed_scaling_factor.
        const float scale = static_cast<float>(c.routed_scaling_factor);
        for (float& w : out.weights) w = (c.norm_topk_prob ? w / (sum + 1e-20f) : w) * scale;
    } else {
        // DeepSeek-V2 original MoEGate: normalise when k > 1 and norm_topk_prob, otherwise scale.
        const float scale = static_cast<float>(c.routed_scaling_factor);
        for (float& w : out.weights) w = (n > 1 && c.norm_topk_prob) ? w / (sum + 1e-20f) : w * scale;
    }
}

}  // namespace moescope::cpu
