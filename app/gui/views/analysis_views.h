#pragma once
// The analysis views of issue 11, installed as tabs of the main window next to Generate and Branches.
// One line per view in analysis_views.cpp; each view is one file pair in app/gui/views/, takes the
// ViewHub, and has objectName "view<Name>" so tests and the screenshot tour find it.
class QTabWidget;

namespace moescope::gui {

class ViewHub;

void installAnalysisViews(QTabWidget* tabs, ViewHub* hub);

}  // namespace moescope::gui
