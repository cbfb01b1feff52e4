#pragma once
// Tables of the specialization view: per-layer balance (analysis::expert_load) and token-ID
// specialisation (analysis::token_specialization) with example contexts. Both are a SpecTableModel: a
// header and rows of cells, each with the shown text and the raw value (Qt::UserRole, CSV export).
#include <QAbstractTableModel>
#include <QStringList>
#include <QVariant>
#include <vector>

#include "analysis/specialization.h"
#include "analysis/token_contribution.h"

namespace moescope::gui {

struct SpecCell {
    QString text;
    QVariant raw;
};

class SpecTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    explicit SpecTableModel(QStringList header, QObject* parent = nullptr)
        : QAbstractTableModel(parent), header_(std::move(header)) {}
    void setRows(std::vector<std::vector<SpecCell>> rows);
    const SpecCell& cell(int row, int col) const { return rows_[static_cast<size_t>(row)][static_cast<size_t>(col)]; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    QStringList header_;
    std::vector<std::vector<SpecCell>> rows_;
};

// Balance table: layer, norm_entropy, cv, max_over_mean, gini, max_vio, dead.
std::vector<std::vector<SpecCell>> balanceRows(const analysis::LoadResult& load);

// One row per (expert, top token) of one layer: layer, expert, rank, token, token_id, share, occurrences,
// example. `examples[e][i]` is the context of an occurrence of expert e's i-th top token.
struct TokenSpecRow {
    int layer = 0, expert = 0, rank = 0;
    int32_t tokenId = 0;
    QString token;
    double share = 0;
    qint64 occurrences = 0;
    QString example;
};
std::vector<std::vector<SpecCell>> tokenSpecRows(const std::vector<TokenSpecRow>& rows);

// EASY-EP token contribution per layer: layer, count, mean, min, q1, median, q3, max.
std::vector<std::vector<SpecCell>> contributionRows(const analysis::ContributionSummary& s);

}  // namespace moescope::gui
