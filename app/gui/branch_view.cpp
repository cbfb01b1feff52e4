// BranchView: side-by-side transcripts with per-position difference highlighting.
#include "app/gui/branch_view.h"

#include <QGridLayout>
#include <QLabel>

#include "app/gui/transcript_view.h"

namespace moescope::gui {

BranchView::BranchView(QWidget* parent) : QWidget(parent) {
    setObjectName("branchView");
    auto* g = new QGridLayout(this);
    summary_ = new QLabel(tr("No branch yet: right-click a generated token and choose “Branch here”."), this);
    summary_->setObjectName("branchSummary");
    summary_->setWordWrap(true);
    g->addWidget(summary_, 0, 0, 1, 2);
    leftTitle_ = new QLabel(tr("Original"), this);
    rightTitle_ = new QLabel(tr("Branch"), this);
    g->addWidget(leftTitle_, 1, 0);
    g->addWidget(rightTitle_, 1, 1);
    left_ = new TranscriptView(this);
    left_->setObjectName("branchLeft");
    right_ = new TranscriptView(this);
    right_->setObjectName("branchRight");
    left_->setBranchingEnabled(false);
    right_->setBranchingEnabled(false);
    g->addWidget(left_, 2, 0);
    g->addWidget(right_, 2, 1);
    g->setRowStretch(2, 1);
    connect(left_, &TranscriptView::tokenHovered, this, [this](int r) { emit tokenHovered(false, r); });
    connect(right_, &TranscriptView::tokenHovered, this, [this](int r) { emit tokenHovered(true, r); });
}

void BranchView::setRuns(const RunDataPtr& a, const RunDataPtr& b, int branchAt, const QString& ivText) {
    if (!a || !b) return;
    const int p = a->promptTokens;
    const int n = std::max(a->tokenCount(), b->tokenCount());
    common_ = 0;
    while (p + common_ < std::min(a->tokenCount(), b->tokenCount()) && a->tokenText[p + common_] == b->tokenText[p + common_])
        ++common_;
    differing_ = 0;
    left_->setPrompt(a->tokenText.mid(0, p), p);
    right_->setPrompt(b->tokenText.mid(0, p), p);
    for (int r = p; r < n; ++r) {
        const QString x = a->tokenText.value(r), y = b->tokenText.value(r);
        const bool differ = r >= a->tokenCount() || r >= b->tokenCount() || x != y;
        if (differ) ++differing_;
        if (r < a->tokenCount()) left_->appendToken(r, x, differ);
        if (r < b->tokenCount()) right_->appendToken(r, y, differ);
    }
    left_->flush();
    right_->flush();
    leftTitle_->setText(tr("Original — %1").arg(a->title));
    rightTitle_->setText(tr("Branch at token %1 — %2").arg(branchAt).arg(ivText.isEmpty() ? tr("no interventions") : ivText));
    summary_->setText(tr("Same prefix for %1 generated tokens; %2 positions differ (highlighted).").arg(common_).arg(differing_));
}

}  // namespace moescope::gui
