// The one MoE block of every family (architectures.md §1.6); routing variant from the config,
// interventions as an argument (resolved per layer in s_.li):
//   z = x · W_routerᵀ                         [T][E] raw router logits (reported before interventions)
//   (experts, w) = route_token(z)             router.cpp
//   y = Σ_j w_j · Expert_{e_j}(x)             experts run over the tokens routed to them, index order
//   y += [sigmoid(x · w_sg)] · Shared(x)      qwen2_moe (gated) / DeepSeek (ungated)
#include <cmath>

#include "engine/cpu/forward.h"
#include "engine/cpu/kernels.h"

namespace moescope::cpu {

namespace {
float* buf(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}
}  // namespace

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

    const bool acts = level >= CaptureLevel::Activations;
    float* onorm = acts ? buf(s_.out_norm, static_cast<size_t>(T) * E) : nullptr;  // [T][slot]
    float* omax = acts ? buf(s_.out_max, static_cast<size_t>(T) * E) : nullptr;
    if (acts && s_.out_ch.size() < static_cast<size_t>(T) * E) s_.out_ch.resize(static_cast<size_t>(T) * E);

    std::fill(y, y + static_cast<size_t>(T) * H, 0.0f);
    for (int e = 0; e < E; ++e) {
        const auto& toks = s_.by_expert[e];
        const int n = static_cast<int>(toks.size());
        if (n == 0) continue;
        float* gx = buf(s_.gx, static_cast<size_t>(n) * H);  // [n][H] inputs of the tokens routed to e
        for (int i = 0; i < n; ++i) std::copy(xn + toks[i] * H, xn + (toks[i] + 1) * H, gx + i * H);
        float* d = buf(s_.d, static_cast<size_t>(n) * H);    // [n][H] expert outputs
        mlp(M.experts[e], gx, n, d);
        for (int i = 0; i < n; ++i) {
            const int t = toks[i], j = s_.slot_of[e][i];
            const float w = s_.sel_w[t][j];
            const float* de = d + i * H;
            axpy_f32(H, w, de, y + t * H);
            if (acts) {
                double ss = 0.0;
                float mx = 0.0f;
                int ch = 0;
                for (int c = 0; c < H; ++c) {
                    const float a = std::fabs(de[c]);
                    ss += static_cast<double>(a) * a;
                    if (a > mx) {
                        mx = a;
                        ch = c;
                    }
                }
                onorm[t * E + j] = static_cast<float>(std::sqrt(ss));
                omax[t * E + j] = mx;
                s_.out_ch[t * E + j] = ch;
            }
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
        }
        obs->on_routing(ev);
    }
}

}  // namespace moescope::cpu
