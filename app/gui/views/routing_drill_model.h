#pragma once
// The drill-down table of the routing heatmap: the tokens that chose expert e at one MoE layer, each with
// a few tokens of context either side. Qt::UserRole holds the raw value (CSV export, sorting).
#include <QAbstractTableModel>
#include <QStringList>
#include <vector>

#include "storage/routing_arrays.h"

namespace moescope::gui {

struct DrillRow {
    qint64 row = 0;       // row in the arrays the load was computed from
    qint64 run = 0;
    int position = 0;
    QString token;
    QString context;      // "left ⟦token⟧ right"
    int rank = 0;         // 1 = top-1
    double weight = 0;    // NaN when the source has no weights
};

// Rows of `a` whose top-k at MoE slot `slot` contains `expert`, in row order; `texts` are the token
// texts in the same order (may be shorter: missing texts show as ⟨id⟩). `contextTokens` either side,
// within the token's own sequence (same run and prompt).
std::vector<DrillRow> tokensChoosing(const RoutingArrays& a, const QStringList& texts, int slot, int expert,
                                     int contextTokens = 4);

// "left ⟦token⟧ right": up to `contextTokens` texts either side of row r within its own sequence.
QString contextAround(const RoutingArrays& a, const QStringList& texts, int64_t r, int contextTokens = 4);

class RoutingDrillModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Row, Run, Position, Token, Context, Rank, Weight, ColumnCount };
    explicit RoutingDrillModel(QObject* parent = nullptr) : QAbstractTableModel(parent) {}

    void setRows(std::vector<DrillRow> rows, int layer, int expert);
    const DrillRow& rowAt(int r) const { return rows_[static_cast<size_t>(r)]; }
    int layer() const { return layer_; }
    int expert() const { return expert_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    std::vector<DrillRow> rows_;
    int layer_ = -1, expert_ = -1;
};

}  // namespace moescope::gui
