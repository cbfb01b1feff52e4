#pragma once
// RunContext: the one place that knows which run is open and what is selected (style.md §1E item 8,
// after RenderDoc's CaptureContext). Views register as IRunObserver (or connect to the signals) and
// never talk to each other: "click an expert anywhere -> it is selected everywhere" goes through here.
// Re-selecting the current value broadcasts nothing, so views may echo selections back safely.
#include <QObject>
#include <QPointer>
#include <vector>

#include "app/gui/run_data.h"

namespace moescope::gui {

class IRunObserver {
public:
    virtual ~IRunObserver() = default;
    virtual void onRunLoaded(const RunDataPtr&) {}
    virtual void onRunClosed() {}
    virtual void onTokenSelected(int /*row*/) {}
    virtual void onLayerSelected(int /*layer*/) {}
    virtual void onExpertSelected(int /*layer*/, int /*expert*/) {}
};

class RunContext : public QObject {
    Q_OBJECT
public:
    explicit RunContext(QObject* parent = nullptr);

    // `lifetime` is the QObject that owns the observer (usually the view itself); the observer is
    // dropped automatically when it is destroyed. A newly added observer is told the current run.
    void addObserver(IRunObserver* observer, QObject* lifetime);
    void removeObserver(IRunObserver* observer);
    int observerCount() const { return static_cast<int>(observers_.size()); }

    RunDataPtr run() const { return run_; }
    int selectedToken() const { return token_; }
    int selectedLayer() const { return layer_; }
    int selectedExpertLayer() const { return expertLayer_; }
    int selectedExpert() const { return expert_; }

public slots:
    void setRun(moescope::gui::RunDataPtr run);  // nullptr == closeRun()
    void closeRun();
    void selectToken(int row);               // -1 clears
    void selectLayer(int layer);             // -1 clears
    void selectExpert(int layer, int expert);  // (-1,-1) clears; also selects `layer`

signals:
    void runLoaded(const moescope::gui::RunDataPtr& run);
    void runClosed();
    void tokenSelected(int row);
    void layerSelected(int layer);
    void expertSelected(int layer, int expert);

private:
    struct Entry {
        IRunObserver* observer;
        QPointer<QObject> lifetime;
    };
    template <class F>
    void broadcast(F&& f);

    std::vector<Entry> observers_;
    RunDataPtr run_;
    int token_ = -1;
    int layer_ = -1;
    int expertLayer_ = -1;
    int expert_ = -1;
};

}  // namespace moescope::gui
