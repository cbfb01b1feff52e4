// CPU forward pass (architectures.md §1.5): pre-norm decoder blocks, final norm, lm_head.
//   h   = x + Attn(RMSNorm_in(x))
//   out = h + FFN(RMSNorm_post(h))          FFN = MoE block (moe_block.cpp) or dense SwiGLU MLP
//   logits = RMSNorm_final(out) · lm_headᵀ
#include "engine/cpu/forward.h"

#include <algorithm>
#include <cmath>

#include "engine/cpu/kernels.h"
#include "engine/cpu/thread_pool.h"

namespace moescope::cpu {

namespace {
float* buf(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}
}  // namespace

void rms_norm(const float* x, const float* w, int n, float eps, float* y) {
    double ss = 0.0;  // accumulate in double: closest to torch's blocked float32 mean
    for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float r = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
    for (int i = 0; i < n; ++i) y[i] = w[i] * (x[i] * r);
}

// ---- KV cache -------------------------------------------------------------------------------------

void KVCache::init(const ModelConfig& c) {
    heads = c.kv_heads_cached();
    dk = c.q_head_dim();
    dv = c.attn_v_head_dim();
    k.assign(c.n_layers, {});
    v.assign(c.n_layers, {});
    k16.assign(c.n_layers, {});
    v16.assign(c.n_layers, {});
    n = 0;
    capacity = 0;
}

void KVCache::ensure(int64_t tokens) {
    if (tokens <= capacity) return;
    const int64_t cap = std::max<int64_t>({tokens, capacity * 2, 16});
    if (dtype == DType::BF16) {
        for (auto& layer : k16) layer.resize(static_cast<size_t>(cap * heads * dk));
        for (auto& layer : v16) layer.resize(static_cast<size_t>(cap * heads * dv));
    } else {
        for (auto& layer : k) layer.resize(static_cast<size_t>(cap * heads * dk));
        for (auto& layer : v) layer.resize(static_cast<size_t>(cap * heads * dv));
    }
    capacity = cap;
}

void KVCache::put(int layer, int64_t pos, const float* kv, const float* vv) {
    const size_t nk = static_cast<size_t>(heads) * dk, nv = static_cast<size_t>(heads) * dv;
    if (dtype == DType::BF16) {
        uint16_t* kd = k16[layer].data() + pos * nk;
        uint16_t* vd = v16[layer].data() + pos * nv;
        for (size_t i = 0; i < nk; ++i) kd[i] = f32_to_bf16(kv[i]);
        for (size_t i = 0; i < nv; ++i) vd[i] = f32_to_bf16(vv[i]);
    } else {
        std::copy(kv, kv + nk, k[layer].data() + pos * nk);
        std::copy(vv, vv + nv, v[layer].data() + pos * nv);
    }
}

// ---- RoPE (architectures.md §1.2) -----------------------------------------------------------------

void Rope::init(const ModelConfig& c) {
    const bool mla = c.attention == AttentionKind::Mla;
    dim = mla ? c.qk_rope_head_dim : c.head_dim;
    interleaved = mla && c.rope_interleave;
    inv_freq.resize(dim / 2);
    const float base = static_cast<float>(c.rope_theta);
    // inv_freq[i] = 1 / base^(2i/d), in float32 as HF computes it.
    for (int i = 0; i < dim / 2; ++i)
        inv_freq[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(dim));
    attention_factor = 1.0f;
    if (c.yarn) {
        // HF _compute_yarn_parameters: blend interpolated and extrapolated frequencies with a linear ramp.
        const YarnScaling& y = *c.yarn;
        auto mscale = [](double s, double m) { return s <= 1.0 ? 1.0 : 0.1 * m * std::log(s) + 1.0; };
        if (y.attention_factor) attention_factor = static_cast<float>(*y.attention_factor);
        else if (y.mscale != 0.0 && y.mscale_all_dim != 0.0)
            attention_factor = static_cast<float>(mscale(y.factor, y.mscale) / mscale(y.factor, y.mscale_all_dim));
        else attention_factor = static_cast<float>(mscale(y.factor, 1.0));
        const double b = c.rope_theta, L0 = y.original_max_position_embeddings;
        auto corr_dim = [&](double r) { return dim * std::log(L0 / (r * 2.0 * M_PI)) / (2.0 * std::log(b)); };
        double low = corr_dim(y.beta_fast), high = corr_dim(y.beta_slow);
        if (y.truncate) {
            low = std::floor(low);
            high = std::ceil(high);
        }
        low = std::max(low, 0.0);
        high = std::min(high, static_cast<double>(dim - 1));
        if (low == high) high += 0.001;
        for (int i = 0; i < dim / 2; ++i) {
            const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
            const double extra = 1.0 - ramp;
            const double pf = std::pow(b, 2.0 * i / dim);
            inv_freq[i] = static_cast<float>((1.0 / (y.factor * pf)) * (1.0 - extra) + (1.0 / pf) * extra);
        }
    }
}

void Rope::apply(float* x, int64_t pos) const { apply_heads(x, 1, 0, pos); }

void Rope::apply_heads(float* x, int n, int64_t stride, int64_t pos) const {
    const int half = dim / 2;
    // cos/sin of this position once for all heads (they are the same per head)
    thread_local std::vector<float> cs_sn;
    if (cs_sn.size() < static_cast<size_t>(2 * half)) cs_sn.resize(static_cast<size_t>(2 * half));
    float* cs = cs_sn.data();
    float* sn = cs + half;
    for (int i = 0; i < half; ++i) {
        const float ang = static_cast<float>(pos) * inv_freq[i];
        cs[i] = static_cast<float>(std::cos(static_cast<double>(ang))) * attention_factor;
        sn[i] = static_cast<float>(std::sin(static_cast<double>(ang))) * attention_factor;
    }
    for (int h = 0; h < n; ++h) {
        float* xh = x + h * stride;
        for (int i = 0; i < half; ++i) {
            // rotate_half pairs (i, i+d/2); interleaved pairs (2i, 2i+1) (DeepSeek, equivalent to HF's
            // de-interleave + rotate_half since q and k are permuted alike).
            const int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
            const float xa = xh[a], xb = xh[b];
            xh[a] = xa * cs[i] - xb * sn[i];
            xh[b] = xb * cs[i] + xa * sn[i];
        }
    }
}

// ---- forward --------------------------------------------------------------------------------------

CpuForward::CpuForward(const Model& model, ThreadPool* pool) : model_(model), c_(model.config()), pool_(pool) {
    rope_.init(c_);
    s_.li.resize(c_.n_layers);
}

void CpuForward::matmul_rows(const MatrixView& w, const float* x, int n, float* y) {
    ThreadPool* pool = w.rows * w.cols * n >= kMinParallelMacs ? pool_ : nullptr;
    if (n == 1) matvec(w.dtype, w.data, w.rows, w.cols, x, y, pool);
    else matmul(w.dtype, w.data, w.rows, w.cols, x, n, y, pool);
}

void CpuForward::mlp(const MlpWeights& w, const float* x, int n, float* out) {
    const int64_t I = w.gate.rows, H = w.gate.cols;
    float* g = buf(s_.g, static_cast<size_t>(n * I));  // [n][I] = x · gateᵀ
    float* u = buf(s_.u, static_cast<size_t>(n * I));  // [n][I] = x · upᵀ
    // gate and up in one pool dispatch (same results as two matmul/matvec calls, see kernels.h)
    const MatTask tasks[2] = {{w.gate.dtype, w.gate.data, I, H, x, n, g}, {w.up.dtype, w.up.data, I, H, x, n, u}};
    matmul_batch(tasks, 2, 2 * I * H * n >= kMinParallelMacs ? pool_ : nullptr);
    // silu(gate) * up, elementwise (threaded for prefill-sized products: a serial part otherwise)
    auto act = [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    };
    if (pool_ && n * I >= (1 << 16)) pool_->parallel_for(n * I, act, 16);
    else act(0, n * I, 0);
    matmul_rows(w.down, g, n, out);                                                     // [n][H]
}

void CpuForward::run(KVCache& cache, std::span<const int32_t> tokens, const Interventions& iv, RoutingObserver* obs,
                     int step, bool all_logits, std::vector<float>& logits) {
    const int T = static_cast<int>(tokens.size());
    const int H = c_.hidden_size, V = c_.vocab_size;
    const int64_t pos0 = cache.n;
    if (T == 0) throw Error("forward pass: no tokens");
    for (int t = 0; t < T; ++t)
        if (tokens[t] < 0 || tokens[t] >= V)
            throw Error("token id " + std::to_string(tokens[t]) + " at position " + std::to_string(pos0 + t) +
                        " is outside the vocabulary (0.." + std::to_string(V - 1) + ")");
    if (c_.max_position_embeddings > 0 && pos0 + T > c_.max_position_embeddings)
        throw Error("context of " + std::to_string(pos0 + T) + " tokens exceeds max_position_embeddings (" +
                    std::to_string(c_.max_position_embeddings) + ")");
    cache.ensure(pos0 + T);
    const CaptureLevel level = obs ? obs->capture_level() : CaptureLevel::None;
    const bool acts = level >= CaptureLevel::Activations;
    for (int l : c_.moe_layers) s_.li[l].resolve(c_, l, iv);

    const ModelWeights& W = model_.weights();
    float* x = buf(s_.x, static_cast<size_t>(T) * H);     // [T][H] residual stream
    float* xn = buf(s_.xn, static_cast<size_t>(T) * H);   // [T][H] normed input of a sub-block
    float* tmp = buf(s_.tmp, static_cast<size_t>(T) * H); // [T][H] sub-block output
    for (int t = 0; t < T; ++t) {  // x0 = embed_tokens[ids] (no scaling)
        const void* row = W.embed.row(tokens[t]);
        for (int i = 0; i < H; ++i) x[t * H + i] = load_as_f32(W.embed.dtype, row, i);
    }
    for (int l = 0; l < c_.n_layers; ++l) {
        const LayerWeights& L = W.layers[l];
        // Per token and independent: threaded for prefill-sized T (a serial part of every layer otherwise).
        for_tokens(T, 4 * H, [&](int t0, int t1) {
            for (int t = t0; t < t1; ++t) rms_norm(x + t * H, L.input_norm.data(), H, c_.rms_norm_eps, xn + t * H);
        });
        if (c_.attention == AttentionKind::Gqa) attention_gqa(l, cache, pos0, T, acts);
        else attention_mla(l, cache, pos0, T, acts);
        for_tokens(T, 5 * H, [&](int t0, int t1) {
            for (int64_t i = int64_t(t0) * H; i < int64_t(t1) * H; ++i) x[i] += tmp[i];  // h = x + attn(rms(x))
            for (int t = t0; t < t1; ++t) rms_norm(x + t * H, L.post_attn_norm.data(), H, c_.rms_norm_eps, xn + t * H);
        });
        if (L.is_moe) moe(l, pos0, tokens, obs, level, step);
        else mlp(L.dense, xn, T, tmp);
        for_tokens(T, H, [&](int t0, int t1) {
            for (int64_t i = int64_t(t0) * H; i < int64_t(t1) * H; ++i) x[i] += tmp[i];  // out = h + ffn(rms(h))
        });
        if (acts) {
            const int nh = c_.n_heads;
            for (int t = 0; t < T; ++t) {
                LayerStatsEvent ev;
                ev.layer = l;
                ev.position = pos0 + t;
                ev.step = step;
                double ss = 0.0;
                for (int i = 0; i < H; ++i) {
                    const float a = std::fabs(x[t * H + i]);
                    ss += static_cast<double>(a) * a;
                    if (a > ev.hidden_max_abs) {
                        ev.hidden_max_abs = a;
                        ev.hidden_max_channel = i;
                    }
                }
                ev.hidden_norm = static_cast<float>(std::sqrt(ss));
                const float* sk = s_.sink.data() + static_cast<size_t>(t) * nh;
                float m = 0.0f;
                for (int h = 0; h < nh; ++h) m += sk[h];
                ev.sink_mass = m / nh;
                ev.sink_mass_per_head = std::span<const float>(sk, nh);
                obs->on_layer_stats(ev);
            }
        }
    }
    cache.n = pos0 + T;

    // logits = rms(x) · lm_headᵀ for the last position (or every position)
    const int first = all_logits ? 0 : T - 1, rows = T - first;
    float* hn = buf(s_.hn, static_cast<size_t>(rows) * H);
    for (int r = 0; r < rows; ++r) rms_norm(x + (first + r) * H, W.final_norm.data(), H, c_.rms_norm_eps, hn + r * H);
    logits.resize(static_cast<size_t>(rows) * V);
    matmul_rows(W.lm_head, hn, rows, logits.data());
    if (obs && level > CaptureLevel::None) obs->on_step_end(StepEvent{step, pos0, T});
}

}  // namespace moescope::cpu
