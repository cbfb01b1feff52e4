#pragma once
// Routing taps: the observer interface through which the engine reports what happens inside each MoE
// layer. The engine knows nothing about storage or Qt; the recorder (storage/), the app and the CLI
// implement RoutingObserver. Spans point into engine-owned scratch memory and are valid only for the
// duration of the callback: copy what you keep. Callbacks run on the engine thread, so they must be
// cheap (enqueue, don't write to disk). When no observer is attached, or the observer's capture level
// is None, the engine skips computing the optional statistics.
#include <cstdint>
#include <limits>
#include <span>

namespace moescope {

// What an observer wants; each level includes the ones before it.
enum class CaptureLevel : int {
    None = 0,
    Routing = 1,      // selected experts (best first) + final weights + shared-expert gate
    Logits = 2,       // + raw router logits [n_experts]
    Activations = 3,  // + per selected expert output L2 norm and max |down_proj output| (+channel),
                      //   the token contribution s_t of the routed experts (EASY-EP),
                      //   per layer hidden-state max |value| (+channel) and L2 norm, attention sink mass
};

// One token at one MoE layer.
struct RoutingEvent {
    int layer = 0;            // HF layer index L (model.layers.{L})
    int64_t position = 0;     // absolute position of the token in the sequence (0-based)
    int32_t token_id = 0;     // the input token at this position
    int step = -1;            // generation step that produced this forward (-1 = prompt prefill)
    std::span<const float> router_logits;  // [n_experts] raw gate output BEFORE interventions (level>=Logits)
    std::span<const int32_t> experts;      // [k] selected ids, best first; forced expert last if not natural
    std::span<const float> weights;        // [k] final multipliers of the expert outputs
    float shared_gate = -1.0f;             // sigmoid gate of the shared expert; -1 when the model has none
    // level >= Activations, else empty; aligned with `experts`:
    std::span<const float> expert_out_norm;      // [k] L2 norm of each selected expert's output (before weighting)
    std::span<const float> down_proj_max;        // [k] max |down_proj output| of each selected expert
    std::span<const int32_t> down_proj_channel;  // [k] hidden channel where that max occurs
    // level >= Activations, else NaN: EASY-EP's token contribution (methods.md §6.2)
    //   s_t = max(0, 1 - cos(h, h + r)),  h = residual stream entering the MoE block (not normalised),
    //   r = sum_j w_j E_j(x) = the routed experts' output (shared experts excluded); computed in double.
    float token_contribution = std::numeric_limits<float>::quiet_NaN();
};

// Per-layer statistics of one token (every decoder layer, dense ones included). level >= Activations.
struct LayerStatsEvent {
    int layer = 0;
    int64_t position = 0;
    int step = -1;
    float hidden_max_abs = 0.0f;  // max |h| of the layer's OUTPUT hidden state (residual stream)
    int32_t hidden_max_channel = 0;
    float hidden_norm = 0.0f;     // L2 norm of the same hidden state
    float sink_mass = 0.0f;       // attention mass on position 0, averaged over heads (Gu et al.)
    std::span<const float> sink_mass_per_head;  // [n_heads] attention mass on position 0 per head
};

// One forward step has finished (all layers of all its tokens reported). Lets recorders group events.
struct StepEvent {
    int step = -1;               // -1 = prompt prefill
    int64_t first_position = 0;  // positions [first_position, first_position + n_tokens)
    int n_tokens = 0;
};

class RoutingObserver {
public:
    virtual ~RoutingObserver() = default;
    virtual CaptureLevel capture_level() const { return CaptureLevel::Routing; }
    virtual void on_routing(const RoutingEvent&) {}
    virtual void on_layer_stats(const LayerStatsEvent&) {}
    virtual void on_step_end(const StepEvent&) {}
};

}  // namespace moescope
