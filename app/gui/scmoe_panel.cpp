#include "app/gui/scmoe_panel.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

namespace moescope::gui {

ScmoePanel::ScmoePanel(QWidget* parent) : QWidget(parent) {
    setObjectName("scmoePanel");
    auto* layout = new QVBoxLayout(this);
    title_ = new QLabel(tr("Turn on “Self-contrast decoding (SCMoE)” in Sampling and generate."), this);
    title_->setObjectName("scmoeTitle");
    title_->setWordWrap(true);
    verdict_ = new QLabel(this);
    verdict_->setObjectName("scmoeVerdict");
    verdict_->setWordWrap(true);
    table_ = new QTableWidget(0, 3, this);
    table_->setObjectName("scmoeTable");
    table_->setHorizontalHeaderLabels({tr("Strong"), tr("Weak"), tr("Contrast")});
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    table_->verticalHeader()->setVisible(false);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setToolTip(tr("Top alternatives of the strong pass (normal routing), the weak pass (weak routing) and the\n"
                          "contrast (1+β)·log p_strong − β·log p_weak, best first. The chosen token comes from the contrast."));
    summary_ = new QLabel(this);
    summary_->setObjectName("scmoeSummary");
    layout->addWidget(title_);
    layout->addWidget(verdict_);
    layout->addWidget(table_, 1);
    layout->addWidget(summary_);
}

void ScmoePanel::clear() {
    rows_.clear();
    changed_ = 0;
    shown_ = -1;
    table_->setRowCount(0);
    verdict_->clear();
    summary_->clear();
    title_->setText(tr("SCMoE: no token yet."));
}

void ScmoePanel::addToken(int row, const QString& piece, const ScmoeDetail& detail) {
    const auto old = rows_.find(row);
    if (old != rows_.end() && old->second.detail.differsFromStrong) --changed_;
    rows_[row] = {piece, detail};
    if (detail.differsFromStrong) ++changed_;
    summary_->setText(tr("The contrast changed %1 of %2 tokens versus the strong pass's first choice.").arg(changed_).arg(rows_.size()));
    showRow(row);
}

void ScmoePanel::showRow(int row) {
    const auto it = rows_.find(row);
    if (it == rows_.end()) {
        if (rows_.empty()) return;  // nothing recorded: keep the hint
        shown_ = -1;
        title_->setText(tr("Row %1 has no SCMoE data (prompt token or another run).").arg(row));
        verdict_->clear();
        table_->setRowCount(0);
        return;
    }
    shown_ = row;
    const ScmoeDetail& d = it->second.detail;
    title_->setText(tr("Token %1 “%2”").arg(row).arg(it->second.piece.toHtmlEscaped()));
    verdict_->setText(d.differsFromStrong ? tr("The contrast changed the choice (p_strong %1, p_weak %2).")
                                               .arg(std::exp(d.strongLogprob), 0, 'f', 3)
                                               .arg(std::exp(d.weakLogprob), 0, 'f', 3)
                                          : tr("Same choice as the strong pass (p_strong %1, p_weak %2).")
                                                .arg(std::exp(d.strongLogprob), 0, 'f', 3)
                                                .arg(std::exp(d.weakLogprob), 0, 'f', 3));
    const int n = static_cast<int>(std::max({d.strong.size(), d.weak.size(), d.contrast.size()}));
    table_->setRowCount(n);
    const QStringList* cols[] = {&d.strong, &d.weak, &d.contrast};
    for (int c = 0; c < 3; ++c)
        for (int r = 0; r < n; ++r) table_->setItem(r, c, new QTableWidgetItem(cols[c]->value(r)));
}

}  // namespace moescope::gui
