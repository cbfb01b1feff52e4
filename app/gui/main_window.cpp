// MainWindow: frame, menus, docks, status bar and the wiring between controllers and views.
#include "app/gui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>
#include <unistd.h>

#include "app/gui/about_dialog.h"
#include "app/gui/branch_view.h"
#include "app/gui/chat_prompt.h"
#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "app/gui/expert_grid_model.h"
#include "app/gui/expert_grid_panel.h"
#include "app/gui/expert_grid_view.h"
#include "app/gui/expert_preset.h"
#include "app/gui/generate_panel.h"
#include "app/gui/generation_controller.h"
#include "app/gui/model_controller.h"
#include "app/gui/model_picker.h"
#include "app/gui/run_context.h"
#include "app/gui/run_store.h"
#include "app/gui/runs_panel.h"
#include "app/gui/sampling_panel.h"
#include "app/gui/scmoe_panel.h"
#include "app/gui/transcript_view.h"
#include "app/gui/views/analysis_views.h"
#include "app/gui/views/view_hub.h"

namespace moescope::gui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("moescope"));
    setObjectName("mainWindow");
    setAcceptDrops(true);
    resize(1280, 860);

    host_ = new EngineHost(this);
    state_ = std::make_shared<EngineState>();
    models_ = new ModelController(host_, state_, this);
    generation_ = new GenerationController(host_, state_, this);
    runContext_ = new RunContext(this);
    gridModel_ = new ExpertGridModel(this);

    stack_ = new QStackedWidget(this);
    picker_ = new ModelPicker(models_, stack_);
    tabs_ = new QTabWidget(stack_);
    tabs_->setObjectName("mainTabs");
    generatePanel_ = new GeneratePanel(tabs_);
    branchView_ = new BranchView(tabs_);
    tabs_->addTab(generatePanel_, tr("Generate"));
    tabs_->addTab(branchView_, tr("Branches"));
    stack_->addWidget(picker_);
    stack_->addWidget(tabs_);
    setCentralWidget(stack_);

    auto* gridDock = new QDockWidget(tr("Experts"), this);
    gridDock->setObjectName("expertsDock");
    gridPanel_ = new ExpertGridPanel(gridModel_, gridDock);
    gridDock->setWidget(gridPanel_);
    addDockWidget(Qt::BottomDockWidgetArea, gridDock);
    auto* samplingDock = new QDockWidget(tr("Sampling"), this);
    samplingDock->setObjectName("samplingDock");
    sampling_ = new SamplingPanel(samplingDock);
    samplingDock->setWidget(sampling_);
    addDockWidget(Qt::RightDockWidgetArea, samplingDock);
    auto* runsDock = new QDockWidget(tr("Runs"), this);
    runsDock->setObjectName("runsDock");
    runs_ = new RunsPanel(host_, state_, runsDock);
    runsDock->setWidget(runs_);
    addDockWidget(Qt::RightDockWidgetArea, runsDock);
    tabifyDockWidget(samplingDock, runsDock);
    auto* scmoeDock = new QDockWidget(tr("SCMoE"), this);
    scmoeDock->setObjectName("scmoeDock");
    scmoe_ = new ScmoePanel(scmoeDock);
    scmoeDock->setWidget(scmoe_);
    addDockWidget(Qt::RightDockWidgetArea, scmoeDock);
    tabifyDockWidget(runsDock, scmoeDock);
    samplingDock->raise();

    // Analysis views (issue 11): tabs beside Generate/Branches, fed through the ViewHub.
    hub_ = new ViewHub(this);
    hub_->context = runContext_;
    hub_->host = host_;
    hub_->state = state_;
    hub_->databasePath = [this] { return runs_->databasePath(); };
    hub_->modelPath = [this] { return models_->isLoaded() ? modelPath_ : QString(); };
    hub_->applyPreset = [this](const QString& name, const Interventions& iv) {
        gridModel_->setInterventions(iv);
        tabs_->setCurrentWidget(generatePanel_);
        statusBar()->showMessage(tr("Preset \"%1\" applied to the expert grid").arg(name), 5000);
    };
    hub_->openModel = [this](const QString& path) { setModelPath(path); };
    installAnalysisViews(tabs_, hub_);

    buildMenus();
    auto* view = menuBar()->addMenu(tr("&View"));
    view->addAction(gridDock->toggleViewAction());
    view->addAction(samplingDock->toggleViewAction());
    view->addAction(runsDock->toggleViewAction());
    view->addAction(scmoeDock->toggleViewAction());
    auto* help = menuBar()->addMenu(tr("&Help"));
    about_ = help->addAction(tr("&About moescope"), this, &MainWindow::showAbout);
    about_->setObjectName("actionAbout");
    buildStatusBar();
    wire();

    // Every generation is recorded into the per-user database unless another one is opened.
    runs_->openDatabase(defaultDatabasePath());

    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
    auto* file = menuBar()->addMenu(tr("&File"));
    openModel_ = file->addAction(tr("&Open Model…"), this, &MainWindow::chooseModel);
    openModel_->setShortcut(QKeySequence::Open);
    openModel_->setObjectName("actionOpenModel");
    recentMenu_ = file->addMenu(tr("Recent &Models"));
    rebuildRecentMenu();
    file->addSeparator();
    auto* newDb = file->addAction(tr("&New Database…"), this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("New activation database"), QStringLiteral("activations.moescope.db"),
                                                       tr("moescope databases (*.db)"));
        if (!p.isEmpty()) runs_->openDatabase(p);
    });
    newDb->setObjectName("actionNewDatabase");
    auto* openDb = file->addAction(tr("Open &Database…"), this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open activation database"), {}, tr("moescope databases (*.db);;All files (*)"));
        if (!p.isEmpty()) runs_->openDatabase(p);
    });
    openDb->setObjectName("actionOpenDatabase");
    file->addSeparator();
    auto* loadPreset = file->addAction(tr("Load Expert &Preset…"), gridPanel_, &ExpertGridPanel::chooseAndLoadPreset);
    loadPreset->setObjectName("actionLoadPreset");
    file->addAction(tr("&Save Expert Preset…"), gridPanel_, &ExpertGridPanel::chooseAndSavePreset);
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows);
    quit->setShortcut(QKeySequence::Quit);
}

void MainWindow::buildStatusBar() {
    progress_ = new QProgressBar(this);
    progress_->setObjectName("loadProgress");
    progress_->setRange(0, 1000);
    progress_->setMaximumWidth(220);
    phase_ = new QLabel(this);
    phase_->setObjectName("loadPhase");
    cancelLoad_ = new QPushButton(tr("Cancel"), this);
    cancelLoad_->setObjectName("cancelLoad");
    connect(cancelLoad_, &QPushButton::clicked, models_, &ModelController::cancelLoad);
    statusBar()->addWidget(phase_);
    statusBar()->addWidget(progress_);
    statusBar()->addWidget(cancelLoad_);
    speed_ = new QLabel(this);
    speed_->setObjectName("tokensPerSecond");
    device_ = new QLabel(tr("no model"), this);
    device_->setObjectName("deviceGauge");
    statusBar()->addPermanentWidget(speed_);
    statusBar()->addPermanentWidget(device_);
    progress_->hide();
    cancelLoad_->hide();
}

void MainWindow::wire() {
    // ---- model ----
    connect(picker_, &ModelPicker::loadRequested, this, &MainWindow::loadModel);
    connect(models_, &ModelController::loadStarted, this, [this](const QString& path) {
        progress_->setValue(0);
        progress_->show();
        cancelLoad_->show();
        phase_->setText(tr("Loading %1…").arg(path));
    });
    connect(models_, &ModelController::loadProgress, this, [this](double f, const QString& phase) {
        progress_->setValue(static_cast<int>(f * 1000));
        phase_->setText(phase);
    });
    auto endLoad = [this] {
        progress_->hide();
        cancelLoad_->hide();
    };
    connect(models_, &ModelController::loaded, this, [this, endLoad](const ModelSummary& s) {
        endLoad();
        onLoaded(s);
    });
    connect(models_, &ModelController::loadFailed, this, [this, endLoad](const QString& path, const QString& msg) {
        endLoad();
        phase_->setText(tr("Could not open %1").arg(path));
        showError(tr("Cannot open model"), msg);
    });
    connect(models_, &ModelController::loadCancelled, this, [this, endLoad](const QString& path) {
        endLoad();
        phase_->setText(tr("Loading %1 cancelled").arg(path));
    });

    // ---- generation ----
    connect(generatePanel_, &GeneratePanel::generateRequested, this, &MainWindow::startGeneration);
    connect(generatePanel_, &GeneratePanel::regenerateRequested, this, &MainWindow::regenerate);
    connect(generatePanel_, &GeneratePanel::stopRequested, generation_, &GenerationController::stop);
    connect(generatePanel_, &GeneratePanel::stepModeToggled, generation_, &GenerationController::setStepping);
    connect(generatePanel_, &GeneratePanel::stepRequested, generation_, &GenerationController::stepOnce);
    connect(generation_, &GenerationController::runningChanged, generatePanel_, &GeneratePanel::setRunning);
    connect(generation_, &GenerationController::started, this,
            [this](bool isBranch, int nPrompt, const QStringList& pieces, const std::vector<TokenRouting>& routing) {
                if (isBranch) return;  // a branch streams into the Branches tab when done
                generatePanel_->transcript()->setPrompt(pieces, nPrompt);
                scmoe_->clear();
                gridModel_->resetUsage();
                liveRouting_ = routing;
                for (const TokenRouting& r : routing) gridModel_->addObservedToken(r);
                tabs_->setCurrentWidget(generatePanel_);
            });
    connect(generation_, &GenerationController::tokenGenerated, this, &MainWindow::onToken);
    connect(generation_, &GenerationController::interventionMarker, this, [this](int, const QString& text) {
        generatePanel_->transcript()->addMarker(text);
    });
    connect(generation_, &GenerationController::interventionRejected, this,
            [this](const QString& msg) { showError(tr("Intervention not applied"), msg); });
    connect(generation_, &GenerationController::failed, this,
            [this](const QString& msg) { showError(tr("Generation failed"), msg); });
    connect(generation_, &GenerationController::finished, this,
            [this](bool isBranch, const RunDataPtr& run, const QString& reason) {
                if (isBranch) {
                    const RunDataPtr original = generation_->lastRun();
                    branchView_->setRuns(original, run, generation_->lastBranchAt(), gridPanel_->summaryText());
                    tabs_->setCurrentWidget(branchView_);
                    statusBar()->showMessage(tr("Branch finished (%1)").arg(reason), 5000);
                    return;
                }
                generatePanel_->transcript()->addNote(reason);
                generatePanel_->transcript()->flush();
                runContext_->setRun(run);
                runs_->refresh();
                statusBar()->showMessage(tr("Generation finished: %1").arg(reason), 5000);
                updateMemoryGauge();
            });
    connect(generatePanel_->transcript(), &TranscriptView::branchRequested, this, [this](int index) {
        generation_->branch(index, gridModel_->interventions());
    });

    connect(generation_, &GenerationController::warning, this, [this](const QString& m) { statusBar()->showMessage(m, 10000); });

    // ---- runs ----
    connect(runs_, &RunsPanel::databaseFailed, this,
            [this](const QString& m) { statusBar()->showMessage(tr("Not recording: %1").arg(m), 10000); });
    connect(runs_, &RunsPanel::failed, this, [this](const QString& m) { showError(tr("Runs"), m); });
    connect(runs_, &RunsPanel::runOpened, this, &MainWindow::replayRun);
    connect(runs_, &RunsPanel::databaseOpened, hub_, &ViewHub::databaseChanged);
    connect(runs_, &RunsPanel::runsListed, hub_, [this](int) { emit hub_->runsChanged(); });
    connect(hub_, &ViewHub::runsRecorded, runs_, &RunsPanel::refresh);
    connect(models_, &ModelController::loaded, hub_, [this](const ModelSummary& s) { emit hub_->modelChanged(QString::fromStdString(s.path)); });
    connect(runs_, &RunsPanel::exported, this, [this](const QString& p) { statusBar()->showMessage(tr("Exported %1").arg(p), 5000); });

    // ---- grid <-> engine and selection ----
    connect(gridModel_, &ExpertGridModel::interventionsChanged, this,
            [this] { generation_->setLiveInterventions(gridModel_->interventions()); });
    connect(gridPanel_, &ExpertGridPanel::presetError, this, [this](const QString& m) { showError(tr("Preset"), m); });
    connect(generatePanel_->transcript(), &TranscriptView::tokenHovered, this, &MainWindow::showRouting);
    connect(generatePanel_->transcript(), &TranscriptView::tokenClicked, runContext_, &RunContext::selectToken);
    connect(gridPanel_->view(), &ExpertGridView::cellClicked, this,
            [this](int row, int col) { runContext_->selectExpert(gridModel_->layerOfRow(row), col); });
    connect(runContext_, &RunContext::expertSelected, this, [this](int layer, int expert) {
        gridPanel_->view()->setSelectedCell(gridModel_->rowOfLayer(layer), expert);
    });
}

void MainWindow::loadModel(const LoadRequest& request) {
    if (request.path.isEmpty()) return;
    generation_->stop();
    models_->load(request);
}

void MainWindow::setModelPath(const QString& path) {
    picker_->setPath(path);
    LoadRequest r = picker_->request();
    r.path = path;
    loadModel(r);
}

void MainWindow::onLoaded(const ModelSummary& s) {
    modelPath_ = QString::fromStdString(s.path);
    const QString requested = models_->lastRequest().path;
    ModelPicker::rememberModel(requested);
    rebuildRecentMenu();
    picker_->refreshRecent();
    gridModel_->setShape(s.moe_layers, s.n_experts, s.top_k);
    generation_->setLiveInterventions(gridModel_->interventions());
    sampling_->setModelDefaults(s.generation);
    generatePanel_->setTokenizerAvailable(models_->hasTokenizer(), models_->chatFormat());
    generatePanel_->transcript()->clearTranscript();
    liveRouting_.clear();
    runContext_->closeRun();
    stack_->setCurrentWidget(tabs_);
    setWindowTitle(QStringLiteral("moescope — %1").arg(QFileInfo(modelPath_).fileName()));
    phase_->setText(architectureBadge(s));
    updateMemoryGauge();
}

void MainWindow::startGeneration() {
    if (!models_->isLoaded() || generation_->isRunning()) return;
    GenerationRequest r;
    r.prompt = generatePanel_->promptText();
    r.chat = generatePanel_->chatMode();
    r.systemPrompt = generatePanel_->systemPrompt();
    r.sampling = sampling_->params();
    r.maxTokens = sampling_->maxTokens();
    r.interventions = gridModel_->interventions();
    r.scmoe = sampling_->scmoe();
    speed_->clear();
    generation_->start(r);
}

void MainWindow::regenerate() {
    if (!models_->isLoaded() || generation_->isRunning()) return;
    if (generation_->lastRequest().prompt.isEmpty()) return startGeneration();
    GenerationRequest r = generation_->lastRequest();
    r.sampling = sampling_->params();
    r.maxTokens = sampling_->maxTokens();
    r.interventions = gridModel_->interventions();
    r.scmoe = sampling_->scmoe();
    generation_->start(r);
}

void MainWindow::onToken(const TokenEvent& ev) {
    generatePanel_->transcript()->appendToken(ev.row, ev.piece);
    if (ev.scmoe) scmoe_->addToken(ev.row, ev.piece, *ev.scmoe);
    if (!ev.routing.empty()) {
        const int r = ev.row - 1;
        if (static_cast<int>(liveRouting_.size()) <= r) liveRouting_.resize(static_cast<size_t>(r) + 1);
        liveRouting_[static_cast<size_t>(r)] = ev.routing;
        gridModel_->addObservedToken(ev.routing);
        gridModel_->setCurrentToken(ev.routing);
    }
    // The label re-lays out the status bar: a few updates a second are plenty.
    if (!speedClock_.isValid() || speedClock_.elapsed() > 250 || ev.index == 0) {
        speed_->setText(tr("%1 tok/s").arg(ev.tokensPerSecond, 0, 'f', 1));
        speedClock_.restart();
    }
}

void MainWindow::showRouting(int row) {
    if (row >= 0 && row < static_cast<int>(liveRouting_.size())) gridModel_->setCurrentToken(liveRouting_[static_cast<size_t>(row)]);
    if (row >= 0) scmoe_->showRow(row);
}

void MainWindow::replayRun(const RunDataPtr& run) {
    // Replay: the recorded transcript with its markers, and every row's routing for the grid.
    TranscriptView* t = generatePanel_->transcript();
    t->setPrompt(run->tokenText.mid(0, run->promptTokens), run->promptTokens);
    size_t marker = 0;
    for (int r = run->promptTokens; r < run->tokenCount(); ++r) {
        while (marker < run->timeline.size() && run->timeline[marker].fromToken + 1 == r) t->addMarker(run->timeline[marker++].text);
        t->appendToken(r, run->tokenText[r]);
    }
    t->addNote(tr("replayed run %1").arg(run->runId));
    t->flush();
    const RoutingArrays& a = run->routing;
    liveRouting_.clear();
    if (a.n_moe == gridModel_->layerCount()) {
        gridModel_->resetUsage();
        for (int64_t r = 0; r < a.n_tokens; ++r) {
            TokenRouting tr;
            tr.k_max = a.k_max;
            for (int m = 0; m < a.n_moe; ++m)
                for (int j = 0; j < a.k_max; ++j) {
                    tr.experts.push_back(a.experts[a.slot(r, m, j)]);
                    tr.weights.push_back(a.weights.empty() ? 0.0f : a.weights[a.slot(r, m, j)]);
                }
            gridModel_->addObservedToken(tr);
            liveRouting_.push_back(std::move(tr));
        }
    }
    if (stack_->currentWidget() != tabs_) stack_->setCurrentWidget(tabs_);
    tabs_->setCurrentWidget(generatePanel_);
    runContext_->setRun(run);
}

void MainWindow::updateMemoryGauge() {
    if (!models_->isLoaded()) return;
    long pages = 0, resident = 0;
    if (QFile f(QStringLiteral("/proc/self/statm")); f.open(QIODevice::ReadOnly)) {
        const QList<QByteArray> parts = f.readAll().split(' ');
        if (parts.size() > 1) {
            pages = parts[0].toLong();
            resident = parts[1].toLong();
        }
    }
    (void)pages;
    const quint64 rss = static_cast<quint64>(resident) * static_cast<quint64>(sysconf(_SC_PAGESIZE));
    const ModelSummary& s = models_->summary();
    device_->setText(tr("%1 · weights %2 · RSS %3")
                         .arg(models_->lastRequest().device == QLatin1String("cpu") ? QStringLiteral("CPU")
                                                                                 : QStringLiteral("CUDA ") + models_->lastRequest().precision.toUpper(),
                              bytesText(s.weight_bytes), bytesText(rss)));
}

QMessageBox* MainWindow::errorDialog() const { return findChild<QMessageBox*>(QStringLiteral("errorDialog")); }

void MainWindow::showError(const QString& title, const QString& message) {
    // Window-modal and non-blocking: the event loop (and the engine's results) keep flowing.
    if (QMessageBox* old = errorDialog()) old->deleteLater(), old->setObjectName(QString());
    auto* box = new QMessageBox(QMessageBox::Critical, title, message, QMessageBox::Ok, this);
    box->setObjectName("errorDialog");
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::chooseModel() {
    QDialog dialog(this);
    dialog.setWindowTitle(tr("Open Model"));
    auto* layout = new QVBoxLayout(&dialog);
    auto* picker = new ModelPicker(models_, &dialog);
    layout->addWidget(picker);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, &dialog);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    layout->addWidget(buttons);
    LoadRequest chosen;
    connect(picker, &ModelPicker::loadRequested, &dialog, [&](const LoadRequest& r) {
        chosen = r;
        dialog.accept();
    });
    if (dialog.exec() == QDialog::Accepted) loadModel(chosen);
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    for (const QString& p : ModelPicker::recentModels())
        recentMenu_->addAction(p, this, [this, p] { setModelPath(p); });
    recentMenu_->setEnabled(!recentMenu_->isEmpty());
}

void MainWindow::showAbout() {
    AboutDialog dialog(this);
    dialog.exec();
}

void MainWindow::closeEvent(QCloseEvent* e) {
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    generation_->stop();
    QMainWindow::closeEvent(e);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
    const auto urls = e->mimeData()->urls();
    if (urls.size() == 1 && urls.first().isLocalFile() && QFileInfo(urls.first().toLocalFile()).isDir())
        e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
    const auto urls = e->mimeData()->urls();
    if (urls.isEmpty()) return;
    setModelPath(urls.first().toLocalFile());
    e->acceptProposedAction();
}

}  // namespace moescope::gui
