#include "app/gui/views/analysis_views.h"

#include <QTabWidget>

#include "app/gui/views/view_hub.h"

namespace moescope::gui {

void installAnalysisViews(QTabWidget* tabs, ViewHub* hub) {
    (void)tabs;
    (void)hub;
    // One line per view, in tab order, e.g.:
    //   tabs->addTab(new RoutingHeatmapView(hub, tabs), QObject::tr("Routing"));
}

}  // namespace moescope::gui
