// ExpertGridPanel: toolbar around the expert grid view.
#include "app/gui/expert_grid_panel.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMenu>
#include <QSettings>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include "app/gui/expert_grid_model.h"
#include "app/gui/expert_grid_view.h"
#include "app/gui/expert_preset.h"

namespace moescope::gui {

namespace {
const char* kRecentKey = "presets/recent";
}

ExpertGridPanel::ExpertGridPanel(ExpertGridModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    setObjectName("expertGridPanel");
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* bar = new QHBoxLayout;
    auto button = [&](const QString& text, const QString& tip, const char* name) {
        auto* b = new QToolButton(this);
        b->setText(text);
        b->setToolTip(tip);
        b->setObjectName(QLatin1String(name));
        bar->addWidget(b);
        return b;
    };
    view_ = new ExpertGridView(this);
    view_->setModel(model_);
    connect(button(tr("−"), tr("Zoom out (Ctrl+wheel)"), "zoomOut"), &QToolButton::clicked, view_, &ExpertGridView::zoomOut);
    connect(button(tr("+"), tr("Zoom in (Ctrl+wheel)"), "zoomIn"), &QToolButton::clicked, view_, &ExpertGridView::zoomIn);
    connect(button(tr("Fit"), tr("Fit the whole grid"), "zoomFit"), &QToolButton::clicked, view_, &ExpertGridView::zoomToFit);
    bar->addSpacing(12);
    bar->addWidget(new QLabel(tr("top-k:"), this));
    topK_ = new QSpinBox(this);
    topK_->setObjectName("globalTopK");
    topK_->setRange(0, 64);
    topK_->setSpecialValueText(tr("default"));
    topK_->setToolTip(tr("Experts per token for every MoE layer (right-click a layer for a per-layer override). "
                         "Takes effect at the next token."));
    connect(topK_, &QSpinBox::valueChanged, model_, &ExpertGridModel::setGlobalTopK);
    bar->addWidget(topK_);
    bar->addSpacing(12);
    auto* clear = button(tr("Clear all"), tr("Every expert back to normal, no top-k overrides"), "clearAll");
    connect(clear, &QToolButton::clicked, model_, &ExpertGridModel::clearAll);
    auto* presets = button(tr("Presets"), tr("Load, save and reuse intervention presets (JSON)"), "presetsButton");
    presets->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(presets);
    menu->addAction(tr("Load preset…"), this, &ExpertGridPanel::chooseAndLoadPreset);
    menu->addAction(tr("Save preset…"), this, &ExpertGridPanel::chooseAndSavePreset);
    recentMenu_ = menu->addMenu(tr("Recent presets"));
    presets->setMenu(menu);
    bar->addStretch(1);
    summary_ = new QLabel(this);
    summary_->setObjectName("gridSummary");
    bar->addWidget(summary_);
    layout->addLayout(bar);
    layout->addWidget(view_, 1);
    auto* legend = new QLabel(tr("click: normal → off → forced · right-click a row: layer top-k · "
                                 "orange: experts of the current token (dot = weight) · fill: share of tokens"),
                              this);
    legend->setObjectName("gridLegend");
    legend->setWordWrap(true);
    QFont small = legend->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    legend->setFont(small);
    layout->addWidget(legend);

    connect(model_, &ExpertGridModel::interventionsChanged, this, &ExpertGridPanel::refreshSummary);
    connect(model_, &QAbstractItemModel::modelReset, this, &ExpertGridPanel::refreshSummary);
    rebuildRecentMenu();
    refreshSummary();
}

QString ExpertGridPanel::summaryText() const {
    const Interventions iv = model_->interventions();
    if (iv.empty()) return tr("no interventions");
    QStringList parts;
    if (!iv.disable.empty()) parts << tr("%1 off").arg(iv.disable.size());
    if (!iv.force.empty()) parts << tr("%1 forced").arg(iv.force.size());
    if (!iv.bias.empty()) parts << tr("%1 biased").arg(iv.bias.size());
    if (iv.top_k) parts << tr("top-k %1").arg(*iv.top_k);
    if (!iv.top_k_per_layer.empty()) parts << tr("%1 layer top-k").arg(iv.top_k_per_layer.size());
    if (iv.top_p) parts << tr("top-p %1").arg(*iv.top_p);
    return parts.join(QStringLiteral(" · "));
}

void ExpertGridPanel::refreshSummary() {
    summary_->setText(summaryText());
    QSignalBlocker block(topK_);
    topK_->setMaximum(std::max(1, model_->expertCount()));
    topK_->setValue(model_->globalTopK());
}

QString ExpertGridPanel::loadPreset(const QString& path) {
    auto preset = loadPresetFile(path);
    if (!preset) return QString::fromStdString(preset.message());
    const int skipped = model_->setInterventions(preset->interventions);
    rememberPreset(path);
    if (skipped > 0)
        return tr("%1: %2 entries refer to layers or experts this model does not have and were skipped")
            .arg(path)
            .arg(skipped);
    return {};
}

QString ExpertGridPanel::savePreset(const QString& path, const QString& name) {
    const QString err = savePresetFile(path, ExpertPreset{name, model_->interventions()});
    if (err.isEmpty()) rememberPreset(path);
    return err;
}

void ExpertGridPanel::chooseAndLoadPreset() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Load preset"), {}, tr("Presets (*.json)"));
    if (path.isEmpty()) return;
    if (const QString err = loadPreset(path); !err.isEmpty()) emit presetError(err);
}

void ExpertGridPanel::chooseAndSavePreset() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save preset"), tr("preset.json"), tr("Presets (*.json)"));
    if (path.isEmpty()) return;
    if (const QString err = savePreset(path, QFileInfo(path).completeBaseName()); !err.isEmpty()) emit presetError(err);
}

QStringList ExpertGridPanel::recentPresets() const { return QSettings().value(kRecentKey).toStringList(); }

void ExpertGridPanel::rememberPreset(const QString& path) {
    QSettings().setValue(kRecentKey, pushRecent(recentPresets(), QFileInfo(path).absoluteFilePath()));
    rebuildRecentMenu();
}

void ExpertGridPanel::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList recent = recentPresets();
    for (const QString& p : recent)
        recentMenu_->addAction(QFileInfo(p).fileName(), this, [this, p] {
            if (const QString err = loadPreset(p); !err.isEmpty()) emit presetError(err);
        })->setToolTip(p);
    recentMenu_->setEnabled(!recent.isEmpty());
}

}  // namespace moescope::gui
