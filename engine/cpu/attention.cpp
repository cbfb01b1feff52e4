// Attention of the CPU forward pass: standard GQA (architectures.md §1.3, with the qwen3 per-head and
// OLMoE full-width q/k norms) and DeepSeek MLA (§2.5), both over the shared KV cache and `attend`.
#include <algorithm>
#include <cmath>

#include "engine/cpu/forward.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/thread_pool.h"

namespace moescope::cpu {

namespace {
float* buf(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}
void add_bias(float* y, const std::vector<float>& b, int T) {
    if (b.empty()) return;
    const size_t n = b.size();
    for (int t = 0; t < T; ++t)
        for (size_t i = 0; i < n; ++i) y[t * n + i] += b[i];
}
}  // namespace

// Scaled dot-product attention of T new queries over cached keys [lo, pos], causal (and sliding window):
//   s_j = (q_h · k_j) * scale ; p = softmax(s) ; out_h = Σ_j p_j v_j
// q: [T][nh][q_stride] (first dq values used); out: [T][nh][dv]. Head h reads cache head h / (nh / heads).
void CpuForward::attend(int layer, KVCache& cache, int64_t pos0, int T, const float* q, int q_stride, int dq,
                        float* out, bool want_sink) {
    const int nh = c_.n_heads, heads = cache.heads, dv = cache.dv, dk = cache.dk;
    const int group = nh / heads;
    const float scale = static_cast<float>(c_.attention_scale());
    const int64_t ctx = pos0 + T;
    const int nthreads = pool_ ? pool_->size() : 1;
    float* scores_all = buf(s_.scores, static_cast<size_t>(nthreads) * ctx);
    float* sink = want_sink ? buf(s_.sink, static_cast<size_t>(T) * nh) : nullptr;
    const bool b16 = cache.dtype == DType::BF16;
    const float* K = b16 ? nullptr : cache.k[layer].data();
    const float* Vc = b16 ? nullptr : cache.v[layer].data();
    const uint16_t* K16 = b16 ? cache.k16[layer].data() : nullptr;
    const uint16_t* V16 = b16 ? cache.v16[layer].data() : nullptr;
    auto work = [&](int64_t begin, int64_t end, int ti) {
        float* sc = scores_all + static_cast<size_t>(ti) * ctx;
        for (int64_t item = begin; item < end; ++item) {
            const int t = static_cast<int>(item / nh), h = static_cast<int>(item % nh);
            const int64_t pos = pos0 + t;
            const int kvh = h / group;
            int64_t lo = 0;
            if (c_.sliding_window > 0) lo = std::max<int64_t>(0, pos - c_.sliding_window + 1);
            const float* qh = q + (static_cast<size_t>(t) * nh + h) * q_stride;
            const int64_t m = pos - lo + 1;
            // scores of keys lo..pos, one dot product each (kernels.h dot_rows_f32)
            if (b16) dot_rows_bf16(qh, K16 + (lo * heads + kvh) * dk, int64_t(heads) * dk, m, dq, sc + lo);
            else dot_rows_f32(qh, K + (lo * heads + kvh) * dk, int64_t(heads) * dk, m, dq, sc + lo);
            float mx = -INFINITY;
            for (int64_t j = lo; j <= pos; ++j) {
                sc[j] *= scale;
                mx = std::max(mx, sc[j]);
            }
            float sum = 0.0f;
            for (int64_t j = lo; j <= pos; ++j) {
                sc[j] = std::exp(sc[j] - mx);
                sum += sc[j];
            }
            const float p0 = sc[lo] / sum;
            for (int64_t j = lo; j <= pos; ++j) sc[j] = sc[j] / sum;  // p = softmax(s)
            float* o = out + (static_cast<size_t>(t) * nh + h) * dv;
            if (b16) weighted_rows_bf16(sc + lo, V16 + (lo * heads + kvh) * dv, int64_t(heads) * dv, m, dv, o);
            else weighted_rows_f32(sc + lo, Vc + (lo * heads + kvh) * dv, int64_t(heads) * dv, m, dv, o);  // Σ p_j v_j
            if (sink) sink[t * nh + h] = lo == 0 ? p0 : 0.0f;
        }
    };
    // Parallel over (token, head) pairs once there is enough work to pay for the hand-off. Claimed in
    // chunks of one token's heads (one head each when decoding one token): later tokens see more keys,
    // so equal contiguous shares would leave the thread with the early tokens idle most of the time.
    const int64_t items = int64_t(T) * nh;
    if (pool_ && items > 1 && items * ctx * (dk + dv) >= (1 << 15)) {
        const int64_t per = T == 1 ? 1 : nh, n_chunks = (items + per - 1) / per;
        pool_->for_each_chunk(n_chunks, [&](int64_t c, int ti) { work(c * per, std::min(items, (c + 1) * per), ti); });
    } else {
        work(0, items, 0);
    }
}

void CpuForward::attention_gqa(int layer, KVCache& cache, int64_t pos0, int T, bool want_sink) {
    const AttentionWeights& A = model_.weights().layers[layer].attn;
    const int nh = c_.n_heads, nkv = c_.n_kv_heads, D = c_.head_dim;
    const float* xn = s_.xn.data();
    float* q = buf(s_.q, static_cast<size_t>(T) * nh * D);    // [T][nh*D]
    float* k = buf(s_.kk, static_cast<size_t>(T) * nkv * D);  // [T][nkv*D]
    float* v = buf(s_.vv, static_cast<size_t>(T) * nkv * D);  // [T][nkv*D]
    // q, k, v in one pool dispatch (same results as three matmul_rows calls, kernels.h)
    const MatTask qkv[3] = {{A.q.dtype, A.q.data, A.q.rows, A.q.cols, xn, T, q},
                            {A.k.dtype, A.k.data, A.k.rows, A.k.cols, xn, T, k},
                            {A.v.dtype, A.v.data, A.v.rows, A.v.cols, xn, T, v}};
    const int64_t qkv_work = (A.q.rows + A.k.rows + A.v.rows) * A.q.cols * T;
    matmul_batch(qkv, 3, qkv_work >= (1 << 15) ? pool_ : nullptr);
    // Per token (bias, OLMoE clip_qkv, q/k norm, RoPE, cache store), threaded for prefill-sized T.
    const int nq = nh * D, nk = nkv * D;
    for_tokens(T, 8 * (nq + 2 * nk), [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
            float* qt = q + static_cast<size_t>(t) * nq;
            float* kt = k + static_cast<size_t>(t) * nk;
            float* vt = v + static_cast<size_t>(t) * nk;
            add_bias(qt, A.q_bias, 1);
            add_bias(kt, A.k_bias, 1);
            add_bias(vt, A.v_bias, 1);
            if (c_.clip_qkv > 0.0f) {  // OLMoE clip_qkv: clamp q, k, v to [-clip, clip]
                const float cl = c_.clip_qkv;
                for (int i = 0; i < nq; ++i) qt[i] = std::clamp(qt[i], -cl, cl);
                for (int i = 0; i < nk; ++i) {
                    kt[i] = std::clamp(kt[i], -cl, cl);
                    vt[i] = std::clamp(vt[i], -cl, cl);
                }
            }
            if (c_.qk_norm == QkNorm::Full) {  // OLMoE: RMSNorm over the whole projection, before the head split
                rms_norm(qt, A.q_norm.data(), nq, c_.rms_norm_eps, qt);
                rms_norm(kt, A.k_norm.data(), nk, c_.rms_norm_eps, kt);
            } else if (c_.qk_norm == QkNorm::PerHead) {  // Qwen3-MoE: RMSNorm over head_dim per head
                for (int h = 0; h < nh; ++h) rms_norm(qt + h * D, A.q_norm.data(), D, c_.rms_norm_eps, qt + h * D);
                for (int h = 0; h < nkv; ++h) rms_norm(kt + h * D, A.k_norm.data(), D, c_.rms_norm_eps, kt + h * D);
            }
            const int64_t pos = pos0 + t;
            rope_.apply_heads(qt, nh, D, pos);
            rope_.apply_heads(kt, nkv, D, pos);
            cache.put(layer, pos, kt, vt);  // distinct positions: no two threads write the same entry
        }
    });
    float* attn = buf(s_.attn, static_cast<size_t>(T) * nh * D);  // [T][nh*D]
    attend(layer, cache, pos0, T, q, D, D, attn, want_sink);
    matmul_rows(A.o, attn, T, s_.tmp.data());  // [T][H]
    add_bias(s_.tmp.data(), A.o_bias, T);
}

void CpuForward::attention_mla(int layer, KVCache& cache, int64_t pos0, int T, bool want_sink) {
    const AttentionWeights& A = model_.weights().layers[layer].attn;
    const int nh = c_.n_heads, nope = c_.qk_nope_head_dim, rope = c_.qk_rope_head_dim, dv = c_.v_head_dim;
    const int kvl = c_.kv_lora_rank, dq = nope + rope;
    constexpr float kLoraEps = 1e-6f;  // HF hard-wires eps=1e-6 for q_a_layernorm / kv_a_layernorm
    const float* xn = s_.xn.data();
    float* q = buf(s_.q, static_cast<size_t>(T) * nh * dq);  // [T][nh][nope+rope]
    if (c_.q_lora_rank > 0) {
        float* qa = buf(s_.lat, static_cast<size_t>(T) * c_.q_lora_rank);  // [T][q_lora]
        matmul_rows(A.q_a, xn, T, qa);
        for (int t = 0; t < T; ++t)
            rms_norm(qa + t * c_.q_lora_rank, A.q_a_norm.data(), c_.q_lora_rank, kLoraEps, qa + t * c_.q_lora_rank);
        matmul_rows(A.q_b, qa, T, q);  // q = q_b(rms(q_a(x)))
    } else {
        matmul_rows(A.q, xn, T, q);
    }
    float* ckv = buf(s_.kk, static_cast<size_t>(T) * (kvl + rope));  // [T][kv_lora + rope] = [c | k_rot]
    matmul_rows(A.kv_a, xn, T, ckv);
    float* cn = buf(s_.lat2, static_cast<size_t>(T) * kvl);  // [T][kv_lora] = rms(c)
    for (int t = 0; t < T; ++t) rms_norm(ckv + t * (kvl + rope), A.kv_a_norm.data(), kvl, kLoraEps, cn + t * kvl);
    float* kv = buf(s_.vv, static_cast<size_t>(T) * nh * (nope + dv));  // [T][nh][nope + v]
    matmul_rows(A.kv_b, cn, T, kv);
    for (int t = 0; t < T; ++t) {
        const int64_t pos = pos0 + t;
        float* krot = ckv + t * (kvl + rope) + kvl;  // one rope key shared by all heads
        rope_.apply(krot, pos);
        float* kc = buf(s_.kc_row, static_cast<size_t>(nh) * dq);  // [nh][nope+rope]
        float* vc = buf(s_.vc_row, static_cast<size_t>(nh) * dv);  // [nh][dv]
        for (int h = 0; h < nh; ++h) {
            rope_.apply(q + (static_cast<size_t>(t) * nh + h) * dq + nope, pos);
            const float* kvh = kv + (static_cast<size_t>(t) * nh + h) * (nope + dv);
            std::copy(kvh, kvh + nope, kc + h * dq);
            std::copy(krot, krot + rope, kc + h * dq + nope);
            std::copy(kvh + nope, kvh + nope + dv, vc + h * dv);
        }
        cache.put(layer, pos, kc, vc);
    }
    float* attn = buf(s_.attn, static_cast<size_t>(T) * nh * dv);  // [T][nh*dv]
    attend(layer, cache, pos0, T, q, dq, dq, attn, want_sink);
    matmul_rows(A.o, attn, T, s_.tmp.data());  // [T][H]
    add_bias(s_.tmp.data(), A.o_bias, T);
}

}  // namespace moescope::cpu
