// moescope: the desktop app.
#include <QApplication>
#include <QCommandLineParser>
#include <cstdio>
#include <cstdlib>

#include "app/gui/main_window.h"
#include "app/gui/screenshot_tour.h"
#include "moescope/build_info.h"

static bool displayAvailable() {
    // Qt aborts when the xcb platform cannot connect to a display; tell the user what to do instead.
    if (std::getenv("QT_QPA_PLATFORM")) return true;  // the user chose a platform (offscreen, wayland, ...)
    return std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
}

int main(int argc, char** argv) {
    if (!displayAvailable()) {
        std::fprintf(stderr,
                     "moescope: no display found (DISPLAY and WAYLAND_DISPLAY are unset).\n"
                     "  Run it under a virtual display:  xvfb-run -a ./build/app/moescope\n"
                     "  or use the headless CLI:        ./build/app/moescope-cli --help\n");
        return 1;
    }
    QApplication app(argc, argv);
    QApplication::setApplicationName("moescope");
    QApplication::setOrganizationName("moescope");
    QApplication::setApplicationVersion(MOESCOPE_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription("Workbench for looking inside Mixture-of-Experts models and steering them");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("model", "Model folder (Hugging Face layout) or 'demo'", "[model]");
    QCommandLineOption shots("screenshots", "Save a PNG of each main state into DIR and exit (tools/screenshots.sh).", "DIR");
    parser.addOption(shots);
    parser.process(app);

    moescope::gui::MainWindow window;
    const QString model = parser.positionalArguments().value(0);
    if (parser.isSet(shots)) {
        auto* tour = new moescope::gui::ScreenshotTour(&window, parser.value(shots), model.isEmpty() ? "demo" : model, &window);
        QObject::connect(tour, &moescope::gui::ScreenshotTour::done, &app, [](int code) { QCoreApplication::exit(code); });
        window.resize(1400, 900);
        tour->start();
        return app.exec();
    }
    if (!model.isEmpty()) window.setModelPath(model);
    window.show();
    return app.exec();
}
