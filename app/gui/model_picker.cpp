// ModelPicker: path selection with recents and the pre-load summary.
#include "app/gui/model_picker.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

#include "app/gui/expert_preset.h"
#include "engine/device.h"

namespace moescope::gui {

namespace {
const char* kRecentModels = "models/recent";
}

QStringList ModelPicker::recentModels() { return QSettings().value(kRecentModels).toStringList(); }

void ModelPicker::rememberModel(const QString& path) {
    QSettings().setValue(kRecentModels, pushRecent(recentModels(), path, 10));
}

ModelPicker::ModelPicker(ModelController* controller, QWidget* parent) : QWidget(parent), controller_(controller) {
    setObjectName("modelPicker");
    auto* layout = new QVBoxLayout(this);
    auto* title = new QLabel(tr("<h2>Open a Mixture-of-Experts model</h2>"
                                "<p>A Hugging Face folder (config.json + *.safetensors), or the bundled demo.</p>"),
                             this);
    layout->addWidget(title);
    auto* row = new QHBoxLayout;
    path_ = new QComboBox(this);
    path_->setObjectName("modelPath");
    path_->setEditable(true);
    path_->setInsertPolicy(QComboBox::NoInsert);
    path_->setMinimumContentsLength(40);
    row->addWidget(path_, 1);
    auto* browse = new QPushButton(tr("Browse…"), this);
    browse->setObjectName("browseModel");
    connect(browse, &QPushButton::clicked, this, &ModelPicker::browse);
    row->addWidget(browse);
    layout->addLayout(row);

    auto* form = new QFormLayout;
    badge_ = new QLabel(this);
    badge_->setObjectName("archBadge");
    badge_->setStyleSheet(QStringLiteral("QLabel { font-weight: bold; padding: 3px 8px; border-radius: 8px; "
                                         "background: palette(highlight); color: palette(highlighted-text); }"));
    params_ = new QLabel(this);
    params_->setObjectName("paramsLabel");
    memory_ = new QLabel(this);
    memory_->setObjectName("memoryLabel");
    context_ = new QSpinBox(this);
    context_->setObjectName("contextLength");
    context_->setRange(256, 1 << 20);
    context_->setSingleStep(1024);
    context_->setValue(4096);
    context_->setSuffix(tr(" tokens"));
    context_->setToolTip(tr("Context the KV cache is sized for; changes the memory estimate."));
    device_ = new QComboBox(this);
    device_->setObjectName("deviceChoice");
    device_->addItem(tr("CPU"), QStringLiteral("cpu"));
    device_->addItem(tr("CPU — 8-bit weights (Q8_0: faster decode, not faithful)"), QStringLiteral("cpu:q8_0"));
    if (cuda_device_count() > 0) {
        const QString gpu = QString::fromStdString(cuda_device_description());
        device_->addItem(tr("CUDA — %1 (BF16, fast)").arg(gpu), QStringLiteral("cuda:bf16"));
        device_->addItem(tr("CUDA — %1 (FP32, faithful)").arg(gpu), QStringLiteral("cuda:fp32"));
    }
    device_->setToolTip(tr("Where the forward pass runs. CUDA is listed only when a GPU and the CUDA backend are present;\n"
                           "BF16 is fast, FP32 matches the CPU oracle within the tolerances of docs/cuda.md.\n"
                           "CPU 8-bit weights quantise attention, experts and lm_head to Q8_0 on load (routers stay exact):\n"
                           "about half the memory and decode traffic; routing and logits change slightly (docs/cpu_kernels.md)."));
    form->addRow(tr("Architecture"), badge_);
    form->addRow(tr("Parameters"), params_);
    form->addRow(tr("Context"), context_);
    form->addRow(tr("Memory"), memory_);
    form->addRow(tr("Device"), device_);
    layout->addLayout(form);
    error_ = new QLabel(this);
    error_->setObjectName("inspectError");
    error_->setWordWrap(true);
    error_->setStyleSheet(QStringLiteral("color: #c03030"));
    layout->addWidget(error_);
    load_ = new QPushButton(tr("Load"), this);
    load_->setObjectName("loadButton");
    load_->setDefault(true);
    layout->addWidget(load_, 0, Qt::AlignLeft);
    layout->addStretch(1);

    connect(load_, &QPushButton::clicked, this, [this] { emit loadRequested(request()); });
    connect(context_, &QSpinBox::valueChanged, this, &ModelPicker::updateMemory);
    connect(device_, &QComboBox::currentIndexChanged, this, &ModelPicker::updateMemory);
    connect(path_, &QComboBox::currentTextChanged, this, [this](const QString& p) {
        haveSummary_ = false;
        badge_->setText(tr("inspecting…"));
        params_->clear();
        memory_->clear();
        error_->clear();
        if (!p.trimmed().isEmpty()) controller_->inspect(p.trimmed());
    });
    connect(controller_, &ModelController::inspected, this, &ModelPicker::onInspected);
    connect(controller_, &ModelController::inspectFailed, this, &ModelPicker::onInspectFailed);
    refreshRecent();
}

void ModelPicker::refreshRecent() {
    QSignalBlocker block(path_);
    const QString current = path_->currentText();
    path_->clear();
    QStringList items{QStringLiteral("demo")};
    for (const QString& r : recentModels())
        if (!items.contains(r)) items << r;
    path_->addItems(items);
    path_->setItemData(0, tr("The small bundled demo model"), Qt::ToolTipRole);
    // First start: the demo is preselected (recent list empty); otherwise the most recent model.
    path_->setCurrentText(current.isEmpty() ? (recentModels().isEmpty() ? QStringLiteral("demo") : recentModels().first()) : current);
}

QString ModelPicker::path() const { return path_->currentText().trimmed(); }

void ModelPicker::setPath(const QString& path) {
    if (path_->currentText() == path) {
        controller_->inspect(path);
        return;
    }
    path_->setCurrentText(path);
}

LoadRequest ModelPicker::request() const {
    LoadRequest r;
    r.path = path();
    const QStringList dev = device_->currentData().toString().split(QLatin1Char(':'));
    r.device = dev.value(0);
    if (dev.size() > 1 && r.device == QLatin1String("cpu")) r.weights = dev.value(1);
    else if (dev.size() > 1) r.precision = dev.value(1);
    r.context = context_->value();
    return r;
}

QString ModelPicker::badgeText() const { return badge_->text(); }
QString ModelPicker::memoryText() const { return memory_->text(); }

void ModelPicker::browse() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model (Hugging Face folder)"));
    if (!dir.isEmpty()) setPath(dir);
}

void ModelPicker::onInspected(const QString& path, const ModelSummary& s) {
    if (path != this->path()) return;  // an older choice
    summary_ = s;
    haveSummary_ = true;
    badge_->setText(architectureBadge(s));
    params_->setText(parameterText(s) + QStringLiteral(" · %1").arg(QString::fromStdString(s.dtype)));
    error_->clear();
    updateMemory();
}

void ModelPicker::onInspectFailed(const QString& path, const QString& message) {
    if (path != this->path()) return;
    haveSummary_ = false;
    badge_->setText(tr("not a loadable model"));
    params_->clear();
    memory_->clear();
    error_->setText(message);
}

void ModelPicker::updateMemory() {
    if (!haveSummary_) return;
    const quint64 kv = summary_.kv_bytes_per_token * static_cast<quint64>(context_->value());
    quint64 weights = summary_.weight_bytes;
    // Q8_0: 34 bytes per 32 weights instead of 2 (BF16/F16) or 4 (F32) bytes per weight, for nearly all of
    // them (routers and embeddings stay): an estimate from the checkpoint's main dtype.
    const bool q8 = device_->currentData().toString() == QLatin1String("cpu:q8_0");
    if (q8) weights = static_cast<quint64>(static_cast<double>(weights) * (34.0 / 32.0) / (summary_.dtype == "F32" ? 4.0 : 2.0));
    memory_->setText(tr("%1 (weights %2 + KV cache %3)")
                         .arg(bytesText(weights + kv), q8 ? tr("≈%1 as 8-bit Q8_0").arg(bytesText(weights)) : bytesText(weights),
                              bytesText(kv)));
}

}  // namespace moescope::gui
