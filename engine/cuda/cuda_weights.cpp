#include "engine/cuda/cuda_weights.cuh"

#include <string>

#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

namespace {

std::string shape_str(int64_t r, int64_t c) { return "[" + std::to_string(r) + ", " + std::to_string(c) + "]"; }

void expect_shape(const MatrixView& v, int64_t rows, int64_t cols, const char* what) {
    if (v.rows != rows || v.cols != cols)
        throw Error("CUDA upload: tensor '" + (v.name.empty() ? std::string(what) : v.name) + "' has shape " +
                    shape_str(v.rows, v.cols) + ", expected " + shape_str(rows, cols));
}

// Copies a matrix (any storage dtype) into device memory as BF16. BF16 sources go straight from the
// mapping; F32/F16 are rounded on the host through a staging buffer (FP32 mode is then exact only for
// BF16 checkpoints, see docs/cuda.md).
void copy_matrix(uint16_t* dst, const MatrixView& v) {
    const size_t n = size_t(v.rows) * size_t(v.cols);
    if (n == 0) return;
    if (v.dtype == DType::BF16) {
        CUDA_CHECK(cudaMemcpy(dst, v.data, n * 2, cudaMemcpyHostToDevice));
        return;
    }
    if (v.dtype == DType::Q8_0)  // CPU-only format (engine/model/quantize.h); the CLI refuses it with CUDA
        throw Error("CUDA upload: tensor '" + v.name + "' is Q8_0, a CPU backend format");
    std::vector<uint16_t> staging(n);
    for (size_t i = 0; i < n; ++i) staging[i] = cudamath::f32_to_bf16(load_as_f32(v.dtype, v.data, i));
    CUDA_CHECK(cudaMemcpy(dst, staging.data(), n * 2, cudaMemcpyHostToDevice));
}

void upload_mat(DevMat& m, const MatrixView& v, int64_t rows, int64_t cols, const char* what, uint64_t& bytes) {
    if (!v.present()) return;
    expect_shape(v, rows, cols, what);
    m.rows = rows;
    m.cols = cols;
    m.buf.alloc(size_t(rows) * size_t(cols) * 2, what);
    copy_matrix(m.buf.as<uint16_t>(), v);
    bytes += m.buf.bytes();
}

// Rows of several matrices stacked into one (all with `cols` columns).
void upload_stacked(DevMat& m, std::initializer_list<const MatrixView*> parts, int64_t cols, const char* what,
                    uint64_t& bytes) {
    int64_t rows = 0;
    for (const auto* p : parts) {
        if (!p->present()) throw Error(std::string("CUDA upload: missing tensor for ") + what);
        if (p->cols != cols) expect_shape(*p, p->rows, cols, what);
        rows += p->rows;
    }
    m.rows = rows;
    m.cols = cols;
    m.buf.alloc(size_t(rows) * size_t(cols) * 2, what);
    int64_t r = 0;
    for (const auto* p : parts) {
        copy_matrix(m.buf.as<uint16_t>() + size_t(r) * size_t(cols), *p);
        r += p->rows;
    }
    bytes += m.buf.bytes();
}

void upload_vec(DevVec& d, const std::vector<float>& v, const char* what, uint64_t& bytes) {
    if (v.empty()) return;
    d.n = int64_t(v.size());
    d.buf.alloc(v.size() * 4, what);
    CUDA_CHECK(cudaMemcpy(d.buf.get(), v.data(), v.size() * 4, cudaMemcpyHostToDevice));
    bytes += d.buf.bytes();
}

void upload_mlp(DevMlp& d, const MlpWeights& w, int64_t H, const char* what, uint64_t& bytes) {
    if (!w.gate.present()) return;
    const int64_t I = w.gate.rows;
    expect_shape(w.up, I, H, what);
    expect_shape(w.down, H, I, what);
    upload_stacked(d.gu, {&w.gate, &w.up}, H, what, bytes);
    upload_mat(d.down, w.down, H, I, what, bytes);
    d.inter = int(I);
}

}  // namespace

void upload_weights(const ModelConfig& c, const ModelWeights& w, DevWeights& out) {
    const int64_t H = c.hidden_size, V = c.vocab_size, D = c.head_dim;
    uint64_t& bytes = out.bytes;
    bytes = 0;
    upload_mat(out.embed, w.embed, V, H, "embed_tokens", bytes);
    if (w.lm_head.present() && w.lm_head.data != w.embed.data) upload_mat(out.lm_head, w.lm_head, V, H, "lm_head", bytes);
    upload_vec(out.final_norm, w.final_norm, "final norm", bytes);
    out.layers.clear();
    out.layers.resize(w.layers.size());
    for (size_t l = 0; l < w.layers.size(); ++l) {
        const LayerWeights& L = w.layers[l];
        DevLayer& d = out.layers[l];
        upload_vec(d.in_norm, L.input_norm, "input_layernorm", bytes);
        upload_vec(d.post_norm, L.post_attn_norm, "post_attention_layernorm", bytes);
        const AttentionWeights& a = L.attn;
        if (c.attention == AttentionKind::Gqa) {
            expect_shape(a.q, c.n_heads * D, H, "q_proj");
            expect_shape(a.k, c.n_kv_heads * D, H, "k_proj");
            expect_shape(a.v, c.n_kv_heads * D, H, "v_proj");
            upload_stacked(d.qkv, {&a.q, &a.k, &a.v}, H, "q/k/v_proj", bytes);
            if (!a.q_bias.empty() || !a.k_bias.empty() || !a.v_bias.empty()) {
                std::vector<float> b(size_t(d.qkv.rows), 0.0f);
                auto put = [&](const std::vector<float>& src, size_t off) {
                    for (size_t i = 0; i < src.size() && off + i < b.size(); ++i) b[off + i] = src[i];
                };
                put(a.q_bias, 0);
                put(a.k_bias, size_t(c.n_heads * D));
                put(a.v_bias, size_t((c.n_heads + c.n_kv_heads) * D));
                upload_vec(d.qkv_bias, b, "q/k/v bias", bytes);
            }
            upload_vec(d.q_norm, a.q_norm, "q_norm", bytes);
            upload_vec(d.k_norm, a.k_norm, "k_norm", bytes);
            upload_mat(d.o, a.o, H, c.n_heads * D, "o_proj", bytes);
        } else {
            const int64_t qd = c.q_head_dim();
            if (c.q_lora_rank > 0) {
                upload_mat(d.q_a, a.q_a, c.q_lora_rank, H, "q_a_proj", bytes);
                upload_vec(d.q_a_norm, a.q_a_norm, "q_a_layernorm", bytes);
                upload_mat(d.q_b, a.q_b, c.n_heads * qd, c.q_lora_rank, "q_b_proj", bytes);
            } else {
                upload_mat(d.q_proj, a.q, c.n_heads * qd, H, "q_proj", bytes);
            }
            upload_mat(d.kv_a, a.kv_a, c.kv_lora_rank + c.qk_rope_head_dim, H, "kv_a_proj_with_mqa", bytes);
            upload_vec(d.kv_a_norm, a.kv_a_norm, "kv_a_layernorm", bytes);
            upload_mat(d.kv_b, a.kv_b, int64_t(c.n_heads) * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank,
                       "kv_b_proj", bytes);
            upload_mat(d.o, a.o, H, int64_t(c.n_heads) * c.v_head_dim, "o_proj", bytes);
        }
        upload_vec(d.o_bias, a.o_bias, "o_proj bias", bytes);
        d.is_moe = L.is_moe;
        if (!L.is_moe) {
            upload_mlp(d.dense, L.dense, H, "mlp", bytes);
            continue;
        }
        const MoeWeights& m = L.moe;
        const int E = int(m.experts.size());
        if (E != c.n_experts)
            throw Error("CUDA upload: layer " + std::to_string(l) + " has " + std::to_string(E) + " experts, config says " +
                        std::to_string(c.n_experts));
        upload_mat(d.router, m.router, E, H, "router gate", bytes);
        upload_vec(d.e_bias, m.score_correction_bias, "e_score_correction_bias", bytes);
        const int64_t I = E > 0 ? m.experts[0].gate.rows : 0;
        d.n_experts = E;
        d.expert_inter = int(I);
        d.experts_gu.rows = int64_t(E) * 2 * I;
        d.experts_gu.cols = H;
        d.experts_gu.buf.alloc(size_t(E) * 2 * I * H * 2, "stacked expert gate/up");
        d.experts_down.rows = int64_t(E) * H;
        d.experts_down.cols = I;
        d.experts_down.buf.alloc(size_t(E) * H * I * 2, "stacked expert down");
        for (int e = 0; e < E; ++e) {
            const MlpWeights& x = m.experts[e];
            expect_shape(x.gate, I, H, "expert gate_proj");
            expect_shape(x.up, I, H, "expert up_proj");
            expect_shape(x.down, H, I, "expert down_proj");
            uint16_t* gu = d.experts_gu.buf.as<uint16_t>() + size_t(e) * 2 * I * H;
            copy_matrix(gu, x.gate);
            copy_matrix(gu + size_t(I) * H, x.up);
            copy_matrix(d.experts_down.buf.as<uint16_t>() + size_t(e) * H * I, x.down);
        }
        bytes += d.experts_gu.buf.bytes() + d.experts_down.buf.bytes();
        upload_mlp(d.shared, m.shared, H, "shared expert", bytes);
        upload_mat(d.shared_gate, m.shared_gate, 1, H, "shared_expert_gate", bytes);
    }
}

}  // namespace moescope::gpu
