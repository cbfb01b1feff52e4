#pragma once
// ScmoePanel: the SCMoE side panel (issue 10). For the token under the pointer (or the newest one while
// streaming) it lists the strong, weak and contrast top alternatives side by side, says whether the
// contrast changed the choice, and counts how many tokens of the run it changed.
#include <QWidget>
#include <map>

#include "app/gui/generation_controller.h"

class QLabel;
class QTableWidget;

namespace moescope::gui {

class ScmoePanel : public QWidget {
    Q_OBJECT
public:
    explicit ScmoePanel(QWidget* parent = nullptr);

    void clear();
    void addToken(int row, const QString& piece, const ScmoeDetail& detail);
    // Shows a recorded row; rows without SCMoE data (prompt, plain runs) show a hint instead.
    void showRow(int row);

    int shownRow() const { return shown_; }
    int tokenCount() const { return static_cast<int>(rows_.size()); }
    int changedCount() const { return changed_; }
    QTableWidget* table() const { return table_; }

private:
    struct Entry {
        QString piece;
        ScmoeDetail detail;
    };
    std::map<int, Entry> rows_;
    int changed_ = 0;
    int shown_ = -1;
    QLabel* title_;
    QLabel* verdict_;
    QLabel* summary_;
    QTableWidget* table_;
};

}  // namespace moescope::gui
