#pragma once
// Screenshots of the analysis views (issue 11), run by ScreenshotTour after the shell's states: each
// step brings one view to front, drives it on the loaded model (e.g. fTRI: record the bundled
// behaviour/control sets, rank, evaluate) and shoots it as docs/screenshots/view_<name>.png.
#include <QString>
#include <functional>

class QWidget;

namespace moescope::gui {

// `window` is searched for the views by object name; shoot(name) saves the window; finished() runs once
// after the last view (also when a view is missing or fails: the tour never hangs on a view).
void runViewScreenshots(QWidget* window, std::function<void(const QString& name)> shoot, std::function<void()> finished);

}  // namespace moescope::gui
