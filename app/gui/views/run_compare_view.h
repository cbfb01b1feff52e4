#pragma once
// Run comparison view (issue 11): two runs (or the two sides of a branch) side by side.
//   - token diff aligned by position, differing tokens highlighted;
//   - per-layer routing diff over the positions where both runs read the same tokens (their common
//     prefix): share of tokens whose expert sets differ, Jaccard, top-1 agreement
//     (analysis::router_saturation), as a chart and a table (CSV; chart PNG/SVG);
//   - both runs' intervention timelines.
// Run A defaults to the RunContext's run, run B to the newest other run of the database.
#include <QStringList>
#include <QWidget>
#include <memory>

#include "analysis/router_stats.h"
#include "app/gui/run_context.h"

class QComboBox;
class QLabel;
class QListWidget;
class QTableView;
class QChartView;

namespace moescope::gui {

class AnalysisRunner;
class LayerDiffModel;
class TokenDiffModel;
class ViewHub;

struct RunCompareResult {
    RunDataPtr a, b;
    int commonPrefix = 0;  // positions [0, commonPrefix) hold identical token ids in both runs
    bool hasDiff = false;  // false when the runs share no token or differ in layout
    QString note;          // why there is no routing diff
    analysis::SaturationResult diff;
};

// The first `rows` token rows of `a` (routing and ids; optional captures dropped).
RoutingArrays firstRows(const RoutingArrays& a, int64_t rows);
// Positions at the start where both runs have the same token id.
int64_t commonTokenPrefix(const RoutingArrays& a, const RoutingArrays& b);

class RunCompareView : public QWidget, public IRunObserver {
    Q_OBJECT
public:
    explicit RunCompareView(ViewHub* hub, QWidget* parent = nullptr);
    ~RunCompareView() override;

    // -1 = the RunContext's run (A only); else run ids of the open database.
    void setRuns(qint64 a, qint64 b);
    void refreshCatalog();

    TokenDiffModel* tokenModel() const { return tokens_; }
    LayerDiffModel* layerModel() const { return layers_; }
    QTableView* tokenTable() const { return tokenTable_; }
    QChartView* chart() const { return chart_; }
    QListWidget* timelineA() const { return timelineA_; }
    QListWidget* timelineB() const { return timelineB_; }
    QComboBox* comboA() const { return comboA_; }
    QComboBox* comboB() const { return comboB_; }
    AnalysisRunner* runner() const { return runner_; }
    const RunCompareResult* result() const { return shown_.get(); }

    void onRunLoaded(const RunDataPtr& run) override;
    void onRunClosed() override;
    void onTokenSelected(int row) override;

signals:
    void resultReady();
    void catalogReady();
    void failed(const QString& message);

private:
    void recompute();
    void showResult(RunCompareResult&& r);
    void fillChart();

    ViewHub* hub_;
    AnalysisRunner* runner_;
    AnalysisRunner* catalogRunner_;
    QComboBox* comboA_;
    QComboBox* comboB_;
    QLabel* status_;
    QLabel* summary_;
    QTableView* tokenTable_;
    QTableView* layerTable_;
    QChartView* chart_;
    QListWidget* timelineA_;
    QListWidget* timelineB_;
    TokenDiffModel* tokens_;
    LayerDiffModel* layers_;
    qint64 runA_ = -1, runB_ = -1;
    bool userPickedB_ = false;
    std::shared_ptr<const RunCompareResult> shown_;
};

}  // namespace moescope::gui
