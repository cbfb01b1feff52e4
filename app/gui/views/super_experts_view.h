#pragma once
// Super experts & sinks (methods.md §3 Su et al., §9.2 Gu et al., §9.3 Sun et al.; issue 11) for one
// recorded run:
//   - heatmap of a[L,E] = max |down_proj output| per (layer, expert), detected super experts outlined;
//   - the sorted a values with the two threshold lines (P99.5 and max/10) and the super experts marked;
//   - per layer: the largest |hidden state| with its channel (massive activations) and the first-token
//     attention mass (sinks; per layer until per-head sink mass is recorded);
//   - "Prune what-if": next-token distributions / perplexity with the super experts disabled vs a random
//     matched set of the same size (engine thread, progress, cancel).
// Needs a run recorded at capture level activations; the view says so and offers "Record with
// activations" (the same recording code as `moescope-cli record --capture activations`).
#include <QWidget>
#include <optional>

#include "analysis/sinks.h"
#include "analysis/super_experts.h"
#include "app/gui/run_context.h"

class QChartView;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStandardItemModel;
class QTableView;

namespace moescope::gui {

class AnalysisRunner;
class HeatmapWidget;
class ViewHub;
struct WhatIfOutcome;

class SuperExpertsView : public QWidget, public IRunObserver {
    Q_OBJECT
public:
    struct Data {
        qint64 runId = 0;
        QString capture;
        bool hasActivations = false, hasLayerStats = false;
        std::optional<analysis::SuperExpertResult> experts;
        std::optional<analysis::MassiveResult> massive;
        std::optional<analysis::RecordedSinkResult> sinks;
        std::vector<double> layerMax;     // [n_layers] largest |h| over the run's tokens
        std::vector<int> layerChannel;    // [n_layers] its channel
        QString note;
    };

    explicit SuperExpertsView(ViewHub* hub, QWidget* parent = nullptr);
    ~SuperExpertsView() override;

    HeatmapWidget* heatmap() const { return heatmap_; }
    QChartView* thresholdChart() const { return thresholdChart_; }
    QChartView* layerChart() const { return layerChart_; }
    HeatmapWidget* headHeatmap() const { return headHeatmap_; }  // layers x heads first-token mass
    QStandardItemModel* superModel() const { return superModel_; }
    QStandardItemModel* layerModel() const { return layerModel_; }
    QStandardItemModel* whatIfModel() const { return whatIfModel_; }
    QTableView* superTable() const { return superTable_; }
    AnalysisRunner* runner() const { return runner_; }
    const std::optional<Data>& data() const { return data_; }
    QString noticeText() const;
    bool recordOffered() const;
    void setRecordFile(const QString& file, int maxNew);
    void setWhatIfFile(const QString& file, int maxPrompts);

    void onExpertSelected(int layer, int expert) override;

public slots:
    void refreshRuns();
    void setRun(qint64 runId);
    void compute();
    void recordNow();
    void runWhatIf();
    void cancelJob();

signals:
    void resultReady();
    void runsRefreshed();
    void recordFinished(bool ok, const QString& message);
    void whatIfReady(bool ok, const QString& message);
    void failed(const QString& message);

private:
    void showData(Data d);
    void showWhatIf(const WhatIfOutcome& o);
    void setJobRunning(const QString& tag, bool running);

    ViewHub* hub_;
    AnalysisRunner* runner_;
    AnalysisRunner* runsRunner_;
    std::optional<Data> data_;
    qint64 pendingRun_ = -1;
    QString jobTag_;

    QComboBox* runs_ = nullptr;
    QLabel* notice_ = nullptr;
    QLineEdit* recFile_ = nullptr;
    QSpinBox* recMaxNew_ = nullptr;
    QPushButton* record_ = nullptr;
    HeatmapWidget* heatmap_ = nullptr;
    HeatmapWidget* headHeatmap_ = nullptr;
    QChartView* thresholdChart_ = nullptr;
    QChartView* layerChart_ = nullptr;
    QStandardItemModel* superModel_ = nullptr;
    QStandardItemModel* layerModel_ = nullptr;
    QTableView* superTable_ = nullptr;
    QLineEdit* whatIfFile_ = nullptr;
    QSpinBox* whatIfPrompts_ = nullptr;
    QComboBox* whatIfMode_ = nullptr;
    QPushButton* whatIf_ = nullptr;
    QStandardItemModel* whatIfModel_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* cancel_ = nullptr;
    QLabel* status_ = nullptr;
};

}  // namespace moescope::gui
