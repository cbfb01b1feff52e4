#pragma once
// The CPU forward pass: the reference implementation (the oracle the other backends are tested
// against). Float32 compute from BF16/F16/F32 weights. Notation: T tokens in this call, H hidden size,
// nh query heads, nkv key/value heads, D head width, E experts, I expert width, V vocab.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/cpu/router.h"
#include "engine/cpu/thread_pool.h"
#include "engine/interventions.h"
#include "engine/model/model.h"
#include "engine/routing_tap.h"

namespace moescope::cpu {

// Keys and values of every layer for positions [0, n). Layout per layer: K [pos][heads][dk],
// V [pos][heads][dv] (heads = nkv for GQA, nh for MLA with the shared rope key broadcast per head), so
// appending a token never moves earlier entries. Capacity grows geometrically (no per-token allocation).
// dtype F32 (default) or BF16 (k16/v16 instead of k/v: values rounded to nearest even when stored).
struct KVCache {
    int64_t n = 0;
    int64_t capacity = 0;
    int heads = 0, dk = 0, dv = 0;
    DType dtype = DType::F32;
    std::vector<std::vector<float>> k, v;         // [n_layers] (F32)
    std::vector<std::vector<uint16_t>> k16, v16;  // [n_layers] (BF16)

    void init(const ModelConfig& c);
    void ensure(int64_t tokens);  // capacity for `tokens` positions
    // Stores position pos of a layer: kv [heads*dk] keys, vv [heads*dv] values (float32 in).
    void put(int layer, int64_t pos, const float* kv, const float* vv);
};

// Precomputed rotary tables: cos/sin [max_pos][rot/2] are computed on demand per position.
struct Rope {
    int dim = 0;                  // rotary width (head_dim, or qk_rope_head_dim for MLA)
    bool interleaved = false;     // pairs (2i, 2i+1) instead of (i, i + d/2)
    float attention_factor = 1.0f;
    std::vector<float> inv_freq;  // [dim/2]
    void init(const ModelConfig& c);
    // Rotates x[0..dim) in place for position pos.
    void apply(float* x, int64_t pos) const;
    // Rotates n heads x[h*stride .. h*stride+dim) for position pos (cos/sin computed once).
    void apply_heads(float* x, int n, int64_t stride, int64_t pos) const;
};

class CpuForward {
public:
    CpuForward(const Model& model, ThreadPool* pool);

    // Runs tokens at positions [cache.n, cache.n + T), appends their K/V to the cache and writes logits:
    // [V] of the last position, or [T][V] when all_logits. `step` is reported in the events.
    void run(KVCache& cache, std::span<const int32_t> tokens, const Interventions& iv, RoutingObserver* obs,
             int step, bool all_logits, std::vector<float>& logits);

private:
    struct Scratch {
        std::vector<float> x, xn, tmp;             // [T][H]
        std::vector<float> q, kk, vv, attn;        // projections and attention output
        std::vector<float> lat, lat2;              // MLA latents
        std::vector<float> scores;                 // [threads][ctx]
        std::vector<float> sink;                   // [T][nh] attention mass on position 0
        std::vector<float> router;                 // [T][E]
        std::vector<float> shared_gate;            // [T]
        std::vector<float> contrib;                // [T] EASY-EP token contribution (level Activations)
        std::vector<float> gx, g, u, d;            // gathered expert inputs / intermediates / outputs
        std::vector<float> out_norm, out_max;      // [T][k] activations per selected expert
        std::vector<int32_t> out_ch;
        std::vector<int32_t> slot_tok;             // [slots] token of each gathered row (expert order)
        std::vector<int32_t> tok_n, tok_rows;      // [T], [T][k]: a token's gathered rows, in expert order
        std::vector<int32_t> tok_slot;             // [T][k]: the selection slot j of each of those rows
        int tok_k = 1;                             // k: the largest selection of this call
        std::vector<std::vector<int32_t>> sel_e;   // [T] selected experts
        std::vector<std::vector<float>> sel_w;     // [T] weights
        std::vector<std::vector<int32_t>> by_expert;  // [E] token indices
        std::vector<std::vector<int32_t>> slot_of;    // [E] slot of the expert in the token's selection
        std::vector<MatTask> tasks;                // products of one pool dispatch
        RouteScratch route;
        RouteResult rr;
        std::vector<LayerInterventions> li;        // [n_layers]
        std::vector<float> hn;                     // final norm rows
        std::vector<float> kc_row, vc_row;         // MLA: one position's cache entry before storing
    };

    void attention_gqa(int layer, KVCache& cache, int64_t pos0, int T, bool want_sink);
    void attention_mla(int layer, KVCache& cache, int64_t pos0, int T, bool want_sink);
    void attend(int layer, KVCache& cache, int64_t pos0, int T, const float* q, int q_stride, int dq, float* out,
                bool want_sink);
    void moe(int layer, int64_t pos0, std::span<const int32_t> tokens, RoutingObserver* obs, CaptureLevel level,
             int step);
    void mlp(const MlpWeights& w, const float* x, int n, float* out);  // out[n][H] = mlp(x[n][H])
    void run_expert_group(const MoeWeights& M, int e0, int e1, int64_t slots, int64_t I, float* onorm, float* omax,
                          int E);
    void matmul_rows(const MatrixView& w, const float* x, int n, float* y);
    // f(t0, t1) over token ranges covering [0, T): on the pool when the per-token work (about
    // `per_token` float operations) makes it worth a hand-off, else on this thread. The per-token
    // computations are independent, so the results do not depend on the split.
    template <class F>
    void for_tokens(int T, int64_t per_token, F&& f);

    const Model& model_;
    const ModelConfig& c_;
    ThreadPool* pool_;
    Rope rope_;
    Scratch s_;
};

template <class F>
void CpuForward::for_tokens(int T, int64_t per_token, F&& f) {
    if (pool_ && pool_->size() > 1 && T > 1 && int64_t(T) * per_token >= (int64_t{1} << 16))
        pool_->parallel_for(T, [&](int64_t b, int64_t e, int) { f(static_cast<int>(b), static_cast<int>(e)); });
    else f(0, T);
}

// RMSNorm over n values: y = w * x / sqrt(mean(x²) + eps), float32 (HF LlamaRMSNorm).
void rms_norm(const float* x, const float* w, int n, float eps, float* y);

}  // namespace moescope::cpu
