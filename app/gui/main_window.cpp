#include "app/gui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QFileDialog>
#include <QLabel>
#include <QMenuBar>
#include <QStatusBar>

#include "app/gui/about_dialog.h"

namespace moescope::gui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("moescope"));
    setObjectName("mainWindow");
    resize(1200, 800);

    auto* file = menuBar()->addMenu(tr("&File"));
    openModel_ = file->addAction(tr("&Open Model…"), this, &MainWindow::chooseModel);
    openModel_->setShortcut(QKeySequence::Open);
    openModel_->setObjectName("actionOpenModel");
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows);
    quit->setShortcut(QKeySequence::Quit);

    auto* help = menuBar()->addMenu(tr("&Help"));
    about_ = help->addAction(tr("&About moescope"), this, &MainWindow::showAbout);
    about_->setObjectName("actionAbout");

    status_ = new QLabel(tr("No model loaded — File ▸ Open Model…"), this);
    status_->setObjectName("centralStatus");
    status_->setAlignment(Qt::AlignCenter);
    setCentralWidget(status_);
    statusBar()->showMessage(tr("Ready"));
}

void MainWindow::setModelPath(const QString& path) {
    modelPath_ = path;
    status_->setText(tr("Model: %1").arg(path));
}

void MainWindow::chooseModel() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model (Hugging Face folder)"));
    if (!dir.isEmpty()) setModelPath(dir);
}

void MainWindow::showAbout() {
    AboutDialog dialog(this);
    dialog.exec();
}

}  // namespace moescope::gui
