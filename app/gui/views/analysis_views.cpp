#include "app/gui/views/analysis_views.h"

#include <QTabWidget>

#include "app/gui/views/ftri_view.h"
#include "app/gui/views/importance_view.h"
#include "app/gui/views/routing_heatmap_view.h"
#include "app/gui/views/run_compare_view.h"
#include "app/gui/views/specialization_view.h"
#include "app/gui/views/super_experts_view.h"
#include "app/gui/views/view_hub.h"

namespace moescope::gui {

void installAnalysisViews(QTabWidget* tabs, ViewHub* hub) {
    // One line per view, in tab order.
    // -- routing / comparison / specialization views (helper "app")
    tabs->addTab(new RoutingHeatmapView(hub, tabs), QObject::tr("Routing"));
    tabs->addTab(new RunCompareView(hub, tabs), QObject::tr("Compare runs"));
    tabs->addTab(new SpecializationView(hub, tabs), QObject::tr("Specialization"));
    // steer helper: fTRI, super experts, importance
    { auto* v = new FtriView(hub, tabs); v->setObjectName(QStringLiteral("viewFtri")); tabs->addTab(v, QObject::tr("fTRI")); }
    { auto* v = new SuperExpertsView(hub, tabs); v->setObjectName(QStringLiteral("viewSuperExperts")); tabs->addTab(v, QObject::tr("Super experts")); }
    { auto* v = new ImportanceView(hub, tabs); v->setObjectName(QStringLiteral("viewImportance")); tabs->addTab(v, QObject::tr("Importance")); }
}

}  // namespace moescope::gui
