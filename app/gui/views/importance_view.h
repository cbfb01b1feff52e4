#pragma once
// Importance & pruning (methods.md §6 EASY-EP, §8 MC-MoE; issue 11): per-(layer, expert) importance from a
// recorded run or prompt set of the open database (frequency, gate, output, MC-MoE; analysis/importance.h
// expert_importance on an AnalysisRunner worker with its own read-only connection) as a heatmap (share of
// the layer's score, kept experts outlined) and a per-layer ranked table; a keep-N control (experts kept
// per layer) with a chart of the importance and routing mass the kept experts carry per layer
// (analysis::kept_fraction); "Export pruned model…" writes the pruned checkpoint with the code
// `moescope-cli prune` uses (engine/model/prune.h) as an EngineHost job, then offers to open it.
// EASY-EP needs the per-token contribution s_t from an engine calibration pass that recordings do not
// hold, so it is listed but disabled.
#include <QWidget>
#include <memory>
#include <mutex>
#include <optional>

#include "analysis/importance.h"
#include "app/gui/run_context.h"

class QChartView;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSlider;
class QTableView;

namespace moescope::gui {

class AnalysisRunner;
class HeatmapWidget;
class ImportanceModel;
class ViewHub;

class ImportanceView : public QWidget, public IRunObserver {
    Q_OBJECT
public:
    explicit ImportanceView(ViewHub* hub, QWidget* parent = nullptr);
    ~ImportanceView() override;

    HeatmapWidget* heatmap() const { return heatmap_; }
    QTableView* table() const { return table_; }
    ImportanceModel* model() const { return model_; }
    QChartView* coverageChart() const { return coverageChart_; }
    AnalysisRunner* runner() const { return runner_; }
    const std::optional<analysis::ImportanceResult>& result() const { return result_; }
    const std::vector<double>& coverage() const { return coverage_; }         // importance mass kept, per MoE layer
    const std::vector<double>& routingCoverage() const { return routingCoverage_; }  // routing (frequency) mass kept
    QString statusText() const;
    QStringList sources() const;  // the picker's entries ("run:ID" / "set:NAME")
    int keep() const;
    bool openOffered() const;
    QString exportedPath() const { return exportedPath_; }

    void onRunLoaded(const RunDataPtr& run) override;
    void onExpertSelected(int layer, int expert) override;

public slots:
    void refreshSources();
    void setRun(qint64 runId);
    void setPromptSet(const QString& name);
    void setMethod(analysis::ImportanceMethod m);
    void setKeep(int n);
    void compute();
    void exportPrunedModel(const QString& outDir);  // "" = ask with a folder dialog
    void openExported();
    void cancelJob();

signals:
    void resultReady();
    void sourcesRefreshed();
    void pruneFinished(bool ok, const QString& message);
    void failed(const QString& message);

private:
    struct Cache;
    void showResult(analysis::ImportanceResult r);
    void selectSource(const QString& key);
    void setJobRunning(bool running);

    ViewHub* hub_;
    AnalysisRunner* runner_;
    AnalysisRunner* sourcesRunner_;
    std::shared_ptr<Cache> cache_;
    std::optional<analysis::ImportanceResult> result_;
    std::vector<double> coverage_, routingCoverage_;
    QString pendingSource_;
    QString exportedPath_;
    QString jobTag_;

    QComboBox* source_ = nullptr;
    QComboBox* method_ = nullptr;
    QSlider* keepSlider_ = nullptr;
    QLabel* keepLabel_ = nullptr;
    HeatmapWidget* heatmap_ = nullptr;
    QTableView* table_ = nullptr;
    ImportanceModel* model_ = nullptr;
    QChartView* coverageChart_ = nullptr;
    QPushButton* export_ = nullptr;
    QPushButton* open_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* cancel_ = nullptr;
    QLabel* status_ = nullptr;
};

}  // namespace moescope::gui
