#pragma once
// ScreenshotTour: drives a MainWindow through its main states and saves a PNG of each
// (tools/screenshots.sh runs `moescope --screenshots DIR [model]` offscreen). Event driven: each step
// waits for the signal that ends the previous one, never for a fixed time.
#include <QObject>
#include <QString>
#include <QStringList>
#include <functional>

namespace moescope::gui {

class MainWindow;

class ScreenshotTour : public QObject {
    Q_OBJECT
public:
    ScreenshotTour(MainWindow* window, QString outDir, QString model, QObject* parent = nullptr);
    void start();

signals:
    void done(int exitCode);

private:
    void shoot(const QString& name, QWidget* overlay = nullptr);
    void fail(const QString& why);
    // Analysis views (issue 11): shows each view's tab ("viewName=file.png"), waits until its analysis
    // runners are idle, shoots, then runs `then`.
    void shootViews(QStringList views, std::function<void()> then);

    MainWindow* w_;
    QString out_;
    QString model_;
    int tokens_ = 0;
    bool shotGenerating_ = false;
};

}  // namespace moescope::gui
