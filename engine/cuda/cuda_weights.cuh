#pragma once
// Model weights on the device: uploaded once as BF16 matrices (float32 vectors), in the fused
// layouts the forward pass wants:
//   GQA   qkv = [q; k; v] rows  [(nh + 2 nkv) D][H]   (one GEMM), biases fused the same way
//   MLP   gu  = [gate; up] rows [2I][H]               (one GEMM, then SwiGLU)
//   MoE   experts_gu [E][2I][H], experts_down [E][H][I] stacked so kernels index by expert id
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "engine/cuda/common.cuh"
#include "engine/model/config.h"
#include "engine/model/weights.h"

namespace moescope::gpu {

struct DevMat {
    DeviceBuffer buf;
    int64_t rows = 0, cols = 0;
    const uint16_t* p() const { return buf.as<const uint16_t>(); }
    bool present() const { return buf.get() != nullptr; }
};

struct DevVec {
    DeviceBuffer buf;
    int64_t n = 0;
    const float* p() const { return buf.as<const float>(); }
    bool present() const { return buf.get() != nullptr; }
};

struct DevMlp {
    DevMat gu;    // [2I][H]
    DevMat down;  // [H][I]
    int inter = 0;
    bool present() const { return gu.present(); }
};

struct DevLayer {
    DevVec in_norm, post_norm;
    // GQA
    DevMat qkv;
    DevVec qkv_bias;  // [(nh + 2 nkv) D] or absent
    DevVec q_norm, k_norm;
    DevMat o;
    DevVec o_bias;
    // MLA
    DevMat q_a, q_b, q_proj, kv_a, kv_b;
    DevVec q_a_norm, kv_a_norm;
    // FFN
    bool is_moe = false;
    DevMlp dense;
    DevMat router;  // [E][H]
    DevVec e_bias;  // [E] DeepSeek e_score_correction_bias
    DevMat experts_gu, experts_down;
    int n_experts = 0, expert_inter = 0;
    DevMlp shared;
    DevMat shared_gate;  // [1][H]
};

struct DevWeights {
    DevMat embed;
    DevMat lm_head;  // absent when tied: use embed
    DevVec final_norm;
    std::vector<DevLayer> layers;
    uint64_t bytes = 0;
    const DevMat& head() const { return lm_head.present() ? lm_head : embed; }
};

// Throws Error naming the tensor on shape mismatches, and the OOM error of DeviceBuffer.
void upload_weights(const ModelConfig& cfg, const ModelWeights& w, DevWeights& out);

}  // namespace moescope::gpu
