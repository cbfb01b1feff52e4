#pragma once
// Behaviour localisation (fTRI, methods.md §1 MoTE / §1b SteerMoE; issue 11): pick a behaviour and a
// control prompt set recorded in the database (or record JSONL files now), see the per-(layer, expert)
// frequency difference as a diverging heatmap with the top N outlined, the ranked table (frequencies,
// difference, risk ratio, q-value, counts), turn the top N into a disable preset for the live grid (and
// the per-layer matched random control beside it), and evaluate behaviour rates on held-out prompts
// with no preset / the top-N preset / the random preset using the set's detector.
// Numbers come from analysis::ftri (pure, on an AnalysisRunner worker with its own read-only database
// connection); recording and evaluation are EngineHost jobs (engine_jobs.h).
#include <QWidget>
#include <memory>
#include <mutex>
#include <optional>

#include "analysis/ftri.h"
#include "app/gui/run_context.h"

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
class FtriModel;
class HeatmapWidget;
class ViewHub;
struct EvalOutcome;
struct RecordOutcome;

class FtriView : public QWidget, public IRunObserver {
    Q_OBJECT
public:
    explicit FtriView(ViewHub* hub, QWidget* parent = nullptr);
    ~FtriView() override;

    // For tests and the screenshot tour.
    HeatmapWidget* heatmap() const { return heatmap_; }
    QTableView* table() const { return table_; }
    FtriModel* model() const { return model_; }
    QStandardItemModel* evalModel() const { return evalModel_; }
    AnalysisRunner* runner() const { return runner_; }
    const std::optional<analysis::FtriResult>& result() const { return result_; }
    QString statusText() const;
    Interventions topPreset() const;     // the shown top-N as a disable preset
    Interventions randomPreset() const;  // the matched random control
    void setRecordFiles(const QString& behaviorFile, const QString& controlFile);
    void setEvalFiles(const QString& behaviorFile, const QString& controlFile, const QString& detectorsJson);
    void setNewTokens(int recordMaxNew, int evalMaxNew);
    void setTopN(int n);

    void onExpertSelected(int layer, int expert) override;

public slots:
    void refreshSets();                                            // re-reads the DB's prompt sets
    void setSets(const QString& behavior, const QString& control);  // picks them and computes
    void compute();
    void recordNow();
    void evaluate();
    void cancelJob();
    void makePreset();
    void applyRandomPreset();

signals:
    void resultReady();                      // a ranking is shown
    void setsRefreshed(const QStringList& sets);
    void recordFinished(bool ok, const QString& message);
    void evaluationReady(bool ok, const QString& message);
    void failed(const QString& message);

private:
    struct Cache;
    void showResult(analysis::FtriResult r);
    void showEval(const EvalOutcome& o);
    void setJobRunning(const QString& what, bool running);
    void setStatus(const QString& text);
    QWidget* buildSetsRow();
    QWidget* buildRecordRow();
    QWidget* buildPresetRow();
    QWidget* buildEvalRow();

    ViewHub* hub_;
    AnalysisRunner* runner_;
    AnalysisRunner* setsRunner_;
    std::shared_ptr<Cache> cache_;
    std::optional<analysis::FtriResult> result_;
    QString pendingBehavior_, pendingControl_;

    QComboBox* behavior_ = nullptr;
    QComboBox* control_ = nullptr;
    QComboBox* tokens_ = nullptr;
    QComboBox* pooling_ = nullptr;
    QLineEdit* recBehavior_ = nullptr;
    QLineEdit* recControl_ = nullptr;
    QSpinBox* recMaxNew_ = nullptr;
    QPushButton* recordButton_ = nullptr;
    HeatmapWidget* heatmap_ = nullptr;
    QTableView* table_ = nullptr;
    FtriModel* model_ = nullptr;
    QSpinBox* topN_ = nullptr;
    QPushButton* makePreset_ = nullptr;
    QLabel* presetLabel_ = nullptr;
    QPushButton* applyRandom_ = nullptr;
    QLabel* randomLabel_ = nullptr;
    QLineEdit* evalBehavior_ = nullptr;
    QLineEdit* evalControl_ = nullptr;
    QLineEdit* detectors_ = nullptr;
    QComboBox* detector_ = nullptr;
    QSpinBox* evalMaxNew_ = nullptr;
    QPushButton* evaluateButton_ = nullptr;
    QStandardItemModel* evalModel_ = nullptr;
    QTableView* evalTable_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* cancel_ = nullptr;
    QLabel* status_ = nullptr;
    QString jobTag_;
};

}  // namespace moescope::gui
