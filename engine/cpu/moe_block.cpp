// The one MoE block of every family (architectures.md §1.6); routing variant from the config,
// interventions as an argument (resolved per layer in s_.li):
//   z = x · W_routerᵀ                         [T][E] raw router logits (reported before interventions)
//   (experts, w) = route_token(z)             router.cpp
//   y = Σ_j w_j · Expert_{e_j}(x)             experts run over the tokens routed to them, index order;
//                                             a zero_output expert keeps its slot and weight, its
//                                             Expert_e(x) is 0 (Super Experts' down_proj zeroing, P2)
//   s_t = max(0, 1 − cos(h, h + y))           level Activations: EASY-EP token contribution, h = residual
//                                             entering the block, y = routed output so far (no shared)
//   y += [sigmoid(x · w_sg)] · Shared(x)      qwen2_moe (gated) / DeepSeek (ungated)
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
}  // namespace

// Experts [e0, e1) over their gathered tokens (slots rows in all), added into s_.tmp with their
// routing weights in expert order; per-slot output statistics when onorm != nullptr.
//   gx [slots][H] -> g, u [slots][I] -> silu(g)*u -> d [slots][H]
void CpuForward::run_expert_group(const MoeWeights& M, int e0, int e1, int64_t slots, int64_t I, float* onorm,
                                  float* omax, int E) {
    const int H = c_.hidden_size;
    const float* xn = s_.xn.data();
    float* y = s_.tmp.data();
    float* gx = buf(s_.gx, static_cast<size_t>(slots) * H);
    float* g = buf(s_.g, static_cast<size_t>(slots * I));
    float* u = buf(s_.u, static_cast<size_t>(slots * I));
    float* d = buf(s_.d, static_cast<size_t>(slots) * H);
    const int T = static_cast<int>(s_.tok_n.size());
    // Gathered row layout: the tokens of expert e0, then e0+1, ... (slot_tok); per token, its rows in
    // expert index order (tok_rows) for the combine below.
    int32_t* slot_tok = s_.slot_tok.data();
    std::fill(s_.tok_n.begin(), s_.tok_n.end(), 0);
    const int K = s_.tok_k;  // row capacity per token (the largest selection this call)
    {
        int64_t row = 0;
        for (int e = e0; e < e1; ++e)
            for (size_t i = 0; i < s_.by_expert[e].size(); ++i, ++row) {
                const int t = s_.by_expert[e][i];
                slot_tok[row] = t;
                const int c = s_.tok_n[t]++;
                s_.tok_rows[static_cast<size_t>(t) * K + c] = static_cast<int32_t>(row);
                s_.tok_slot[static_cast<size_t>(t) * K + c] = s_.slot_of[e][i];
            }
    }
    auto gather = [&](int64_t r0, int64_t r1, int) {  // gx[row] = xn[token of row]
        for (int64_t r = r0; r < r1; ++r) std::copy(xn + slot_tok[r] * H, xn + (slot_tok[r] + 1) * H, gx + r * H);
    };
    if (pool_ && slots * H >= (1 << 16)) pool_->parallel_for(slots, gather, 1);
    else gather(0, slots, 0);
    s_.tasks.clear();
    int64_t off = 0;
    for (int e = e0; e < e1; ++e) {
        const int64_t n = static_cast<int64_t>(s_.by_expert[e].size());
        if (n == 0) continue;
        const MlpWeights& w = M.experts[e];
        s_.tasks.push_back({w.gate.dtype, w.gate.data, I, H, gx + off * H, n, g + off * I});
        s_.tasks.push_back({w.up.dtype, w.up.data, I, H, gx + off * H, n, u + off * I});
        off += n;
    }
    const int64_t work = 2 * I * H * slots;
    matmul_batch(s_.tasks.data(), static_cast<int>(s_.tasks.size()), work >= kMinParallelMacs ? pool_ : nullptr);
    auto act = [&](int64_t b, int64_t e, int) {  // silu(gate) * up
        for (int64_t i = b; i < e; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    };
    if (pool_ && slots * I >= (1 << 16)) pool_->parallel_for(slots * I, act, 16);
    else act(0, slots * I, 0);
    s_.tasks.clear();
    off = 0;
    for (int e = e0; e < e1; ++e) {
        const int64_t n = static_cast<int64_t>(s_.by_expert[e].size());
        if (n == 0) continue;
        const MatrixView& dn = M.experts[e].down;
        s_.tasks.push_back({dn.dtype, dn.data, H, I, g + off * I, n, d + off * H});
        off += n;
    }
    matmul_batch(s_.tasks.data(), static_cast<int>(s_.tasks.size()), work / 2 >= kMinParallelMacs ? pool_ : nullptr);
    // y[t] += w_j · d[row] over the token's rows in expert index order (the order of a loop over experts,
    // so the sums do not depend on how tokens are split over threads); per-slot output statistics.
    auto combine = [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t)
            for (int c = 0; c < s_.tok_n[t]; ++c) {
                const int64_t row = s_.tok_rows[static_cast<size_t>(t) * K + c];
                const int j = s_.tok_slot[static_cast<size_t>(t) * K + c];
                const float* de = d + row * H;
                axpy_f32(H, s_.sel_w[t][j], de, y + t * H);
                if (!onorm) continue;
                double ss = 0.0;
                float mx = 0.0f;
                int ch = 0;
                for (int i = 0; i < H; ++i) {
                    const float a = std::fabs(de[i]);
                    ss += static_cast<double>(a) * a;
                    if (a > mx) {
                        mx = a;
                        ch = i;
                    }
                }
                onorm[t * E + j] = static_cast<float>(std::sqrt(ss));
                omax[t * E + j] = mx;
                s_.out_ch[t * E + j] = ch;
            }
    };
    for_tokens(T, 2 * H * K, combine);
}

void CpuForward::moe(int layer, int64_t pos0, std::span<const int32_t> tokens, RoutingObserver* obs,
                     CaptureLevel level, int step) {
    const MoeWeights& M = model_.weights().layers[layer].moe;
    const int T = static_cast<int>(tokens.size());
    const int H = c_.hidden_size, E = c_.n_experts;
    const float* xn = s_.xn.data();
    float* y = s_.tmp.data();  // [T][H]
    const LayerInterventions& li = s_.li[layer];

    float* z = buf(s_.router, static_cast<size_t>(T) * E);  // [T][E]
    matmul_rows(M.router, xn, T, z);

    if (s_.sel_e.size() < static_cast<size_t>(T)) {
        s_.sel_e.resize(T);
        s_.sel_w.resize(T);
    }
    s_.by_expert.resize(E);
    s_.slot_of.resize(E);
    for (int e = 0; e < E; ++e) {
        s_.by_expert[e].clear();
        s_.slot_of[e].clear();
    }
    const float* corr = M.score_correction_bias.empty() ? nullptr : M.score_correction_bias.data();
    for (int t = 0; t < T; ++t) {
        route_token(c_, z + static_cast<size_t>(t) * E, corr, li, s_.route, s_.rr);
        s_.sel_e[t].assign(s_.rr.experts.begin(), s_.rr.experts.end());
        s_.sel_w[t].assign(s_.rr.weights.begin(), s_.rr.weights.end());
        for (size_t j = 0; j < s_.rr.experts.size(); ++j) {
            s_.by_expert[s_.rr.experts[j]].push_back(t);
            s_.slot_of[s_.rr.experts[j]].push_back(static_cast<int32_t>(j));
        }
    }

    int kmax = 1;
    for (int t = 0; t < T; ++t) kmax = std::max(kmax, static_cast<int>(s_.sel_e[t].size()));
    s_.tok_n.assign(static_cast<size_t>(T), 0);
    s_.tok_k = kmax;
    if (s_.tok_rows.size() < static_cast<size_t>(T) * kmax) {
        s_.tok_rows.resize(static_cast<size_t>(T) * kmax);
        s_.tok_slot.resize(static_cast<size_t>(T) * kmax);
    }
    if (s_.slot_tok.size() < static_cast<size_t>(T) * kmax) s_.slot_tok.resize(static_cast<size_t>(T) * kmax);

    const bool acts = level >= CaptureLevel::Activations;
    float* onorm = acts ? buf(s_.out_norm, static_cast<size_t>(T) * E) : nullptr;  // [T][slot]
    float* omax = acts ? buf(s_.out_max, static_cast<size_t>(T) * E) : nullptr;
    if (acts && s_.out_ch.size() < static_cast<size_t>(T) * E) s_.out_ch.resize(static_cast<size_t>(T) * E);

    std::fill(y, y + static_cast<size_t>(T) * H, 0.0f);
    // zero_output (P2): a zeroed expert keeps its slots and weights (sel_e / sel_w, reported as routed) but
    // contributes nothing: its taps read 0 and it leaves the compute lists, so no MLP runs for it.
    if (!li.zeroed.empty())
        for (int e = 0; e < E; ++e) {
            if (!li.zeroed[e] || s_.by_expert[e].empty()) continue;
            if (acts)
                for (size_t i = 0; i < s_.by_expert[e].size(); ++i) {
                    const int t = s_.by_expert[e][i], j = s_.slot_of[e][i];
                    onorm[t * E + j] = 0.0f;
                    omax[t * E + j] = 0.0f;
                    s_.out_ch[t * E + j] = 0;
                }
            s_.by_expert[e].clear();
            s_.slot_of[e].clear();
        }
    // The routed experts run in groups of consecutive experts (all of them unless the prompt is long):
    // one pool dispatch for every gate_proj and up_proj of the group, one for every down_proj, each
    // expert over the tokens routed to it (gathered rows). Fewer dispatches than one mlp() per expert
    // (k of them per decode token): each is a synchronisation point where a thread can idle. The
    // products are the same as separate calls (kernels.h), and the outputs are combined below in
    // expert index order, so the results are identical to the per-expert loop.
    const MlpWeights* W0 = nullptr;
    for (int e = 0; e < E && !W0; ++e)
        if (!s_.by_expert[e].empty()) W0 = &M.experts[e];
    const int64_t I = W0 ? W0->gate.rows : 0;
    constexpr int64_t kMaxSlots = 4096;  // gathered token rows per group (bounds the scratch)
    int e_begin = 0;
    while (e_begin < E) {
        int e_end = e_begin;
        int64_t slots = 0;
        while (e_end < E && (e_end == e_begin || slots + int64_t(s_.by_expert[e_end].size()) <= kMaxSlots))
            slots += static_cast<int64_t>(s_.by_expert[e_end++].size());
        if (slots > 0) run_expert_group(M, e_begin, e_end, slots, I, acts ? onorm : nullptr, omax, E);
        e_begin = e_end;
    }
    // EASY-EP s_t (methods.md §6.2) from the residual h (s_.x, not normalised) and the routed output r (y,
    // before the shared expert is added); cos in double. A zero-length vector makes cos 0 (s = 1), as the
    // eps clamp of torch.cosine_similarity does.
    float* contrib = acts ? buf(s_.contrib, static_cast<size_t>(T)) : nullptr;  // [T]
    if (acts) {
        const float* h = s_.x.data();
        for (int t = 0; t < T; ++t) {
            double hh = 0, hr = 0, rr = 0;
            for (int c = 0; c < H; ++c) {
                const double hv = h[static_cast<size_t>(t) * H + c], rv = y[static_cast<size_t>(t) * H + c];
                hh += hv * hv;
                hr += hv * rv;
                rr += rv * rv;
            }
            const double den = std::sqrt(hh) * std::sqrt(std::max(0.0, hh + 2 * hr + rr));
            const double cos = den > 0 ? (hh + hr) / den : 0.0;
            contrib[t] = static_cast<float>(std::max(0.0, 1.0 - cos));
        }
    }

    float* sg = buf(s_.shared_gate, static_cast<size_t>(T));
    for (int t = 0; t < T; ++t) sg[t] = -1.0f;
    if (M.shared.gate.present()) {
        float* d = buf(s_.d, static_cast<size_t>(T) * H);  // [T][H]
        mlp(M.shared, xn, T, d);
        for (int t = 0; t < T; ++t) {
            float g = 1.0f;
            if (M.shared_gate.present()) {  // qwen2_moe: sigmoid(x · w_sg), one scalar per token
                float zg = 0.0f;
                matvec(M.shared_gate.dtype, M.shared_gate.data, 1, H, xn + t * H, &zg, nullptr);
                g = 1.0f / (1.0f + std::exp(-zg));
                sg[t] = g;
            }
            axpy_f32(H, g, d + t * H, y + t * H);
        }
    }

    if (level == CaptureLevel::None || !obs) return;
    for (int t = 0; t < T; ++t) {
        RoutingEvent ev;
        ev.layer = layer;
        ev.position = pos0 + t;
        ev.token_id = tokens[t];
        ev.step = step;
        const size_t k = s_.sel_e[t].size();
        if (level >= CaptureLevel::Logits) ev.router_logits = std::span<const float>(z + static_cast<size_t>(t) * E, E);
        ev.experts = std::span<const int32_t>(s_.sel_e[t].data(), k);
        ev.weights = std::span<const float>(s_.sel_w[t].data(), k);
        ev.shared_gate = sg[t];
        if (acts) {
            ev.expert_out_norm = std::span<const float>(onorm + static_cast<size_t>(t) * E, k);
            ev.down_proj_max = std::span<const float>(omax + static_cast<size_t>(t) * E, k);
            ev.down_proj_channel = std::span<const int32_t>(s_.out_ch.data() + static_cast<size_t>(t) * E, k);
            ev.token_contribution = contrib[t];
        }
        obs->on_routing(ev);
    }
}

}  // namespace moescope::cpu
