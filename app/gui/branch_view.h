#pragma once
// BranchView: the original run and a branch side by side. Both start from the same prefix; generated
// tokens that differ from the other side are highlighted, and the header says where they diverge.
#include <QWidget>

#include "app/gui/run_data.h"

class QLabel;

namespace moescope::gui {

class TranscriptView;

class BranchView : public QWidget {
    Q_OBJECT
public:
    explicit BranchView(QWidget* parent = nullptr);

    void setRuns(const RunDataPtr& original, const RunDataPtr& branch, int branchAt, const QString& branchInterventions);
    TranscriptView* left() const { return left_; }
    TranscriptView* right() const { return right_; }
    // Generated tokens shared before the first difference.
    int commonPrefix() const { return common_; }
    int differingTokens() const { return differing_; }

signals:
    void tokenHovered(bool branchSide, int row);

private:
    TranscriptView* left_;
    TranscriptView* right_;
    QLabel* leftTitle_;
    QLabel* rightTitle_;
    QLabel* summary_;
    int common_ = 0;
    int differing_ = 0;
};

}  // namespace moescope::gui
