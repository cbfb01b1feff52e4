// RoutingCollector: per-position routing kept in memory for the live views.
#include "app/gui/routing_collector.h"

#include <algorithm>

namespace moescope::gui {

RoutingCollector::RoutingCollector(std::vector<int> moeLayers, RoutingObserver* forward)
    : moeLayers_(std::move(moeLayers)), forward_(forward) {
    int maxLayer = 0;
    for (int l : moeLayers_) maxLayer = std::max(maxLayer, l);
    rowOfLayer_.assign(static_cast<size_t>(maxLayer) + 1, -1);
    for (size_t i = 0; i < moeLayers_.size(); ++i) rowOfLayer_[static_cast<size_t>(moeLayers_[i])] = static_cast<int>(i);
}

CaptureLevel RoutingCollector::capture_level() const {
    return forward_ ? std::max(forward_->capture_level(), CaptureLevel::Routing) : CaptureLevel::Routing;
}

void RoutingCollector::on_routing(const RoutingEvent& e) {
    if (forward_) forward_->on_routing(e);
    if (e.layer < 0 || e.layer >= static_cast<int>(rowOfLayer_.size()) || e.position < 0) return;
    const int row = rowOfLayer_[static_cast<size_t>(e.layer)];
    if (row < 0) return;
    if (static_cast<size_t>(e.position) >= rows_.size())
        rows_.resize(static_cast<size_t>(e.position) + 1, std::vector<Slot>(moeLayers_.size()));
    Slot& s = rows_[static_cast<size_t>(e.position)][static_cast<size_t>(row)];
    s.experts.assign(e.experts.begin(), e.experts.end());
    s.weights.assign(e.weights.begin(), e.weights.end());
    s.weights.resize(s.experts.size(), 0.0f);
    kMax_ = std::max(kMax_, static_cast<int>(s.experts.size()));
}

void RoutingCollector::on_layer_stats(const LayerStatsEvent& e) {
    if (forward_) forward_->on_layer_stats(e);
}

void RoutingCollector::on_step_end(const StepEvent& e) {
    if (forward_) forward_->on_step_end(e);
}

TokenRouting RoutingCollector::at(int64_t position) const {
    TokenRouting r;
    if (position < 0 || position >= positions() || kMax_ == 0) return r;
    r.k_max = kMax_;
    r.experts.assign(moeLayers_.size() * kMax_, -1);
    r.weights.assign(moeLayers_.size() * kMax_, 0.0f);
    const auto& row = rows_[static_cast<size_t>(position)];
    for (size_t m = 0; m < row.size(); ++m)
        for (size_t j = 0; j < row[m].experts.size(); ++j) {
            r.experts[m * kMax_ + j] = row[m].experts[j];
            r.weights[m * kMax_ + j] = row[m].weights[j];
        }
    return r;
}

RoutingArrays RoutingCollector::toArrays(const std::vector<int32_t>& tokenIds, int promptTokens) const {
    RoutingArrays a;
    a.n_tokens = std::min<int64_t>(positions(), static_cast<int64_t>(tokenIds.size()));
    a.n_moe = static_cast<int>(moeLayers_.size());
    a.k_max = kMax_;
    a.moe_layers = moeLayers_;
    a.experts.assign(static_cast<size_t>(a.n_tokens) * a.n_moe * a.k_max, -1);
    a.weights.assign(a.experts.size(), 0.0f);
    for (int64_t t = 0; t < a.n_tokens; ++t) {
        a.run_id.push_back(-1);
        a.prompt_id.push_back(-1);
        a.position.push_back(static_cast<int32_t>(t));
        a.token_id.push_back(tokenIds[static_cast<size_t>(t)]);
        a.generated.push_back(t >= promptTokens ? 1 : 0);
        a.set_index.push_back(-1);
        const auto& row = rows_[static_cast<size_t>(t)];
        for (int m = 0; m < a.n_moe; ++m)
            for (size_t j = 0; j < row[static_cast<size_t>(m)].experts.size(); ++j) {
                a.experts[a.slot(t, m, static_cast<int>(j))] = static_cast<int16_t>(row[static_cast<size_t>(m)].experts[j]);
                a.weights[a.slot(t, m, static_cast<int>(j))] = row[static_cast<size_t>(m)].weights[j];
            }
    }
    return a;
}

}  // namespace moescope::gui
