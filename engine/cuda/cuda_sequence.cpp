// CudaSequence: the whole-model forward pass on the device, layer by layer, following the CPU oracle
// (engine/cpu/forward.cpp) equation for equation:
//   x0 = embed[ids]
//   h  = x + o_proj(attn(rope(q), rope(k), v))          q,k,v from rms(x)   (GQA or MLA)
//   out = h + ffn(rms(h))                               ffn = dense MLP or the MoE block
//   logits = rms(x_L) · lm_headᵀ
// Tap statistics are reduced on the device into per-call buffers and copied back with the logits in
// one batch of async copies to pinned memory; the call synchronises once per prefill chunk / step.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/cuda/attention.cuh"
#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_impl.cuh"
#include "engine/cuda/dispatch.cuh"
#include "engine/cuda/embedding.cuh"
#include "engine/cuda/kv_cache.cuh"
#include "engine/cuda/ops_math.h"
#include "engine/cuda/residual.cuh"
#include "engine/cuda/rmsnorm.cuh"
#include "engine/cuda/rope.cuh"
#include "engine/cuda/router.cuh"
#include "engine/cuda/swiglu.cuh"
#include "engine/cuda/taps.cuh"
#include "engine/cuda/moe.cuh"

namespace moescope::gpu {

namespace {

// Per-call tap/routing arrays. Device and pinned host copies share this layout.
struct TapLayout {
    int T = 0;
    std::vector<int64_t> sel_off;  // per MoE layer: offset of [T][kcap] ids / weights / expert stats
    int64_t sel_total = 0;
    int64_t logits_size = 0;       // [M][T][E]
    int64_t gate_size = 0;         // [M][T]
    int64_t hidden_size = 0;       // [L][T]
    int64_t sink_size = 0;         // [L][T][nh]
};

template <class T>
T* carve(char*& p, int64_t n) {
    T* r = reinterpret_cast<T*>(p);
    p += ((n * int64_t(sizeof(T)) + 255) / 256) * 256;
    return r;
}

struct TapPtrs {
    int32_t* ids = nullptr;
    float* w = nullptr;
    float* exp_max = nullptr;
    int32_t* exp_ch = nullptr;
    float* exp_norm = nullptr;
    float* logits = nullptr;
    float* gate = nullptr;
    float* contrib = nullptr;  // [M][T] EASY-EP s_t
    float* hid_max = nullptr;
    int32_t* hid_ch = nullptr;
    float* hid_norm = nullptr;
    float* sink = nullptr;
};

int64_t tap_bytes(const TapLayout& t) {
    auto r = [](int64_t n, int64_t sz) { return ((n * sz + 255) / 256) * 256; };
    return r(t.sel_total, 4) * 5 + r(t.logits_size, 4) + r(t.gate_size, 4) * 2 + r(t.hidden_size, 4) * 3 +
           r(t.sink_size, 4);
}

TapPtrs tap_ptrs(void* base, const TapLayout& t) {
    char* p = static_cast<char*>(base);
    TapPtrs r;
    r.ids = carve<int32_t>(p, t.sel_total);
    r.w = carve<float>(p, t.sel_total);
    r.exp_max = carve<float>(p, t.sel_total);
    r.exp_ch = carve<int32_t>(p, t.sel_total);
    r.exp_norm = carve<float>(p, t.sel_total);
    r.logits = carve<float>(p, t.logits_size);
    r.gate = carve<float>(p, t.gate_size);
    r.contrib = carve<float>(p, t.gate_size);
    r.hid_max = carve<float>(p, t.hidden_size);
    r.hid_ch = carve<int32_t>(p, t.hidden_size);
    r.hid_norm = carve<float>(p, t.hidden_size);
    r.sink = carve<float>(p, t.sink_size);
    return r;
}

}  // namespace

class CudaSequenceImpl {
public:
    std::shared_ptr<CudaModel> model;
    CudaModelImpl* m = nullptr;
    Dispatcher disp;
    int64_t max_ctx = 0;
    int64_t n_past = 0;
    std::vector<DeviceBuffer> kc, vc;  // per layer
    // Activations of one chunk.
    DeviceBuffer tokens, x, xn, qkv, ao, tmp, ffn, aux, aux2, head_out, taps;
    PinnedBuffer h_tokens, h_logits, h_taps;
    // Interventions as device arrays (rebuilt when they change).
    bool have_iv = false;
    Interventions iv_cached;
    DeviceBuffer iv_buf;
    std::vector<cudamath::RouteParams> params;  // per layer (MoE layers only meaningful)
    std::vector<RouterEditsDevice> edits;
    std::vector<const uint8_t*> zeroed;         // per layer: [E] zero_output flags on the device, or null
    std::vector<int> moe_index;                 // layer -> MoE ordinal or -1

    const ModelConfig& c() const { return m->cfg; }
    void prepare_interventions(const Interventions& iv);
    void run_chunk(const int32_t* tok, int T, RoutingObserver* obs, CaptureLevel level,
                   int step, bool all_rows, std::vector<float>* all_logits, std::vector<float>& last_logits);
    void attention_layer(int l, int T, int64_t pos0, float* sink);
};

void CudaSequenceImpl::prepare_interventions(const Interventions& iv) {
    if (have_iv && iv == iv_cached) return;
    const ModelConfig& cf = c();
    const int E = cf.n_experts, L = cf.n_layers;
    moe_index.assign(L, -1);
    int M = 0;
    for (int l = 0; l < L; ++l)
        if (cf.is_moe(l)) moe_index[l] = M++;
    int max_forced = 0;
    std::vector<std::vector<int32_t>> forced(L);
    for (const auto& f : iv.force)
        if (f.layer >= 0 && f.layer < L) forced[f.layer].push_back(f.expert);
    for (const auto& f : forced) max_forced = std::max<int>(max_forced, int(f.size()));
    // One host image: disabled [M][E] u8 | bias [M][E] f32 | forced [M][max_forced] i32 | zeroed [M][E] u8.
    const size_t dis_bytes = ((size_t(M) * E + 15) / 16) * 16, bias_bytes = size_t(M) * E * 4;
    const size_t frc_bytes = ((size_t(M) * max_forced * 4 + 15) / 16) * 16;
    std::vector<char> img(dis_bytes + bias_bytes + frc_bytes + dis_bytes + 16, 0);
    uint8_t* dis = reinterpret_cast<uint8_t*>(img.data());
    float* bias = reinterpret_cast<float*>(img.data() + dis_bytes);
    int32_t* frc = reinterpret_cast<int32_t*>(img.data() + dis_bytes + bias_bytes);
    uint8_t* zer = reinterpret_cast<uint8_t*>(img.data() + dis_bytes + bias_bytes + frc_bytes);
    std::vector<bool> any_dis(L, false), any_bias(L, false), any_zero(L, false);
    for (const auto& z : iv.zero_output)
        if (z.layer >= 0 && z.layer < L && moe_index[z.layer] >= 0 && z.expert >= 0 && z.expert < E) {
            zer[size_t(moe_index[z.layer]) * E + z.expert] = 1;
            any_zero[z.layer] = true;
        }
    for (const auto& d : iv.disable)
        if (d.layer >= 0 && d.layer < L && moe_index[d.layer] >= 0 && d.expert >= 0 && d.expert < E) {
            dis[size_t(moe_index[d.layer]) * E + d.expert] = 1;
            any_dis[d.layer] = true;
        }
    for (const auto& b : iv.bias)
        if (b.layer >= 0 && b.layer < L && moe_index[b.layer] >= 0 && b.expert >= 0 && b.expert < E) {
            bias[size_t(moe_index[b.layer]) * E + b.expert] += b.bias;
            any_bias[b.layer] = true;
        }
    for (int l = 0; l < L; ++l)
        if (moe_index[l] >= 0)
            for (size_t i = 0; i < forced[l].size(); ++i) frc[size_t(moe_index[l]) * max_forced + i] = forced[l][i];
    iv_buf.ensure(img.size(), "intervention tables");
    CUDA_CHECK(cudaMemcpyAsync(iv_buf.get(), img.data(), img.size(), cudaMemcpyHostToDevice, disp.stream()));
    // The host image must stay valid until the copy ran: synchronise (only when interventions change).
    CUDA_CHECK(cudaStreamSynchronize(disp.stream()));
    char* base = iv_buf.as<char>();
    params.assign(L, cudamath::RouteParams{});
    edits.assign(L, RouterEditsDevice{});
    zeroed.assign(L, nullptr);
    for (int l = 0; l < L; ++l) {
        if (moe_index[l] < 0) continue;
        const int mi = moe_index[l];
        int k = cf.top_k;
        if (iv.top_k) k = *iv.top_k;
        for (const auto& lk : iv.top_k_per_layer)
            if (lk.layer == l) k = lk.k;
        cudamath::RouteParams& p = params[l];
        p.n_experts = E;
        p.scoring = cf.router_score == RouterScore::Sigmoid ? cudamath::kScoreSigmoid : cudamath::kScoreSoftmax;
        p.norm_topk = (cf.always_renormalize || cf.norm_topk_prob) ? 1 : 0;
        p.scale = float(cf.routed_scaling_factor);
        // Same variant choice as the CPU oracle (engine/cpu/router.cpp): sigmoid routers always use
        // top-2-sum groups; softmax routers only for DeepSeek-V2 group_limited_greedy (max per group).
        if (p.scoring == cudamath::kScoreSigmoid) {
            p.n_group = std::max(1, cf.n_group);
            p.topk_group = std::max(1, cf.topk_group);
        } else if (cf.topk_method == TopkMethod::GroupLimitedMax) {
            p.n_group = std::max(1, cf.n_group);
            p.topk_group = std::max(1, cf.topk_group);
            p.group_max = 1;
        }
        const bool deepseek = cf.family == Family::DeepseekV2 || cf.family == Family::DeepseekV3;
        p.weight_mode = !deepseek ? cudamath::kWeightsPlain
                                  : (p.scoring == cudamath::kScoreSigmoid ? cudamath::kWeightsDeepseekV3
                                                                          : cudamath::kWeightsDeepseekV2);
        if (iv.top_p) {
            p.top_p = *iv.top_p;
            if (iv.top_p_max_k > 0) k = iv.top_p_max_k;  // capacity = most experts top-p may pick
        }
        p.k = std::max(1, std::min(k, E));
        RouterEditsDevice& ed = edits[l];
        ed.disabled = any_dis[l] ? reinterpret_cast<const uint8_t*>(base) + size_t(mi) * E : nullptr;
        ed.logit_bias = any_bias[l] ? reinterpret_cast<const float*>(base + dis_bytes) + size_t(mi) * E : nullptr;
        ed.forced = forced[l].empty() ? nullptr
                                      : reinterpret_cast<const int32_t*>(base + dis_bytes + bias_bytes) +
                                            size_t(mi) * max_forced;
        ed.n_forced = int(forced[l].size());
        zeroed[l] = any_zero[l] ? reinterpret_cast<const uint8_t*>(base + dis_bytes + bias_bytes + frc_bytes) + size_t(mi) * E
                                : nullptr;
    }
    iv_cached = iv;
    have_iv = true;
}

void CudaSequenceImpl::attention_layer(int l, int T, int64_t pos0, float* sink) {
    const ModelConfig& cf = c();
    const DevLayer& L = m->w.layers[l];
    const cudaStream_t s = disp.stream();
    const int H = cf.hidden_size, nh = cf.n_heads;
    const float eps = cf.rms_norm_eps;
    const float theta = float(cf.rope_theta);
    if (cf.attention == AttentionKind::Gqa) {
        const int D = cf.head_dim, nkv = cf.n_kv_heads;
        const int64_t width = int64_t(nh + 2 * nkv) * D;
        qkv.ensure(size_t(T) * width * 4, "q/k/v");
        float* q = qkv.as<float>();
        disp.linear(L.qkv, xn.as<float>(), T, q, L.qkv_bias.present() ? L.qkv_bias.p() : nullptr);
        if (cf.clip_qkv > 0.0f) clamp_rows(q, T, int(width), width, cf.clip_qkv, s);
        if (cf.qk_norm == QkNorm::Full) {  // OLMoE: over the whole q / k projection, before the head split
            rmsnorm(q, width, q, width, T, 1, nh * D, L.q_norm.p(), eps, s);
            rmsnorm(q + int64_t(nh) * D, width, q + int64_t(nh) * D, width, T, 1, nkv * D, L.k_norm.p(), eps, s);
        } else if (cf.qk_norm == QkNorm::PerHead) {  // Qwen3: per head, before RoPE
            rmsnorm(q, width, q, width, T, nh, D, L.q_norm.p(), eps, s);
            rmsnorm(q + int64_t(nh) * D, width, q + int64_t(nh) * D, width, T, nkv, D, L.k_norm.p(), eps, s);
        }
        rope(q, T, nh, width, D, 0, D, pos0, theta, cf.rope_interleave, s);
        rope(q + int64_t(nh) * D, T, nkv, width, D, 0, D, pos0, theta, cf.rope_interleave, s);
        kv_store(q, width, nh * D, (nh + nkv) * D, kc[l].as<float>(), vc[l].as<float>(), T, pos0, nkv, D, D, s);
        ao.ensure(size_t(T) * nh * D * 4, "attention output");
        const float scale = float(1.0 / std::sqrt(double(D)));
        attention(q, width, kc[l].as<float>(), vc[l].as<float>(), ao.as<float>(), int64_t(nh) * D, T, pos0, nh, nkv, D, D,
                  scale, sink, s);
    } else {
        // MLA (HF DeepseekV3Attention, non-absorbed): q = q_b(rms(q_a(x))) or q_proj(x);
        // [c | k_rot] = kv_a(x); [k_nope | v] per head = kv_b(rms(c)); RoPE on q_rot and k_rot.
        const int nope = cf.qk_nope_head_dim, rd = cf.qk_rope_head_dim, dv = cf.v_head_dim, qd = nope + rd;
        const int kvl = cf.kv_lora_rank, kva_w = kvl + rd;
        const float mla_eps = 1e-6f;  // HF hard-wires the q_a / kv_a norm eps
        qkv.ensure(size_t(T) * (int64_t(nh) * qd) * 4, "MLA q");
        aux.ensure(size_t(T) * std::max<int64_t>(cf.q_lora_rank, 1) * 4, "MLA q_a");
        aux2.ensure(size_t(T) * (kva_w + kvl) * 4, "MLA kv_a");
        float* q = qkv.as<float>();
        if (cf.q_lora_rank > 0) {
            disp.linear(L.q_a, xn.as<float>(), T, aux.as<float>());
            rmsnorm(aux.as<float>(), cf.q_lora_rank, aux.as<float>(), cf.q_lora_rank, T, 1, cf.q_lora_rank,
                    L.q_a_norm.p(), mla_eps, s);
            disp.linear(L.q_b, aux.as<float>(), T, q);
        } else {
            disp.linear(L.q_proj, xn.as<float>(), T, q);
        }
        float* kva = aux2.as<float>();               // [T][kvl + rd]
        float* cn = kva + int64_t(T) * kva_w;        // [T][kvl]
        disp.linear(L.kv_a, xn.as<float>(), T, kva);
        rmsnorm(kva, kva_w, cn, kvl, T, 1, kvl, L.kv_a_norm.p(), mla_eps, s);
        tmp.ensure(size_t(T) * std::max<int64_t>(int64_t(nh) * (nope + dv), H) * 4, "MLA kv");
        float* kv = tmp.as<float>();
        disp.linear(L.kv_b, cn, T, kv);
        rope(q, T, nh, int64_t(nh) * qd, qd, nope, rd, pos0, theta, cf.rope_interleave, s);
        rope(kva, T, 1, kva_w, 0, kvl, rd, pos0, theta, cf.rope_interleave, s);
        mla_kv_store(kv, kva + kvl, kva_w, kc[l].as<float>(), vc[l].as<float>(), T, pos0, nh, nope, rd, dv, s);
        ao.ensure(size_t(T) * nh * dv * 4, "attention output");
        const float scale = float(1.0 / std::sqrt(double(qd)));
        attention(q, int64_t(nh) * qd, kc[l].as<float>(), vc[l].as<float>(), ao.as<float>(), int64_t(nh) * dv, T, pos0,
                  nh, nh, qd, dv, scale, sink, s);
    }
    tmp.ensure(size_t(T) * H * 4, "attention projection");
    disp.linear(L.o, ao.as<float>(), T, tmp.as<float>(), L.o_bias.present() ? L.o_bias.p() : nullptr);
    residual_add(x.as<float>(), tmp.as<float>(), T, H, nullptr, s);
}

void CudaSequenceImpl::run_chunk(const int32_t* tok, int T, RoutingObserver* obs,
                                 CaptureLevel level, int step, bool all_rows, std::vector<float>* all_logits,
                                 std::vector<float>& last_logits) {
    const ModelConfig& cf = c();
    const DevWeights& W = m->w;
    const cudaStream_t s = disp.stream();
    const int H = cf.hidden_size, V = cf.vocab_size, L = cf.n_layers, E = cf.n_experts, nh = cf.n_heads;
    const int64_t pos0 = n_past;
    const bool acts = level >= CaptureLevel::Activations;
    disp.set_precision(m->precision);

    // Layout of this call's routing/tap arrays.
    TapLayout tl;
    tl.T = T;
    tl.sel_off.assign(L, 0);
    int M = 0;
    for (int l = 0; l < L; ++l) {
        if (moe_index[l] < 0) continue;
        tl.sel_off[l] = tl.sel_total;
        tl.sel_total += int64_t(T) * params[l].k;
        ++M;
    }
    tl.logits_size = int64_t(M) * T * E;
    tl.gate_size = int64_t(M) * T;
    tl.hidden_size = int64_t(L) * T;
    tl.sink_size = int64_t(L) * T * nh;
    const int64_t tbytes = tap_bytes(tl);
    taps.ensure(size_t(tbytes), "routing and tap buffers");
    const TapPtrs dt = tap_ptrs(taps.get(), tl);

    h_tokens.ensure(size_t(T) * 4, "token ids");
    std::memcpy(h_tokens.as<int32_t>(), tok, size_t(T) * 4);
    tokens.ensure(size_t(T) * 4, "token ids");
    CUDA_CHECK(cudaMemcpyAsync(tokens.get(), h_tokens.as<int32_t>(), size_t(T) * 4, cudaMemcpyHostToDevice, s));
    x.ensure(size_t(T) * H * 4, "residual stream");
    xn.ensure(size_t(T) * H * 4, "normed hidden");
    ffn.ensure(size_t(T) * H * 4, "ffn output");
    embedding_gather(W.embed.p(), tokens.as<int32_t>(), x.as<float>(), T, H, s);

    for (int l = 0; l < L; ++l) {
        const DevLayer& Ly = W.layers[l];
        rmsnorm(x.as<float>(), H, xn.as<float>(), H, T, 1, H, Ly.in_norm.p(), cf.rms_norm_eps, s);
        attention_layer(l, T, pos0, acts ? dt.sink + int64_t(l) * T * nh : nullptr);
        rmsnorm(x.as<float>(), H, xn.as<float>(), H, T, 1, H, Ly.post_norm.p(), cf.rms_norm_eps, s);
        float* out = ffn.as<float>();
        if (!Ly.is_moe) {
            const int I = Ly.dense.inter;
            aux.ensure(size_t(T) * 2 * I * 4, "mlp gate/up");
            aux2.ensure(size_t(T) * I * 4, "mlp hidden");
            disp.linear(Ly.dense.gu, xn.as<float>(), T, aux.as<float>());
            swiglu(aux.as<float>(), aux2.as<float>(), T, I, s);
            disp.linear(Ly.dense.down, aux2.as<float>(), T, out);
        } else {
            const int mi = moe_index[l];
            const cudamath::RouteParams& p = params[l];
            float* zl = dt.logits + int64_t(mi) * T * E;
            int32_t* ids = dt.ids + tl.sel_off[l];
            float* wts = dt.w + tl.sel_off[l];
            disp.linear_fp32(Ly.router, xn.as<float>(), T, zl);  // raw router logits [T][E]
            route(zl, Ly.e_bias.present() ? Ly.e_bias.p() : nullptr, p, edits[l], ids, wts, T, s);
            const ExpertOutputs eo = disp.experts(Ly, xn.as<float>(), T, p.k, ids);
            // zero_output (engine/interventions.h): the expert ran and stays routed with its weight; its
            // output is left out of the sum and reported as zero, like the CPU block. UNVERIFIED on a GPU.
            if (acts)
                row_stats(eo.y, H, eo.slot_row, int64_t(T) * p.k, dt.exp_max + tl.sel_off[l], dt.exp_ch + tl.sel_off[l],
                          dt.exp_norm + tl.sel_off[l], s, ids, zeroed[l]);
            moe_combine(eo.y, eo.slot_row, ids, wts, T, p.k, H, out, s, zeroed[l]);
            // EASY-EP s_t from the residual entering the block (x) and the routed output (out, before the
            // shared expert is added), as the CPU block. UNVERIFIED on a GPU.
            if (acts) token_contribution(x.as<float>(), out, H, T, dt.contrib + int64_t(mi) * T, s);
            if (Ly.shared.present()) {
                const int I = Ly.shared.inter;
                aux.ensure(size_t(T) * 2 * I * 4, "shared expert gate/up");
                aux2.ensure(size_t(T) * I * 4, "shared expert hidden");
                disp.linear(Ly.shared.gu, xn.as<float>(), T, aux.as<float>());
                swiglu(aux.as<float>(), aux2.as<float>(), T, I, s);
                tmp.ensure(size_t(T) * H * 4, "shared expert output");
                disp.linear(Ly.shared.down, aux2.as<float>(), T, tmp.as<float>());
                float* g = nullptr;
                if (Ly.shared_gate.present()) {  // qwen2_moe: sigmoid(x · w_sg) per token
                    g = dt.gate + int64_t(mi) * T;
                    disp.linear_fp32(Ly.shared_gate, xn.as<float>(), T, g);
                }
                residual_add(out, tmp.as<float>(), T, H, g, s);
            }
        }
        residual_add(x.as<float>(), out, T, H, nullptr, s);
        if (acts)
            row_stats(x.as<float>(), H, nullptr, T, dt.hid_max + int64_t(l) * T, dt.hid_ch + int64_t(l) * T,
                      dt.hid_norm + int64_t(l) * T, s);
    }
    n_past = pos0 + T;

    // logits = rms(x) · lm_headᵀ for the rows asked for.
    const int first = all_rows ? 0 : T - 1, rows = T - first;
    rmsnorm(x.as<float>() + int64_t(first) * H, H, xn.as<float>(), H, rows, 1, H, W.final_norm.p(), cf.rms_norm_eps, s);
    head_out.ensure(size_t(rows) * V * 4, "logits");
    disp.linear(W.head(), xn.as<float>(), rows, head_out.as<float>());
    h_logits.ensure(size_t(rows) * V * 4, "logits (host)");
    CUDA_CHECK(cudaMemcpyAsync(h_logits.as<float>(), head_out.get(), size_t(rows) * V * 4, cudaMemcpyDeviceToHost, s));
    const bool report = obs && level > CaptureLevel::None;
    if (report) {
        h_taps.ensure(size_t(tbytes), "routing and tap buffers (host)");
        CUDA_CHECK(cudaMemcpyAsync(h_taps.as<char>(), taps.get(), size_t(tbytes), cudaMemcpyDeviceToHost, s));
    }
    CUDA_CHECK(cudaStreamSynchronize(s));  // the one synchronisation of this chunk

    const float* hl = h_logits.as<float>();
    if (all_logits) all_logits->insert(all_logits->end(), hl, hl + size_t(rows) * V);
    last_logits.assign(hl + size_t(rows - 1) * V, hl + size_t(rows) * V);
    if (!report) return;

    // Deliver events in the CPU backend's order: per layer, routing of each token (MoE layers),
    // then the layer statistics of each token.
    const TapPtrs ht = tap_ptrs(h_taps.as<char>(), tl);
    std::vector<float> gate_vals(T);
    for (int l = 0; l < L; ++l) {
        if (moe_index[l] >= 0) {
            const int mi = moe_index[l];
            const int k = params[l].k;
            const bool has_gate = W.layers[l].shared_gate.present();
            for (int t = 0; t < T; ++t) {
                const int64_t o = tl.sel_off[l] + int64_t(t) * k;
                int n = 0;
                while (n < k && ht.ids[o + n] >= 0) ++n;
                RoutingEvent ev;
                ev.layer = l;
                ev.position = pos0 + t;
                ev.token_id = tok[t];
                ev.step = step;
                if (level >= CaptureLevel::Logits)
                    ev.router_logits = std::span<const float>(ht.logits + (int64_t(mi) * T + t) * E, size_t(E));
                ev.experts = std::span<const int32_t>(ht.ids + o, size_t(n));
                ev.weights = std::span<const float>(ht.w + o, size_t(n));
                ev.shared_gate = has_gate ? cudamath::sigmoidf_(ht.gate[int64_t(mi) * T + t]) : -1.0f;
                if (acts) {
                    ev.expert_out_norm = std::span<const float>(ht.exp_norm + o, size_t(n));
                    ev.down_proj_max = std::span<const float>(ht.exp_max + o, size_t(n));
                    ev.down_proj_channel = std::span<const int32_t>(ht.exp_ch + o, size_t(n));
                    ev.token_contribution = ht.contrib[int64_t(mi) * T + t];
                }
                obs->on_routing(ev);
            }
        }
        if (acts) {
            for (int t = 0; t < T; ++t) {
                LayerStatsEvent ev;
                ev.layer = l;
                ev.position = pos0 + t;
                ev.step = step;
                const int64_t o = int64_t(l) * T + t;
                ev.hidden_max_abs = ht.hid_max[o];
                ev.hidden_max_channel = ht.hid_ch[o];
                ev.hidden_norm = ht.hid_norm[o];
                const float* sk = ht.sink + o * nh;
                float sum = 0.0f;
                for (int h = 0; h < nh; ++h) sum += sk[h];
                ev.sink_mass = sum / float(nh);
                ev.sink_mass_per_head = std::span<const float>(sk, size_t(nh));
                obs->on_layer_stats(ev);
            }
        }
    }
}

Result<std::unique_ptr<CudaSequence>> CudaSequence::create(std::shared_ptr<CudaModel> model, int64_t max_context) {
    return try_result([&]() -> std::unique_ptr<CudaSequence> {
        if (!model || !model->loaded()) throw Error("CUDA backend: the model is not loaded (unloaded?)");
        if (max_context <= 0) throw Error("CUDA backend: max_context must be positive");
        const ModelConfig& cf = model->config();
        if (cf.max_position_embeddings > 0) max_context = std::min<int64_t>(max_context, cf.max_position_embeddings);
        CUDA_CHECK(cudaSetDevice(model->impl().device));
        std::unique_ptr<CudaSequence> s(new CudaSequence());
        s->impl_ = std::make_unique<CudaSequenceImpl>();
        CudaSequenceImpl& d = *s->impl_;
        d.model = model;
        d.m = &model->impl();
        d.max_ctx = max_context;
        const int heads = cf.kv_heads_cached(), dk = cf.q_head_dim(), dv = cf.attn_v_head_dim();
        d.kc.resize(cf.n_layers);
        d.vc.resize(cf.n_layers);
        for (int l = 0; l < cf.n_layers; ++l) {
            d.kc[l].alloc(size_t(max_context) * heads * dk * 4, "KV cache (keys)");
            d.vc[l].alloc(size_t(max_context) * heads * dv * 4, "KV cache (values)");
        }
        return s;
    });
}

CudaSequence::~CudaSequence() = default;
int64_t CudaSequence::n_past() const { return impl_->n_past; }
int64_t CudaSequence::max_context() const { return impl_->max_ctx; }
void CudaSequence::truncate(int64_t n) { impl_->n_past = std::max<int64_t>(0, std::min(n, impl_->n_past)); }

std::unique_ptr<CudaSequence> CudaSequence::fork() const {
    auto r = create(impl_->model, impl_->max_ctx);
    if (!r) throw r.error();
    std::unique_ptr<CudaSequence> s = std::move(r.value());
    const ModelConfig& cf = impl_->c();
    const size_t kb = size_t(impl_->n_past) * cf.kv_heads_cached() * cf.q_head_dim() * 4;
    const size_t vb = size_t(impl_->n_past) * cf.kv_heads_cached() * cf.attn_v_head_dim() * 4;
    // Finish this sequence's pending work before copying its cache.
    CUDA_CHECK(cudaStreamSynchronize(impl_->disp.stream()));
    for (int l = 0; l < cf.n_layers; ++l) {
        if (kb) CUDA_CHECK(cudaMemcpy(s->impl_->kc[l].get(), impl_->kc[l].get(), kb, cudaMemcpyDeviceToDevice));
        if (vb) CUDA_CHECK(cudaMemcpy(s->impl_->vc[l].get(), impl_->vc[l].get(), vb, cudaMemcpyDeviceToDevice));
    }
    s->impl_->n_past = impl_->n_past;
    return s;
}

void CudaSequence::forward(std::span<const int32_t> tokens, const Interventions& iv, RoutingObserver* observer,
                           int step, std::vector<float>* all_logits, std::vector<float>& last_logits) {
    CudaSequenceImpl& d = *impl_;
    if (!d.m->loaded) throw Error("CUDA backend: the model was unloaded");
    const ModelConfig& cf = d.c();
    const int64_t T = int64_t(tokens.size());
    if (T == 0) throw Error("forward pass: no tokens");
    for (int64_t t = 0; t < T; ++t)
        if (tokens[t] < 0 || tokens[t] >= cf.vocab_size)
            throw Error("token id " + std::to_string(tokens[t]) + " at position " + std::to_string(d.n_past + t) +
                        " is outside the vocabulary (0.." + std::to_string(cf.vocab_size - 1) + ")");
    if (d.n_past + T > d.max_ctx)
        throw Error("context of " + std::to_string(d.n_past + T) + " tokens exceeds the CUDA KV cache (" +
                    std::to_string(d.max_ctx) + " positions)");
    CUDA_CHECK(cudaSetDevice(d.m->device));
    d.prepare_interventions(iv);
    const CaptureLevel level = observer ? observer->capture_level() : CaptureLevel::None;
    const int64_t pos_first = d.n_past;
    if (all_logits) all_logits->clear();
    for (int64_t t0 = 0; t0 < T; t0 += kPrefillChunk) {
        const int n = int(std::min<int64_t>(kPrefillChunk, T - t0));
        d.run_chunk(tokens.data() + t0, n, observer, level, step, all_logits != nullptr, all_logits, last_logits);
    }
    if (observer && level > CaptureLevel::None) observer->on_step_end(StepEvent{step, pos_first, int(T)});
}

}  // namespace moescope::gpu
