#pragma once
// Device memory the CUDA backend needs for a model, and which model features it supports. Header-only
// plain C++ so that CPU-only builds (and `info`) can print the estimate too.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/error.h"
#include "engine/model/config.h"
#include "engine/model/weights.h"

namespace moescope::gpu {

// Weights are stored as BF16 (norm vectors and biases as F32); the KV cache is float32, per token
// n_layers * kv_heads_cached * (q_head_dim + v_head_dim) * 4 bytes; scratch covers the activations
// of one prefill chunk (kPrefillChunk tokens).
constexpr int64_t kPrefillChunk = 512;

struct MemoryEstimate {
    uint64_t weight_bytes = 0;
    uint64_t kv_bytes = 0;       // for `context` tokens, one sequence
    uint64_t scratch_bytes = 0;  // activations for one prefill chunk
    int64_t context = 0;
    uint64_t total() const { return weight_bytes + kv_bytes + scratch_bytes; }
    std::string describe() const {
        char buf[256];
        const double mib = 1024.0 * 1024.0;
        std::snprintf(buf, sizeof buf, "%.1f MiB (weights %.1f MiB + KV cache %.1f MiB for %lld tokens + scratch %.1f MiB)",
                      total() / mib, weight_bytes / mib, kv_bytes / mib, static_cast<long long>(context),
                      scratch_bytes / mib);
        return buf;
    }
};

inline uint64_t kv_bytes_per_token(const ModelConfig& c) {
    return uint64_t(c.n_layers) * uint64_t(c.kv_heads_cached()) * uint64_t(c.q_head_dim() + c.attn_v_head_dim()) * 4u;
}

inline MemoryEstimate estimate_memory(const ModelConfig& c, const ModelWeights& w, int64_t context) {
    MemoryEstimate m;
    m.context = context;
    auto mat = [&](const MatrixView& v) { m.weight_bytes += uint64_t(v.rows) * uint64_t(v.cols) * 2u; };
    auto vec = [&](const std::vector<float>& v) { m.weight_bytes += v.size() * 4u; };
    auto mlp = [&](const MlpWeights& p) {
        mat(p.gate);
        mat(p.up);
        mat(p.down);
    };
    mat(w.embed);
    if (w.lm_head.data != w.embed.data) mat(w.lm_head);
    vec(w.final_norm);
    for (const auto& L : w.layers) {
        vec(L.input_norm);
        vec(L.post_attn_norm);
        const auto& a = L.attn;
        for (const auto* v : {&a.q, &a.k, &a.v, &a.o, &a.q_a, &a.q_b, &a.kv_a, &a.kv_b}) mat(*v);
        for (const auto* v : {&a.q_bias, &a.k_bias, &a.v_bias, &a.q_norm, &a.k_norm, &a.o_bias, &a.q_a_norm, &a.kv_a_norm})
            vec(*v);
        if (L.is_moe) {
            mat(L.moe.router);
            vec(L.moe.score_correction_bias);
            for (const auto& e : L.moe.experts) mlp(e);
            mlp(L.moe.shared);
            mat(L.moe.shared_gate);
        } else {
            mlp(L.dense);
        }
    }
    m.kv_bytes = kv_bytes_per_token(c) * uint64_t(context);
    // Per chunk token: residual, norms, q/k/v, attention out, logits of the last row, MoE slots
    // (gate|up and down per slot, padded), router logits and taps. Generous by design.
    const uint64_t H = uint64_t(c.hidden_size);
    const uint64_t qkv = uint64_t(c.n_heads) * (c.q_head_dim() + c.attn_v_head_dim()) * 2 + uint64_t(c.kv_lora_rank + c.q_lora_rank + c.qk_rope_head_dim);
    const uint64_t I = uint64_t(std::max({c.intermediate_size, c.moe_intermediate_size, c.shared_intermediate_size}));
    const uint64_t k = uint64_t(std::max(c.top_k, 1));
    const uint64_t per_tok = 4u * (6 * H + qkv + k * (3 * I + 2 * H) + 2 * uint64_t(c.n_experts) + uint64_t(c.vocab_size));
    m.scratch_bytes = per_tok * uint64_t(kPrefillChunk) + 4u * uint64_t(c.n_experts) * 32u * (3 * I + 2 * H);
    return m;
}

inline Result<bool> check_supported(const ModelConfig& c) {
    if (c.yarn) return Error("CUDA backend: YaRN rope scaling is not implemented yet (use --device cpu)");
    if (c.sliding_window > 0) return Error("CUDA backend: sliding-window attention is not implemented yet (use --device cpu)");
    if (c.attn_v_head_dim() > 256) return Error("CUDA backend: value head width > 256 is not supported");
    if (c.n_experts > 1024) return Error("CUDA backend: more than 1024 experts per layer is not supported");
    if (c.n_group > 64) return Error("CUDA backend: more than 64 expert groups is not supported");
    if (c.attention == AttentionKind::Gqa && (c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0))
        return Error("CUDA backend: n_heads must be a multiple of n_kv_heads");
    return true;
}

}  // namespace moescope::gpu
