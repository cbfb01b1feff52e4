#pragma once
// Views of a loaded model's weights. Matrices stay in their storage dtype inside the memory mapping
// (nn.Linear layout [out_features][in_features], row-major) and are widened by the kernels; small
// vectors (norm weights, biases, correction bias) are widened to float32 once at load.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace moescope {

// A 2-D weight [rows][cols] (an nn.Linear weight: out × in) in its storage dtype.
struct MatrixView {
    std::string name;          // tensor name (for messages), "" when absent
    DType dtype = DType::F32;
    const void* data = nullptr;
    int64_t rows = 0, cols = 0;
    bool present() const { return data != nullptr; }
    // Row r as a pointer in storage dtype.
    const void* row(int64_t r) const {
        return static_cast<const char*>(data) + static_cast<size_t>(r) * row_bytes(dtype, cols);
    }
};

struct MlpWeights {              // SwiGLU MLP: down(silu(gate(x)) * up(x))
    MatrixView gate;             // [I][H]  (Mixtral w1)
    MatrixView up;               // [I][H]  (Mixtral w3)
    MatrixView down;             // [H][I]  (Mixtral w2)
};

struct AttentionWeights {
    // GQA
    MatrixView q, k, v;               // [n_heads*D][H], [n_kv*D][H], [n_kv*D][H]
    std::vector<float> q_bias, k_bias, v_bias;  // empty when the model has none
    std::vector<float> q_norm, k_norm;          // [D] per head (qwen3) or [heads*D] full (olmoe)
    MatrixView o;                     // [H][n_heads*Dv]
    std::vector<float> o_bias;
    // MLA (DeepSeek)
    MatrixView q_a, q_b;              // [q_lora][H], [n_heads*(nope+rope)][q_lora] (when q_lora_rank > 0)
    std::vector<float> q_a_norm;      // [q_lora]
    MatrixView kv_a;                  // [kv_lora + rope][H]
    std::vector<float> kv_a_norm;     // [kv_lora]
    MatrixView kv_b;                  // [n_heads*(nope+v)][kv_lora]
};

struct MoeWeights {
    MatrixView router;                          // [E][H]
    std::vector<float> score_correction_bias;   // [E] (DeepSeek-V3), empty otherwise
    std::vector<MlpWeights> experts;            // [E]
    MlpWeights shared;                          // shared expert(s) fused in one MLP, absent if none
    MatrixView shared_gate;                     // [1][H] (qwen2_moe), absent if none
};

struct LayerWeights {
    std::vector<float> input_norm;     // [H]
    std::vector<float> post_attn_norm; // [H]
    AttentionWeights attn;
    bool is_moe = false;
    MlpWeights dense;                  // when !is_moe
    MoeWeights moe;                    // when is_moe
};

struct ModelWeights {
    MatrixView embed;                  // [V][H]
    std::vector<LayerWeights> layers;
    std::vector<float> final_norm;     // [H]
    MatrixView lm_head;                // [V][H] (= embed when tied)
};

}  // namespace moescope
