#pragma once
// A RoutingObserver that copies every routing event into memory, grouped by MoE layer in position
// order. Used by the CLI (`eval`, `generate --json`), tests and anything that wants the routing of a
// short run without a database.
#include <map>
#include <vector>

#include "engine/routing_tap.h"

namespace moescope {

struct CapturedLayer {
    int layer = 0;
    std::vector<int64_t> positions;                 // [T]
    std::vector<int> steps;                         // [T]
    std::vector<std::vector<float>> router_logits;  // [T][E] (level >= Logits)
    std::vector<std::vector<int32_t>> experts;      // [T][k]
    std::vector<std::vector<float>> weights;        // [T][k]
    std::vector<float> shared_gate;                 // [T]
};

class RoutingCapture : public RoutingObserver {
public:
    explicit RoutingCapture(CaptureLevel level = CaptureLevel::Logits) : level_(level) {}
    CaptureLevel capture_level() const override { return level_; }
    void on_routing(const RoutingEvent& ev) override {
        CapturedLayer& L = layers_[ev.layer];
        L.layer = ev.layer;
        L.positions.push_back(ev.position);
        L.steps.push_back(ev.step);
        L.router_logits.emplace_back(ev.router_logits.begin(), ev.router_logits.end());
        L.experts.emplace_back(ev.experts.begin(), ev.experts.end());
        L.weights.emplace_back(ev.weights.begin(), ev.weights.end());
        L.shared_gate.push_back(ev.shared_gate);
    }
    void on_step_end(const StepEvent& ev) override { steps_.push_back(ev); }

    // Layers in ascending HF index.
    const std::map<int, CapturedLayer>& layers() const { return layers_; }
    const std::vector<StepEvent>& steps() const { return steps_; }
    void clear() {
        layers_.clear();
        steps_.clear();
    }

private:
    CaptureLevel level_;
    std::map<int, CapturedLayer> layers_;
    std::vector<StepEvent> steps_;
};

}  // namespace moescope
