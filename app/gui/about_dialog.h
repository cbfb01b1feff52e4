#pragma once
// Help ▸ About: version, build options and CUDA/GPU status.
#include <QDialog>

namespace moescope::gui {

class AboutDialog : public QDialog {
    Q_OBJECT
public:
    explicit AboutDialog(QWidget* parent = nullptr);
    // The text shown, also used by tests.
    static QString aboutText();
};

}  // namespace moescope::gui
