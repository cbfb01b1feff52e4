#pragma once
// Benchmark of the CUDA backend for `moescope-cli bench --device cuda` (issue 9): prefill and decode
// tokens/s with capture off and on, and decode as a fraction of the HBM-bandwidth bound
// (active weight bytes per token / device bandwidth measured in the same run). Plain C++ header; in
// CPU-only builds cuda_bench returns an Error.
#include <cstdint>
#include <string>

#include "engine/cuda/cuda_backend.h"

namespace moescope::gpu {

struct CudaBenchOptions {
    Precision precision = Precision::BF16;
    int prompt_tokens = 128;
    int decode_tokens = 64;
    uint64_t seed = 1;  // prompt token ids
};

struct CudaBenchResult {
    std::string device;
    Precision precision = Precision::BF16;
    double bandwidth_gbs = 0;            // measured device-to-device copy bandwidth (read + write)
    double prefill_tok_s = 0;            // capture off
    double prefill_tok_s_capture = 0;    // CaptureLevel::Activations
    double decode_tok_s = 0;             // batch 1, capture off
    double decode_tok_s_capture = 0;     // batch 1, CaptureLevel::Activations
    uint64_t active_bytes_per_token = 0; // weights read per decode token (k experts per MoE layer) + KV
    double decode_bound_tok_s = 0;       // bandwidth / active bytes
    double decode_fraction_of_bound = 0; // decode_tok_s / decode_bound_tok_s
    double capture_overhead = 0;         // 1 - decode_tok_s_capture / decode_tok_s
    std::string to_json() const;
};

Result<CudaBenchResult> cuda_bench(const ModelConfig& cfg, const ModelWeights& w, const CudaBenchOptions& options);

// Weight bytes one decode token reads on the device (BF16): every dense matrix, the router, k routed
// experts per MoE layer, shared experts and the lm_head row block (all of it: V x H).
uint64_t active_weight_bytes(const ModelConfig& cfg, const ModelWeights& w);

}  // namespace moescope::gpu
