// RunContext: selection state and its broadcast to views.
#include "app/gui/run_context.h"

#include <algorithm>

namespace moescope::gui {

RunContext::RunContext(QObject* parent) : QObject(parent) {
    qRegisterMetaType<RunDataPtr>();
}

void RunContext::addObserver(IRunObserver* observer, QObject* lifetime) {
    if (!observer) return;
    removeObserver(observer);
    observers_.push_back({observer, lifetime});
    if (run_) observer->onRunLoaded(run_);
}

void RunContext::removeObserver(IRunObserver* observer) {
    std::erase_if(observers_, [&](const Entry& e) { return e.observer == observer; });
}

template <class F>
void RunContext::broadcast(F&& f) {
    // Drop observers whose owner is gone, then call the rest. Copy first: an observer may add or
    // remove observers from its callback.
    std::erase_if(observers_, [](const Entry& e) { return e.lifetime.isNull(); });
    const auto snapshot = observers_;
    for (const Entry& e : snapshot)
        if (!e.lifetime.isNull()) f(e.observer);
}

void RunContext::setRun(RunDataPtr run) {
    if (!run) {
        closeRun();
        return;
    }
    if (run == run_) return;
    run_ = std::move(run);
    token_ = -1;  // selections refer to the previous run's rows
    broadcast([&](IRunObserver* o) { o->onRunLoaded(run_); });
    emit runLoaded(run_);
}

void RunContext::closeRun() {
    if (!run_) return;
    run_.reset();
    token_ = -1;
    broadcast([](IRunObserver* o) { o->onRunClosed(); });
    emit runClosed();
}

void RunContext::selectToken(int row) {
    if (run_ && row >= run_->tokenCount()) row = -1;
    if (row < -1) row = -1;
    if (row == token_) return;
    token_ = row;
    broadcast([&](IRunObserver* o) { o->onTokenSelected(row); });
    emit tokenSelected(row);
}

void RunContext::selectLayer(int layer) {
    if (layer < -1) layer = -1;
    if (layer == layer_) return;
    layer_ = layer;
    broadcast([&](IRunObserver* o) { o->onLayerSelected(layer); });
    emit layerSelected(layer);
}

void RunContext::selectExpert(int layer, int expert) {
    if (layer < 0 || expert < 0) layer = expert = -1;
    if (layer >= 0) selectLayer(layer);
    if (layer == expertLayer_ && expert == expert_) return;
    expertLayer_ = layer;
    expert_ = expert;
    broadcast([&](IRunObserver* o) { o->onExpertSelected(layer, expert); });
    emit expertSelected(layer, expert);
}

}  // namespace moescope::gui
