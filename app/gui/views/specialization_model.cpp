#include "app/gui/views/specialization_model.h"

namespace moescope::gui {

namespace {
SpecCell num(double v, int decimals = 3) { return {QString::number(v, 'f', decimals), v}; }
SpecCell integer(qint64 v) { return {QString::number(v), v}; }
}  // namespace

void SpecTableModel::setRows(std::vector<std::vector<SpecCell>> rows) {
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
}

int SpecTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int SpecTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(header_.size()); }

QVariant SpecTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
    const auto& row = rows_[static_cast<size_t>(index.row())];
    if (static_cast<size_t>(index.column()) >= row.size()) return {};
    const SpecCell& c = row[static_cast<size_t>(index.column())];
    if (role == Qt::DisplayRole) return c.text;
    if (role == Qt::UserRole) return c.raw.isValid() ? c.raw : QVariant(c.text);
    if (role == Qt::TextAlignmentRole && c.raw.isValid() && c.raw.typeId() != QMetaType::QString)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant SpecTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole || o != Qt::Horizontal) return QAbstractTableModel::headerData(section, o, role);
    return section >= 0 && section < header_.size() ? QVariant(header_[section]) : QVariant();
}

std::vector<std::vector<SpecCell>> balanceRows(const analysis::LoadResult& load) {
    std::vector<std::vector<SpecCell>> rows;
    for (const analysis::LayerLoad& L : load.layers)
        rows.push_back({integer(L.layer), num(L.norm_entropy), num(L.cv), num(L.max_over_mean), num(L.gini), num(L.max_vio),
                        integer(L.dead)});
    return rows;
}

std::vector<std::vector<SpecCell>> tokenSpecRows(const std::vector<TokenSpecRow>& in) {
    std::vector<std::vector<SpecCell>> rows;
    for (const TokenSpecRow& r : in)
        rows.push_back({integer(r.layer), integer(r.expert), integer(r.rank), {r.token, QVariant()}, integer(r.tokenId),
                        num(r.share), integer(r.occurrences), {r.example, QVariant()}});
    return rows;
}

std::vector<std::vector<SpecCell>> contributionRows(const analysis::ContributionSummary& s) {
    std::vector<std::vector<SpecCell>> rows;
    for (const analysis::ContributionLayer& L : s.layers)
        rows.push_back({integer(L.layer), integer(L.count), num(L.mean), num(L.min), num(L.q1), num(L.median), num(L.q3),
                        num(L.max)});
    return rows;
}

}  // namespace moescope::gui
