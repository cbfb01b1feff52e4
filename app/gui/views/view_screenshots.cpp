#include "app/gui/views/view_screenshots.h"

#include <QPointer>
#include <QTabWidget>
#include <QTimer>
#include <memory>
#include <vector>

#include "app/gui/views/ftri_view.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/importance_view.h"
#include "app/gui/views/super_experts_view.h"

namespace moescope::gui {

namespace {

// Makes `view` the current tab of the QTabWidget holding it.
void bringToFront(QWidget* view) {
    for (QWidget* p = view ? view->parentWidget() : nullptr; p; p = p->parentWidget())
        if (auto* tabs = qobject_cast<QTabWidget*>(p)) {
            tabs->setCurrentWidget(view);
            return;
        }
}

using Step = std::function<void(std::function<void()> next)>;

void runSteps(std::shared_ptr<std::vector<Step>> steps, size_t i, std::function<void()> finished) {
    if (i >= steps->size()) {
        finished();
        return;
    }
    (*steps)[i]([steps, i, finished] { QTimer::singleShot(0, [steps, i, finished] { runSteps(steps, i + 1, finished); }); });
}

}  // namespace

void runViewScreenshots(QWidget* window, std::function<void(const QString&)> shoot, std::function<void()> finished) {
    auto steps = std::make_shared<std::vector<Step>>();
    // fTRI: record the bundled discovery sets, rank, evaluate on the held-out sets, shoot.
    steps->push_back([window, shoot](std::function<void()> next) {
        auto* v = window->findChild<FtriView*>(QStringLiteral("viewFtri"));
        if (!v) return next();
        bringToFront(v);
        auto once = std::make_shared<bool>(false);
        auto finish = [v, shoot, next, once] {
            if (*once) return;
            *once = true;
            QObject::disconnect(v, nullptr, v, nullptr);
            shoot(QStringLiteral("view_ftri.png"));
            next();
        };
        QObject::connect(v, &FtriView::recordFinished, v, [v, finish](bool ok) {
            if (!ok) finish();
        });
        auto evaluated = std::make_shared<bool>(false);
        QObject::connect(v, &FtriView::resultReady, v, [v, evaluated] {
            if (*evaluated || !v->result() || v->result()->preset.empty()) return;
            *evaluated = true;
            v->evaluate();
        });
        QObject::connect(v, &FtriView::evaluationReady, v, [finish] { finish(); });
        QObject::connect(v, &FtriView::failed, v, [finish] { finish(); });
        v->recordNow();
    });
    // Super experts: record the bundled prose set with activations, run the what-if, shoot.
    steps->push_back([window, shoot](std::function<void()> next) {
        auto* v = window->findChild<SuperExpertsView*>(QStringLiteral("viewSuperExperts"));
        if (!v) return next();
        bringToFront(v);
        auto once = std::make_shared<bool>(false);
        auto finish = [v, shoot, next, once] {
            if (*once) return;
            *once = true;
            QObject::disconnect(v, nullptr, v, nullptr);
            shoot(QStringLiteral("view_super_experts.png"));
            next();
        };
        QObject::connect(v, &SuperExpertsView::recordFinished, v, [finish](bool ok) {
            if (!ok) finish();
        });
        auto started = std::make_shared<bool>(false);
        QObject::connect(v, &SuperExpertsView::resultReady, v, [v, started, finish] {
            if (*started || !v->data() || !v->data()->experts) return;
            *started = true;
            if (v->data()->experts->super_experts.empty()) return finish();
            v->runWhatIf();
        });
        QObject::connect(v, &SuperExpertsView::whatIfReady, v, [finish] { finish(); });
        QObject::connect(v, &SuperExpertsView::failed, v, [finish] { finish(); });
        v->recordNow();
    });
    // Importance: frequency importance of the newest run (the tour's earlier steps recorded some),
    // keep half the experts, shoot.
    steps->push_back([window, shoot](std::function<void()> next) {
        auto* v = window->findChild<ImportanceView*>(QStringLiteral("viewImportance"));
        if (!v) return next();
        bringToFront(v);
        auto once = std::make_shared<bool>(false);
        auto finish = [v, shoot, next, once] {
            if (*once) return;
            *once = true;
            QObject::disconnect(v, nullptr, v, nullptr);
            v->heatmap()->zoomToFit();
            shoot(QStringLiteral("view_importance.png"));
            next();
        };
        QObject::connect(v, &ImportanceView::resultReady, v, [finish] { finish(); });
        QObject::connect(v, &ImportanceView::failed, v, [finish] { finish(); });
        QObject::connect(v, &ImportanceView::sourcesRefreshed, v, [v, finish] {
            if (v->sources().isEmpty()) finish();
        });
        v->refreshSources();
    });
    runSteps(steps, 0, std::move(finished));
}

}  // namespace moescope::gui
