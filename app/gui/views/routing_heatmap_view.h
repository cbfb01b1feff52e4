#pragma once
// Routing heatmap view (issue 11): for one run (the RunContext's, or one picked from the database)
//   - tokens x MoE layers, cell = the top-1 expert (Categorical colour by expert id) or its gate weight
//     (Sequential), all k experts with weights and the token text in the tooltip;
//   - MoE layers x experts load (analysis::expert_load) for that run or for a prompt set of the database;
//   - drill-down: a load cell lists the tokens that chose that expert, with context (CSV export).
// Selection: a load cell selects (layer, expert) in the RunContext; a token cell or drill-down row of
// the open run selects the token. Everything is computed in AnalysisRunner workers on the view's own
// read-only database connection.
#include <QPointer>
#include <QStringList>
#include <QWidget>
#include <memory>

#include "analysis/specialization.h"
#include "app/gui/run_context.h"

class QComboBox;
class QCheckBox;
class QLabel;
class QTableView;

namespace moescope::gui {

class AnalysisRunner;
class ExportBar;
class HeatmapWidget;
class RoutingDrillModel;
class ViewHub;

// What the view shows, computed off the UI thread.
struct RoutingHeatmapResult {
    RunDataPtr run;                          // the run of the token heatmap (may be null: load only)
    std::shared_ptr<const RoutingArrays> loadArrays;  // rows the load was computed from
    QStringList loadTexts;                   // token texts of loadArrays rows
    QString loadLabel;                       // "run 3" | "prompt set code"
    bool loadIsRun = true;                   // loadArrays rows are the run's rows
    analysis::LoadResult load;
    std::vector<float> topExpert;            // [tokens * n_moe] top-1 expert id (NaN: none)
    std::vector<float> topWeight;            // [tokens * n_moe] its gate weight (NaN: none)
};

class RoutingHeatmapView : public QWidget, public IRunObserver {
    Q_OBJECT
public:
    explicit RoutingHeatmapView(ViewHub* hub, QWidget* parent = nullptr);
    ~RoutingHeatmapView() override;

    // -1 = the RunContext's run; else a run id of the open database.
    void setRunChoice(qint64 runId);
    // "" = the load of the shown run; else a prompt set name of the open database.
    void setLoadSet(const QString& set);
    void setColorByWeight(bool byWeight);
    void refreshCatalog();  // re-lists runs and prompt sets of the database
    // Lists the tokens that chose `expert` at MoE slot `slot` of the load matrix.
    void drillDown(int slot, int expert);

    HeatmapWidget* tokenMap() const { return tokenMap_; }
    HeatmapWidget* loadMap() const { return loadMap_; }
    RoutingDrillModel* drillModel() const { return drill_; }
    QTableView* drillTable() const { return drillTable_; }
    QComboBox* runCombo() const { return runCombo_; }
    QComboBox* loadCombo() const { return loadCombo_; }
    AnalysisRunner* runner() const { return runner_; }
    const RoutingHeatmapResult* result() const { return shown_.get(); }

    // IRunObserver
    void onRunLoaded(const RunDataPtr& run) override;
    void onRunClosed() override;
    void onTokenSelected(int row) override;
    void onExpertSelected(int layer, int expert) override;

signals:
    void resultReady();   // a result is on screen
    void drillReady();    // the drill-down table was filled
    void catalogReady();  // run and prompt-set pickers were refreshed
    void failed(const QString& message);

private:
    void recompute();
    void showResult(RoutingHeatmapResult&& r);
    void showTokenColours();
    bool showsContextRun() const;
    int slotOfLayer(int layer) const;

    ViewHub* hub_;
    AnalysisRunner* runner_;
    AnalysisRunner* drillRunner_;
    AnalysisRunner* catalogRunner_;
    QComboBox* runCombo_;
    QComboBox* loadCombo_;
    QCheckBox* byWeight_;
    QLabel* status_;
    HeatmapWidget* tokenMap_;
    HeatmapWidget* loadMap_;
    QLabel* drillTitle_;
    QTableView* drillTable_;
    RoutingDrillModel* drill_;
    ExportBar* tokenExport_;
    ExportBar* loadExport_;
    ExportBar* drillExport_;
    qint64 runChoice_ = -1;
    QString loadSet_;
    std::shared_ptr<const RoutingHeatmapResult> shown_;
};

}  // namespace moescope::gui
