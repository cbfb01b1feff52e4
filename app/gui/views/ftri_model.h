#pragma once
// FtriModel: the fTRI ranking (analysis/ftri.h FtriResult::ranked) as a table, best first.
// Columns: rank, layer, expert, behavior freq, control freq, difference, risk ratio, q-value, behavior
// count, control count. DisplayRole is rounded for reading; Qt::UserRole holds the raw number (the CSV
// export writes it). The first `topN` rows (the preset) are shown bold.
#include <QAbstractTableModel>

#include "analysis/ftri.h"

namespace moescope::gui {

class FtriModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Rank, Layer, Expert, BehaviorFreq, ControlFreq, Difference, RiskRatio, QValue, BehaviorCount, ControlCount, ColumnCount };

    explicit FtriModel(QObject* parent = nullptr);

    void setRows(std::vector<analysis::FtriRow> rows);
    void setTopN(int n);
    const analysis::FtriRow& row(int r) const { return rows_.at(static_cast<size_t>(r)); }
    int rowOf(int layer, int expert) const;  // -1 when absent

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    std::vector<analysis::FtriRow> rows_;
    int topN_ = 0;
};

}  // namespace moescope::gui
