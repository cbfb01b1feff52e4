#pragma once
// ImportanceModel: analysis::expert_importance scores as a per-layer ranked table (each MoE layer's experts
// best first, ties by lower id, as the keep plan ranks them). Columns: layer, rank, expert, score (the
// chosen method), share of the layer's score, cumulative share, frequency, gate weight sum, kept (for the
// current keep-N). DisplayRole is rounded; Qt::UserRole holds the raw value (the CSV export writes it).
// Kept rows are bold.
#include <QAbstractTableModel>

#include "analysis/importance.h"

namespace moescope::gui {

class ImportanceModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Layer, Rank, Expert, Score, Share, CumulativeShare, Frequency, Gate, Kept, ColumnCount };
    struct Row {
        int layer = 0, slot = 0, rank = 0, expert = 0;
        double score = 0, share = 0, cumulative = 0, frequency = 0, gate = 0;
    };

    explicit ImportanceModel(QObject* parent = nullptr);

    void setResult(const analysis::ImportanceResult& r);  // rows; keep-N from r.options.keep_per_layer
    void setKeep(int keepPerLayer);
    int keep() const { return keep_; }
    const Row& row(int r) const { return rows_.at(static_cast<size_t>(r)); }
    int rowOf(int layer, int expert) const;  // -1 when absent

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    std::vector<Row> rows_;
    int keep_ = 0;
};

}  // namespace moescope::gui
