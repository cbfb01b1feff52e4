#pragma once
// A generation session: one sequence, its KV cache, the interventions in force and their timeline.
//
//   Session s(model);
//   auto logits = s.prefill(prompt_ids);          // step -1 (prompt), logits of the last position [V]
//   logits = s.step(next_id);                     // decode step 0, 1, ... one token each
//   s.set_interventions(iv);                      // takes effect at the next forward (recorded in timeline())
//   auto branch = s.fork();                       // copies the KV cache: continues from the same prefix
//
// Prefix semantics ("live" interventions): a change applies to forward passes from the next step on;
// KV entries computed earlier keep the routing they were computed with. To apply a preset to the whole
// sequence instead, re-run from the start with it (a new Session with the preset set before prefill).
//
// Errors: prefill/step throw moescope::Error for out-of-vocabulary ids or a context beyond
// max_position_embeddings; set_interventions returns an Error for experts out of range, non-MoE layers,
// bad top-k/top-p. A Session is not thread-safe; forks share the parent's thread pool, so run the forward
// passes of one family of sessions from one thread at a time.
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/interventions.h"
#include "engine/routing_tap.h"

namespace moescope {

class Model;
namespace gpu {
class CudaModel;
class CudaSequence;
}  // namespace gpu
namespace cpu {
class ThreadPool;
class CpuForward;
struct KVCache;
}  // namespace cpu

struct InterventionChange {
    int step = -1;             // first forward step the interventions applied to (-1 = prompt prefill)
    Interventions interventions;
    bool operator==(const InterventionChange&) const = default;
};

struct SessionOptions {
    int n_threads = 0;         // 0 = hardware concurrency (ignored when a pool is shared by fork)
    // CPU KV cache storage: F32 (default, the oracle) or BF16 (half the cache memory and decode KV reads;
    // keys/values rounded to bf16, attention still computed in float32). Forks keep their parent's.
    DType kv_dtype = DType::F32;
};

// Where the forward passes run. Default: the CPU. With `cuda` set (engine/cuda/cuda_backend.h, see
// gpu::select_device) they run on that GPU model with a KV cache of max_context positions.
struct SessionDevice {
    std::shared_ptr<gpu::CudaModel> cuda;
    int64_t max_context = 4096;
};

// Checks interventions against a model (layer is MoE, expert < n_experts, top-k in [1, n_experts],
// no more forced experts per layer than its k, top_p in (0, 1]). Error names the offending entry.
Result<bool> validate_interventions(const Model& model, const Interventions& iv);

class Session {
public:
    explicit Session(const Model& model, SessionOptions options = {});
    // Throws Error when the GPU sequence cannot be created (e.g. its KV cache does not fit).
    Session(const Model& model, SessionOptions options, const SessionDevice& device);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    const Model& model() const { return model_; }

    // Observer of routing events (nullptr detaches). Not owned. Its capture_level() is read per forward.
    void set_observer(RoutingObserver* observer) { observer_ = observer; }
    RoutingObserver* observer() const { return observer_; }

    // Validated; applies from the next forward pass on (step next_step(), or -1 before any prefill).
    Result<bool> set_interventions(const Interventions& iv);
    const Interventions& interventions() const { return interventions_; }
    // Every change with the step it took effect; the first entry is the state at the prompt.
    const std::vector<InterventionChange>& timeline() const { return timeline_; }

    // Feeds prompt tokens (may be called again to append more). Returns the logits of the last position
    // [V]; with all_logits != nullptr also fills [T][V] for every fed position.
    std::span<const float> prefill(std::span<const int32_t> tokens, std::vector<float>* all_logits = nullptr);
    // Feeds one token (decode step next_step()). Returns the logits for the following position [V].
    std::span<const float> step(int32_t token);
    std::span<const float> last_logits() const { return logits_; }

    // A new session with a copy of this one's KV cache, tokens, interventions, timeline and step counter.
    std::unique_ptr<Session> fork() const;

    int64_t n_past() const { return static_cast<int64_t>(tokens_.size()); }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int next_step() const { return next_step_; }

    // Cancellation between tokens: generate() stops before the next token when set.
    void request_cancel() { cancel_.store(true); }
    void clear_cancel() { cancel_.store(false); }
    bool cancel_requested() const { return cancel_.load(); }

private:
    Session(const Model& model, std::shared_ptr<cpu::ThreadPool> pool);
    void run_forward(std::span<const int32_t> tokens, int step, std::vector<float>* all_logits,
                     std::vector<float>& out);
    std::shared_ptr<gpu::CudaModel> cuda_model_;   // null: CPU backend
    std::unique_ptr<gpu::CudaSequence> cuda_seq_;
    const Model& model_;
    std::shared_ptr<cpu::ThreadPool> pool_;
    std::unique_ptr<cpu::CpuForward> forward_;
    std::unique_ptr<cpu::KVCache> cache_;
    RoutingObserver* observer_ = nullptr;
    Interventions interventions_;
    std::vector<InterventionChange> timeline_;
    std::vector<int32_t> tokens_;
    std::vector<float> logits_;
    int next_step_ = 0;
    bool prefilled_ = false;
    std::atomic<bool> cancel_{false};
};

}  // namespace moescope
