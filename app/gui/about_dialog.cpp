#include "app/gui/about_dialog.h"

#include <QDialogButtonBox>
#include <QLabel>
#include <QVBoxLayout>

#include "engine/device.h"
#include "moescope/build_info.h"

namespace moescope::gui {

QString AboutDialog::aboutText() {
    const bool gpu = cuda_device_count() > 0;
    return QStringLiteral("<h3>moescope %1</h3>"
                          "<p>A workbench for looking inside Mixture-of-Experts language models and steering them.</p>"
                          "<p>Build: %2, Qt %3<br>CUDA backend: %4<br>GPU: %5</p>")
        .arg(QStringLiteral(MOESCOPE_VERSION), QStringLiteral(MOESCOPE_BUILD_TYPE), QString::fromLatin1(qVersion()),
             cuda_compiled() ? QStringLiteral("compiled in (archs %1)").arg(QStringLiteral(MOESCOPE_CUDA_ARCHS))
                             : QStringLiteral("not compiled in"),
             gpu ? QString::fromStdString(cuda_device_description()) : QStringLiteral("none present"));
}

AboutDialog::AboutDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("About moescope"));
    setObjectName("aboutDialog");
    auto* layout = new QVBoxLayout(this);
    auto* label = new QLabel(aboutText(), this);
    label->setObjectName("aboutText");
    label->setTextFormat(Qt::RichText);
    label->setWordWrap(true);
    layout->addWidget(label);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    layout->addWidget(buttons);
}

}  // namespace moescope::gui
