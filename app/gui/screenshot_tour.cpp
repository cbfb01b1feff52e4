// ScreenshotTour: start page -> loading -> generating (grid live, step mode) -> finished with a marker
// -> branch -> error dialog.
#include "app/gui/screenshot_tour.h"

#include <QDir>
#include <QMessageBox>
#include <QPainter>
#include <QPushButton>
#include <QTabWidget>
#include <QTimer>
#include <cstdio>

#include "app/gui/expert_grid_model.h"
#include "app/gui/generate_panel.h"
#include "app/gui/generation_controller.h"
#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "app/gui/model_picker.h"
#include "app/gui/run_context.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/transcript_view.h"
#include "app/gui/views/view_screenshots.h"

namespace moescope::gui {

ScreenshotTour::ScreenshotTour(MainWindow* window, QString outDir, QString model, QObject* parent)
    : QObject(parent), w_(window), out_(std::move(outDir)), model_(std::move(model)) {}

void ScreenshotTour::fail(const QString& why) {
    std::fprintf(stderr, "screenshots: %s\n", qPrintable(why));
    emit done(1);
}

void ScreenshotTour::shoot(const QString& name, QWidget* overlay) {
    QPixmap pm = w_->grab();
    if (overlay) {
        // Dialogs are separate top-level windows: paint them centred over the window image.
        const QPixmap d = overlay->grab();
        QPainter p(&pm);
        p.fillRect(pm.rect(), QColor(0, 0, 0, 60));
        p.drawPixmap((pm.width() - d.width()) / 2, (pm.height() - d.height()) / 2, d);
    }
    const QString path = QDir(out_).filePath(name);
    if (!pm.save(path)) return fail("cannot write " + path);
    std::printf("saved %s\n", qPrintable(path));
}

void ScreenshotTour::shootViews(QStringList views, std::function<void()> then) {
    if (views.isEmpty()) return then();
    const QStringList spec = views.takeFirst().split(QLatin1Char('='));
    QWidget* view = w_->findChild<QWidget*>(spec.value(0));
    auto* tabs = view && view->parentWidget() ? qobject_cast<QTabWidget*>(view->parentWidget()->parentWidget()) : nullptr;
    if (!tabs) return shootViews(views, then);  // that view is not installed
    tabs->setCurrentWidget(view);
    if (auto* sub = view->findChild<QTabWidget*>(QStringLiteral("specTabs"))) sub->setCurrentIndex(3);  // co-activation
    // Shoot once every analysis runner of the view is idle (each result arrives queued on this thread).
    auto check = std::make_shared<std::function<void()>>();
    *check = [this, view, views, then, file = spec.value(1), check]() {
        for (AnalysisRunner* r : view->findChildren<AnalysisRunner*>())
            if (r->busy()) {
                connect(r, &AnalysisRunner::busyChanged, this, [check](bool busy) {
                    if (!busy) QTimer::singleShot(0, *check);
                }, Qt::SingleShotConnection);
                return;
            }
        shoot(file);
        shootViews(views, then);
    };
    QTimer::singleShot(0, this, *check);
}

void ScreenshotTour::start() {
    QDir().mkpath(out_);
    QTimer::singleShot(600000, this, [this] { fail("timed out"); });
    ModelController* models = w_->models();
    GenerationController* gen = w_->generation();
    GeneratePanel* panel = w_->generatePanel();

    // 1. Start page with the pre-load summary of the chosen model.
    connect(models, &ModelController::inspected, this, [this](const QString& path) {
        if (path != model_ || w_->models()->isLoaded() || w_->models()->isLoading()) return;
        shoot("01-start-page.png");
        w_->loadModel(w_->picker()->request());
    });
    // 2. Loading (first progress report).
    connect(models, &ModelController::loadProgress, this, [this](double f) {
        static bool once = false;
        if (once || f < 0.2) return;
        once = true;
        shoot("02-loading.png");
    });
    connect(models, &ModelController::loadFailed, this, [this](const QString&, const QString& m) {
        if (w_->models()->isLoaded()) {
            // 6. The error dialog for a bad folder (expected failure).
            QTimer::singleShot(0, this, [this] {
                shoot("06-error-dialog.png", w_->errorDialog());
                if (auto* d = w_->errorDialog()) d->close();
                runViewScreenshots(w_, [this](const QString& name) { shoot(name); }, [this] { emit done(0); });
            });
            return;
        }
        fail(m);
    });
    // 3. Loaded: a prompt, two experts off, generate in step mode.
    connect(models, &ModelController::loaded, this, [this, gen, panel] {
        panel->setPromptText(w_->models()->hasTokenizer() ? tr("Explain what a mixture of experts is.")
                                                          : QStringLiteral("1 17 42 99 7 128 200 3 64 255 12 88"));
        w_->findChild<QWidget*>("samplingPanel");
        gen->setStepping(true);
        panel->findChild<QPushButton*>("stepModeButton")->setChecked(true);
        w_->startGeneration();
    });
    connect(gen, &GenerationController::tokenGenerated, this, [this, gen](const TokenEvent& ev) {
        ++tokens_;
        if (ev.index == 6 && !shotGenerating_) {
            shotGenerating_ = true;
            ExpertGridModel* grid = w_->gridModel();
            // Turn off the two experts layer row 1 used for this token: the marker shows at token 7.
            const int row = std::min(1, grid->layerCount() - 1);
            grid->setState(row, ev.routing.experts[static_cast<size_t>(row * ev.routing.k_max)], ExpertGridModel::State::Disabled);
            QTimer::singleShot(0, this, [this, gen] {
                shoot("03-generating-live-grid.png");
                gen->setStepping(false);
                w_->generatePanel()->findChild<QPushButton*>("stepModeButton")->setChecked(false);
            });
            return;
        }
        if (gen->isStepping()) gen->stepOnce();
    });
    connect(gen, &GenerationController::finished, this, [this, gen](bool isBranch) {
        QTimer::singleShot(0, this, [this, gen, isBranch] {
            if (!isBranch) {
                // 4. Finished, with the intervention marker in the transcript.
                w_->generatePanel()->transcript()->setFocus();
                shoot("04-generated-with-marker.png");
                // 5. Branch at token 4 with three more experts off.
                ExpertGridModel* grid = w_->gridModel();
                for (int e = 0; e < std::min(3, grid->expertCount()); ++e) grid->setState(0, e, ExpertGridModel::State::Disabled);
                gen->branch(4, grid->interventions());
                return;
            }
            shoot("05-branch-side-by-side.png");
            // 7+. The analysis views on the branch (the open run) and its parent run.
            if (RunDataPtr run = w_->runContext()->run(); run && run->routing.n_moe > 1 && run->routing.n_tokens > 0)
                w_->runContext()->selectExpert(run->routing.moe_layers[1], run->routing.experts[run->routing.slot(0, 1, 0)]);
            shootViews({"viewRoutingHeatmap=view_routing_heatmap.png", "viewRunCompare=view_run_compare.png",
                        "viewSpecialization=view_specialization.png"},
                       [this] { w_->setModelPath(QDir::temp().filePath("moescope-screenshot-not-a-model")); });
        });
    });

    w_->show();
    w_->picker()->setPath(model_);
}

}  // namespace moescope::gui
