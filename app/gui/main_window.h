#pragma once
// The application shell. Owns the engine thread (EngineHost), the controllers and the RunContext, and
// wires the views together: start page (ModelPicker) -> Generate / Branches tabs in the centre, the
// live expert grid docked at the bottom, sampling on the right, load progress and tokens/s in the
// status bar. Views never talk to each other directly: selections go through the RunContext.
#include <QElapsedTimer>
#include <QMainWindow>
#include <memory>
#include <vector>

#include "app/gui/run_data.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QStackedWidget;
class QTabWidget;
class QMenu;
class QMessageBox;

namespace moescope {
struct ModelSummary;
}

namespace moescope::gui {

class BranchView;
class EngineHost;
class ExpertGridModel;
class ExpertGridPanel;
class GeneratePanel;
class GenerationController;
class ModelController;
class ModelPicker;
class RunContext;
class RunsPanel;
class SamplingPanel;
class ScmoePanel;
class ViewHub;
struct EngineState;
struct LoadRequest;
struct TokenEvent;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    QAction* openModelAction() const { return openModel_; }
    QAction* aboutAction() const { return about_; }
    QString modelPath() const { return modelPath_; }

    ModelController* models() const { return models_; }
    GenerationController* generation() const { return generation_; }
    RunContext* runContext() const { return runContext_; }
    ExpertGridModel* gridModel() const { return gridModel_; }
    ExpertGridPanel* gridPanel() const { return gridPanel_; }
    GeneratePanel* generatePanel() const { return generatePanel_; }
    SamplingPanel* samplingPanel() const { return sampling_; }
    ModelPicker* picker() const { return picker_; }
    BranchView* branchView() const { return branchView_; }
    RunsPanel* runsPanel() const { return runs_; }
    ScmoePanel* scmoePanel() const { return scmoe_; }
    QTabWidget* tabs() const { return tabs_; }
    ViewHub* viewHub() const { return hub_; }
    // The last error dialog shown (nullptr when none is open).
    QMessageBox* errorDialog() const;

public slots:
    // Command line / drag & drop: choose and load at once.
    void setModelPath(const QString& path);
    void loadModel(const moescope::gui::LoadRequest& request);
    void showAbout();
    void chooseModel();
    void showError(const QString& title, const QString& message);
    void startGeneration();
    void regenerate();

protected:
    void closeEvent(QCloseEvent* e) override;
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    void buildMenus();
    void buildStatusBar();
    void wire();
    void onLoaded(const ModelSummary& s);
    void onToken(const TokenEvent& ev);
    void showRouting(int row);
    void replayRun(const RunDataPtr& run);
    void rebuildRecentMenu();
    void updateMemoryGauge();

    EngineHost* host_;
    std::shared_ptr<EngineState> state_;
    ModelController* models_;
    GenerationController* generation_;
    RunContext* runContext_;
    ExpertGridModel* gridModel_;

    QStackedWidget* stack_;
    ModelPicker* picker_;
    QTabWidget* tabs_;
    GeneratePanel* generatePanel_;
    BranchView* branchView_;
    ExpertGridPanel* gridPanel_;
    SamplingPanel* sampling_;
    RunsPanel* runs_;
    ScmoePanel* scmoe_;
    ViewHub* hub_;

    QAction* openModel_ = nullptr;
    QAction* about_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QProgressBar* progress_;
    QLabel* phase_;
    QPushButton* cancelLoad_;
    QLabel* speed_;
    QLabel* device_;
    QString modelPath_;
    QElapsedTimer speedClock_;
    std::vector<TokenRouting> liveRouting_;  // [row] routing at that position (live run)
};

}  // namespace moescope::gui
