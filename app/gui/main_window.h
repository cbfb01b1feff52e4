#pragma once
// The application shell: menus, central area, status bar. Views are added by later work; this file
// owns only the window frame and its actions.
#include <QMainWindow>

class QLabel;

namespace moescope::gui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

    QAction* openModelAction() const { return openModel_; }
    QAction* aboutAction() const { return about_; }
    QString modelPath() const { return modelPath_; }

public slots:
    void setModelPath(const QString& path);
    void showAbout();
    void chooseModel();

private:
    QAction* openModel_ = nullptr;
    QAction* about_ = nullptr;
    QLabel* status_ = nullptr;
    QString modelPath_;
};

}  // namespace moescope::gui
