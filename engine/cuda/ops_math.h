#pragma once
// Per-element math of every CUDA kernel, written once as host+device functions so that the g++-built
// tests (tests/engine/test_cuda_math.cpp) check on the CPU exactly the code the kernels run.
// This header must compile with a plain C++ compiler: no CUDA headers, no CUDA-only builtins outside
// `#ifdef __CUDA_ARCH__`. All math is float32 (HF semantics: RMSNorm, softmax and router in float32).
//
// References for the semantics: ../shared/testdata/golden/README.md ("Architecture semantics",
// "Intervention semantics"); HF modeling_{mixtral,qwen3_moe,deepseek_v3}.py.
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MOESCOPE_HD __host__ __device__ __forceinline__
#else
#define MOESCOPE_HD inline
#endif

namespace moescope::cudamath {

// ---- bit casts and BF16 --------------------------------------------------------------------------

MOESCOPE_HD float bits_to_f32(uint32_t u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, 4);
    return f;
#endif
}

MOESCOPE_HD uint32_t f32_to_bits(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
#endif
}

MOESCOPE_HD float neg_inf() { return bits_to_f32(0xff800000u); }

// BF16 is the top half of an IEEE float32, so widening is exact.
MOESCOPE_HD float bf16_to_f32(uint16_t h) { return bits_to_f32(static_cast<uint32_t>(h) << 16); }

// float32 -> BF16, round to nearest even; NaN stays a (quiet) NaN, infinities stay infinities.
MOESCOPE_HD uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

// ---- RMSNorm: y = w * (x * rsqrt(mean(x^2) + eps)) -----------------------------------------------
// The kernel reduces sum_sq over the row (block reduction), then applies rms_apply per element.
// 1/sqrtf (IEEE sqrt) rather than rsqrtf (approximate) keeps device and host bit-identical.
MOESCOPE_HD float rms_inv(float sum_sq, int n, float eps) { return 1.0f / sqrtf(sum_sq / static_cast<float>(n) + eps); }
MOESCOPE_HD float rms_apply(float x, float inv, float w) { return w * (x * inv); }

// ---- activations ---------------------------------------------------------------------------------
MOESCOPE_HD float sigmoidf_(float z) { return 1.0f / (1.0f + expf(-z)); }
MOESCOPE_HD float silu(float g) { return g / (1.0f + expf(-g)); }
// Expert / dense MLP: down(silu(gate(x)) * up(x)); this is the elementwise middle.
MOESCOPE_HD float swiglu(float gate, float up) { return silu(gate) * up; }

// ---- RoPE ----------------------------------------------------------------------------------------
// inv_freq_i = 1 / theta^(2i/d), i in [0, d/2) (HF default rope, float32 pow).
MOESCOPE_HD float rope_inv_freq(int i, int d, float theta) {
    return 1.0f / powf(theta, static_cast<float>(2 * i) / static_cast<float>(d));
}
// The two elements of a head vector (length d) rotated together by frequency i.
//  half (rotate_half, HF default):      (i, i + d/2)
//  interleaved (DeepSeek rope_interleave, GPT-J style): (2i, 2i + 1)
MOESCOPE_HD void rope_pair(int i, int d, bool interleaved, int* a, int* b) {
    if (interleaved) {
        *a = 2 * i;
        *b = 2 * i + 1;
    } else {
        *a = i;
        *b = i + d / 2;
    }
}
// q*cos + rotate_half(q)*sin on one pair: x_a' = x_a cos - x_b sin, x_b' = x_b cos + x_a sin.
MOESCOPE_HD void rope_rotate(float xa, float xb, float c, float s, float* ya, float* yb) {
    *ya = xa * c - xb * s;
    *yb = xb * c + xa * s;
}
// The angle for position pos and frequency i, computed as HF does: float32 pos * inv_freq.
MOESCOPE_HD float rope_angle(int64_t pos, int i, int d, float theta) {
    return static_cast<float>(pos) * rope_inv_freq(i, d, theta);
}

// ---- online softmax (attention accumulation) -----------------------------------------------------
// State over a set of scores s_j: m = max s_j, l = sum exp(s_j - m); the value accumulator
// acc = sum exp(s_j - m) v_j is rescaled by the returned factors. Empty state: m = -inf, l = 0.
struct SoftmaxState {
    float m;
    float l;
};
MOESCOPE_HD SoftmaxState softmax_empty() { return SoftmaxState{neg_inf(), 0.0f}; }
// Adds score s: returns alpha (multiply the old accumulator) and p (weight of the new value).
MOESCOPE_HD void softmax_push(SoftmaxState* st, float s, float* alpha, float* p) {
    const float m_new = st->m > s ? st->m : s;
    *alpha = (st->m == neg_inf()) ? 0.0f : expf(st->m - m_new);
    *p = (s == neg_inf()) ? 0.0f : expf(s - m_new);
    st->l = st->l * (*alpha) + *p;
    st->m = m_new;
}
// Merges state b into a: acc = a_acc * fa + b_acc * fb.
MOESCOPE_HD void softmax_merge(SoftmaxState* a, SoftmaxState b, float* fa, float* fb) {
    const float m = a->m > b.m ? a->m : b.m;
    *fa = (a->m == neg_inf()) ? 0.0f : expf(a->m - m);
    *fb = (b.m == neg_inf()) ? 0.0f : expf(b.m - m);
    a->l = a->l * (*fa) + b.l * (*fb);
    a->m = m;
}

// ---- max-|x| with channel (tap statistics) -------------------------------------------------------
// Larger |value| wins; equal values keep the lower channel, so any reduction order gives one answer.
struct AbsMax {
    float v;
    int32_t idx;
};
MOESCOPE_HD AbsMax absmax_merge(AbsMax a, AbsMax b) {
    if (b.v > a.v || (b.v == a.v && b.idx < a.idx)) return b;
    return a;
}

// ---- router: scores, group-limited selection, interventions, weights ----------------------------
enum RouteScoring : int { kScoreSoftmax = 0, kScoreSigmoid = 1 };
// Final weights w = score of each selected expert, then (n = number selected, S = their sum):
//  kWeightsPlain:      w / S if norm_topk                 (Mixtral, Qwen2/3-MoE, OLMoE; scale unused)
//  kWeightsDeepseekV3: (norm_topk ? w / (S + 1e-20) : w) * scale
//  kWeightsDeepseekV2: (n > 1 && norm_topk) ? w / (S + 1e-20) : w * scale   (HF DeepSeek-V2 MoEGate)
enum RouteWeights : int { kWeightsPlain = 0, kWeightsDeepseekV3 = 1, kWeightsDeepseekV2 = 2 };

struct RouteParams {
    int n_experts = 0;
    int k = 0;                   // experts per token after any top-k override
    int scoring = kScoreSoftmax;
    int norm_topk = 0;           // divide by the sum of selected weights (Mixtral: always 1)
    float scale = 1.0f;          // routed_scaling_factor (DeepSeek); 1 elsewhere
    int weight_mode = 0;         // kWeights* below: how renormalisation and scaling combine
    int n_group = 1;             // DeepSeek n_group (1 = no group limit)
    int topk_group = 1;          // groups kept
    int group_max = 0;           // group score: 0 = sum of the top-2 (V3 noaux_tc), 1 = max (V2 group_limited_greedy)
    float top_p = 0.0f;          // dynamic-k routing threshold; 0 = off
    int top_p_max_k = 0;         // most experts under top_p (clamped to k); 0 = k
};

// Per-layer intervention data (device or host arrays, may be null when unused).
struct RouteEdits {
    const uint8_t* disabled = nullptr;  // [E] 1 = disabled
    const float* logit_bias = nullptr;  // [E] added to the raw router logit before scoring
    const int32_t* forced = nullptr;    // [n_forced] expert ids, in request order
    int n_forced = 0;
};

MOESCOPE_HD bool route_contains(const int32_t* ids, int n, int e) {
    for (int i = 0; i < n; ++i)
        if (ids[i] == e) return true;
    return false;
}

// Best-first selection of up to k ids by descending key among allowed experts (ties: lowest id),
// like torch.topk on distinct values. Returns the number selected.
MOESCOPE_HD int route_topk(const float* key, const uint8_t* disabled, int n, int k, int32_t* ids) {
    int got = 0;
    for (int r = 0; r < k; ++r) {
        int best = -1;
        for (int e = 0; e < n; ++e) {
            if (disabled && disabled[e]) continue;
            if (route_contains(ids, got, e)) continue;
            if (best < 0 || key[e] > key[best]) best = e;
        }
        if (best < 0) break;
        ids[got++] = best;
    }
    return got;
}

// Routes one token. logits [E] are the raw gate outputs (never modified). e_bias [E] is DeepSeek's
// e_score_correction_bias (selection only) or null. Scratch: score [E], choice [E]. Outputs ids/w
// have room for p.k entries (forced experts replace natural ones, so at most k are selected).
// Returns the number of selected experts (k, fewer only when too many experts are disabled, or the
// top_p set is smaller). Semantics: golden/README.md "Intervention semantics", step by step.
MOESCOPE_HD int route_token(const RouteParams& p, const float* logits, const float* e_bias, const RouteEdits& ed,
                            float* score, float* choice, int32_t* ids, float* w) {
    const int E = p.n_experts;
    const float NEG = neg_inf();
    int k = p.k < E ? p.k : E;
    if (k <= 0) return 0;
    if (p.scoring == kScoreSoftmax) {
        // 1. z' = z (+ steering bias); disabled -> -inf; p = softmax(z') in float32.
        float mx = NEG;
        for (int e = 0; e < E; ++e) {
            float z = logits[e] + (ed.logit_bias ? ed.logit_bias[e] : 0.0f);
            if (ed.disabled && ed.disabled[e]) z = NEG;
            choice[e] = z;
            if (z > mx) mx = z;
        }
        float sum = 0.0f;
        for (int e = 0; e < E; ++e) {
            const float v = (mx == NEG || choice[e] == NEG) ? 0.0f : expf(choice[e] - mx);
            score[e] = v;
            sum += v;
        }
        for (int e = 0; e < E; ++e) score[e] = sum > 0.0f ? score[e] / sum : 0.0f;
        // Selection key = probability; disabled experts are out of groups and selection alike.
        for (int e = 0; e < E; ++e) choice[e] = (ed.disabled && ed.disabled[e]) ? NEG : score[e];
    } else {
        // 1. s = sigmoid(z); c = s + e_score_correction_bias; disabled: c = -inf (before groups).
        for (int e = 0; e < E; ++e) {
            const float z = logits[e] + (ed.logit_bias ? ed.logit_bias[e] : 0.0f);
            score[e] = sigmoidf_(z);
            choice[e] = (ed.disabled && ed.disabled[e]) ? NEG : score[e] + (e_bias ? e_bias[e] : 0.0f);
        }
    }
    // 2-3. (Group-limited routers) group score = sum of the two largest non-disabled c, or the
    // max for DeepSeek-V2 group_limited_greedy; keep topk_group groups; c := 0
    // outside them (HF masked_fill 0.0), -inf again for disabled experts.
    if (p.n_group > 1 && p.topk_group < p.n_group && E % p.n_group == 0) {
        const int gs = E / p.n_group;
        // At most 64 groups (DeepSeek-V3 uses 8); kept as a bitmask so no extra scratch is needed.
        uint64_t keep = 0;
        for (int r = 0; r < p.topk_group && r < 64; ++r) {
            int best = -1;
            float best_score = NEG;
            for (int g = 0; g < p.n_group && g < 64; ++g) {
                if (keep & (uint64_t(1) << g)) continue;
                float b1 = NEG, b2 = NEG;
                for (int j = 0; j < gs; ++j) {
                    const float c = choice[g * gs + j];
                    if (c == NEG) continue;
                    if (c > b1) {
                        b2 = b1;
                        b1 = c;
                    } else if (c > b2) {
                        b2 = c;
                    }
                }
                const float gscore = (b1 == NEG) ? NEG : ((b2 == NEG || p.group_max) ? b1 : b1 + b2);
                if (best < 0 || gscore > best_score) {
                    best = g;
                    best_score = gscore;
                }
            }
            if (best >= 0) keep |= uint64_t(1) << best;
        }
        for (int e = 0; e < E; ++e) {
            const int g = e / gs;
            if (!(keep & (uint64_t(1) << g)) && choice[e] != NEG) choice[e] = 0.0f;
        }
    }
    // Optional dynamic k (top-p): the smallest best-first prefix whose mass >= top_p, within
    // [1, top_p_max_k or k]. Mass is the probability (softmax) or the score normalised over the
    // allowed experts (sigmoid).
    if (p.top_p > 0.0f) {
        // p.k is also the capacity of ids/w, so the dynamic k never exceeds it.
        const int kmax_raw = p.top_p_max_k > 0 ? p.top_p_max_k : k;
        const int kmax = kmax_raw < k ? kmax_raw : k;
        const int n = route_topk(choice, ed.disabled, E, kmax, ids);
        float total = 0.0f;
        for (int e = 0; e < E; ++e)
            if (!(ed.disabled && ed.disabled[e])) total += score[e];
        float mass = 0.0f;
        int take = 0;
        for (int i = 0; i < n; ++i) {
            mass += total > 0.0f ? score[ids[i]] / total : 0.0f;
            ++take;
            if (mass >= p.top_p) break;
        }
        k = take < 1 ? (n < 1 ? 0 : 1) : take;
    }
    // 2. Natural selection: top-k of the key, best first, disabled experts never chosen.
    int n = route_topk(choice, ed.disabled, E, k, ids);
    // 3-4. Forcing: a forced expert not already selected replaces the lowest-ranked non-forced
    // member and takes the last slot (as the CPU oracle: no slot is added, so a smaller top-p set
    // stays that size). If nothing was selected (every expert disabled) the first forced one is used.
    for (int f = 0; f < ed.n_forced; ++f) {
        const int e = ed.forced[f];
        if (e < 0 || e >= E || route_contains(ids, n, e)) continue;
        int victim = -1;
        for (int i = n - 1; i >= 0; --i) {
            if (!route_contains(ed.forced, ed.n_forced, ids[i])) {
                victim = i;
                break;
            }
        }
        if (victim < 0) continue;  // every slot already holds a forced expert
        for (int i = victim; i + 1 < n; ++i) ids[i] = ids[i + 1];
        ids[n - 1] = e;
    }
    if (n == 0 && ed.n_forced > 0 && ed.forced[0] >= 0 && ed.forced[0] < E) ids[n++] = ed.forced[0];
    // 5. Weights from each expert's own score (no e_score bias); renormalisation and scale per family.
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) {
        w[i] = score[ids[i]];
        sum += w[i];
    }
    for (int i = 0; i < n; ++i) {
        if (p.weight_mode == kWeightsDeepseekV3) w[i] = (p.norm_topk ? w[i] / (sum + 1e-20f) : w[i]) * p.scale;
        else if (p.weight_mode == kWeightsDeepseekV2) w[i] = (n > 1 && p.norm_topk) ? w[i] / (sum + 1e-20f) : w[i] * p.scale;
        else if (p.norm_topk) w[i] = sum > 0.0f ? w[i] / sum : 0.0f;
    }
    return n;
}

// ---- MoE bucketing (expert-grouped layout) -------------------------------------------------------
// Rows (token t, slot j) are grouped by expert; each expert's segment is padded to a multiple of the
// GEMM tile height `tile` so that one tile never mixes experts (vLLM moe_align_block_size).
MOESCOPE_HD int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace moescope::cudamath
