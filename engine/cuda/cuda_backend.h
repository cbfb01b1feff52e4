#pragma once
// The CUDA backend's public interface. Plain C++ (no CUDA headers), so the Session, the CLI and
// tests can include it in every build; in CPU-only builds (MOESCOPE_CUDA=OFF) the implementation in
// engine/nocuda/cuda_backend_nocuda.cpp makes CudaModel::load return an Error and the rest
// unreachable.
//
//   auto model = gpu::CudaModel::load(m.config(), m.weights(), {.precision = gpu::Precision::FP32});
//   auto seq = gpu::CudaSequence::create(*model, /*max_context=*/4096);
//   seq->forward(prompt, iv, observer, /*step=*/-1, &all_logits, last_logits);   // prefill
//   seq->forward({&next, 1}, iv, observer, /*step=*/0, nullptr, last_logits);     // decode
//   auto branch = seq->fork();                                                       // copies KV
//
// Semantics are the CPU oracle's (golden/README.md): same routing, interventions, taps. Errors
// (CUDA/cuBLAS failures, out of memory with needed vs free bytes, unsupported model features, bad
// token ids, context overflow) are thrown as moescope::Error by forward(), returned by load/create.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/interventions.h"
#include "engine/model/config.h"
#include "engine/model/weights.h"
#include "engine/cuda/memory_estimate.h"
#include "engine/device.h"
#include "engine/routing_tap.h"

namespace moescope::gpu {

// FP32: every matmul in FP32 with the BF16 weights widened exactly (faithfulness mode, matches the
// CPU oracle and the golden files). BF16: prefill projections and expert GEMMs on tensor cores via
// cuBLAS (BF16 activations, FP32 accumulate); decode GEMVs, router, norms, attention stay FP32.
enum class Precision { FP32, BF16 };
const char* precision_name(Precision p);

struct CudaOptions {
    Precision precision = Precision::BF16;
    int device = 0;
};

class CudaModelImpl;
class CudaSequenceImpl;

// Weights uploaded once to the device; shared read-only by any number of sequences. The host
// ModelWeights may be released after load. unload() frees the device memory (sequences created from
// it must be destroyed first).
class CudaModel {
public:
    // Estimates memory for the weights plus a `reserve_context`-token KV cache first, and fails with
    // "needs X, free Y" before allocating anything when the device cannot hold it.
    static Result<std::shared_ptr<CudaModel>> load(const ModelConfig& cfg, const ModelWeights& w,
                                                   const CudaOptions& options = {}, int64_t reserve_context = 4096);
    ~CudaModel();
    CudaModel(const CudaModel&) = delete;
    CudaModel& operator=(const CudaModel&) = delete;

    const ModelConfig& config() const;
    Precision precision() const;
    void set_precision(Precision p);  // takes effect at the next forward
    uint64_t device_bytes() const;    // bytes of uploaded weights
    std::string device_name() const;
    void unload();
    bool loaded() const;

    CudaModelImpl& impl() { return *impl_; }

private:
    CudaModel() = default;
    std::unique_ptr<CudaModelImpl> impl_;
};

// One sequence: KV cache (float32, max_context positions), scratch, tap buffers.
class CudaSequence {
public:
    static Result<std::unique_ptr<CudaSequence>> create(std::shared_ptr<CudaModel> model, int64_t max_context);
    ~CudaSequence();
    CudaSequence(const CudaSequence&) = delete;
    CudaSequence& operator=(const CudaSequence&) = delete;

    // Feeds tokens at positions [n_past(), n_past() + tokens.size()). `step` is reported in events
    // (-1 = prompt). last_logits receives [V] of the last position; all_logits (optional) [T][V].
    // The observer (optional) receives RoutingEvent / LayerStatsEvent / StepEvent exactly like the
    // CPU backend; all device statistics of the call are copied back together (pinned, async) and
    // delivered after the call's single synchronisation.
    void forward(std::span<const int32_t> tokens, const Interventions& iv, RoutingObserver* observer, int step,
                 std::vector<float>* all_logits, std::vector<float>& last_logits);

    int64_t n_past() const;
    int64_t max_context() const;
    // Drops positions >= n (branching from an earlier point, SCMoE's second pass from a shared prefix).
    void truncate(int64_t n);
    // A new sequence with a copy of this one's KV cache (device-to-device).
    std::unique_ptr<CudaSequence> fork() const;

private:
    CudaSequence() = default;
    std::unique_ptr<CudaSequenceImpl> impl_;
};

// --device cpu|cuda|auto (CLI and app). auto uses the GPU when one is present and the model is
// supported there, otherwise the CPU.
enum class DeviceChoice { Cpu, Cuda, Auto };

inline Result<DeviceChoice> parse_device(const std::string& s) {
    if (s == "cpu") return DeviceChoice::Cpu;
    if (s == "cuda" || s == "gpu") return DeviceChoice::Cuda;
    if (s == "auto") return DeviceChoice::Auto;
    return Error("unknown device '" + s + "' (expected cpu, cuda or auto)");
}

inline Result<Precision> parse_precision(const std::string& s) {
    if (s == "fp32") return Precision::FP32;
    if (s == "bf16") return Precision::BF16;
    return Error("unknown precision '" + s + "' (expected fp32 or bf16)");
}

// The GPU model to hand to SessionOptions::cuda: null for cpu (and for auto without a usable GPU,
// with the reason in *note). An Error for cuda when no GPU, the model is unsupported, or it does
// not fit (message with needed vs free memory).
inline Result<std::shared_ptr<CudaModel>> select_device(DeviceChoice choice, const ModelConfig& cfg,
                                                        const ModelWeights& w, const CudaOptions& options,
                                                        int64_t context, std::string* note = nullptr) {
    if (choice == DeviceChoice::Cpu) return std::shared_ptr<CudaModel>();
    if (choice == DeviceChoice::Auto) {
        if (!cuda_compiled() || cuda_device_count() == 0) {
            if (note) *note = "auto: using the CPU (" + cuda_device_description() + ")";
            return std::shared_ptr<CudaModel>();
        }
        if (auto ok = check_supported(cfg); !ok) {
            if (note) *note = "auto: using the CPU (" + ok.message() + ")";
            return std::shared_ptr<CudaModel>();
        }
    }
    auto m = CudaModel::load(cfg, w, options, context);
    if (!m && choice == DeviceChoice::Auto) {
        if (note) *note = "auto: using the CPU (" + m.message() + ")";
        return std::shared_ptr<CudaModel>();
    }
    return m;
}

}  // namespace moescope::gpu
