#pragma once
// RoutingCollector: a RoutingObserver (engine thread) that keeps the routing of every position of one
// generation, to build the run's RoutingArrays and to show a token's experts live. Optionally forwards
// every event to a second observer (the storage Recorder), so the engine sees one observer.
#include <vector>

#include "app/gui/run_data.h"
#include "engine/routing_tap.h"

namespace moescope::gui {

class RoutingCollector final : public RoutingObserver {
public:
    explicit RoutingCollector(std::vector<int> moeLayers, RoutingObserver* forward = nullptr);

    CaptureLevel capture_level() const override;
    void on_routing(const RoutingEvent& e) override;
    void on_layer_stats(const LayerStatsEvent& e) override;
    void on_step_end(const StepEvent& e) override;

    // Routing of one position as [n_moe][k] (k = the widest selection seen); empty when not seen.
    TokenRouting at(int64_t position) const;
    int64_t positions() const { return static_cast<int64_t>(rows_.size()); }
    // Dense arrays for rows [0, positions()) with the given token ids (one per position).
    RoutingArrays toArrays(const std::vector<int32_t>& tokenIds, int promptTokens) const;

private:
    struct Slot {
        std::vector<int> experts;
        std::vector<float> weights;
    };
    std::vector<int> moeLayers_;
    std::vector<int> rowOfLayer_;             // HF layer -> row, -1 for dense layers
    std::vector<std::vector<Slot>> rows_;     // [position][n_moe]
    int kMax_ = 0;
    RoutingObserver* forward_;
};

}  // namespace moescope::gui
