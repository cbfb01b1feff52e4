#include "app/gui/views/routing_drill_model.h"

#include <cmath>
#include <limits>

namespace moescope::gui {

namespace {

QString textOf(const RoutingArrays& a, const QStringList& texts, int64_t r) {
    if (r < texts.size()) return texts[static_cast<int>(r)];
    return QStringLiteral("⟨%1⟩").arg(a.token_id.empty() ? -1 : a.token_id[static_cast<size_t>(r)]);
}

bool sameSequence(const RoutingArrays& a, int64_t r, int64_t s) {
    const auto ur = static_cast<size_t>(r), us = static_cast<size_t>(s);
    if (a.run_id[ur] != a.run_id[us] || a.prompt_id[ur] != a.prompt_id[us]) return false;
    // Positions increase within a sequence (analysis::group_sequences uses the same rule).
    return s < r ? a.position[us] < a.position[ur] : a.position[us] > a.position[ur];
}

// Visible whitespace, so a context like "x = 1\n" stays on one table line.
QString visible(QString t) {
    t.replace(QLatin1Char('\n'), QStringLiteral("⏎"));
    t.replace(QLatin1Char('\t'), QStringLiteral("⇥"));
    return t;
}

}  // namespace

QString contextAround(const RoutingArrays& a, const QStringList& texts, int64_t r, int contextTokens) {
    QString left, right;
    for (int64_t s = r - 1; s >= 0 && s >= r - contextTokens && sameSequence(a, r, s); --s) left.prepend(textOf(a, texts, s));
    for (int64_t s = r + 1; s < a.n_tokens && s <= r + contextTokens && sameSequence(a, r, s); ++s)
        right.append(textOf(a, texts, s));
    return visible(left) + QStringLiteral("⟦") + visible(textOf(a, texts, r)) + QStringLiteral("⟧") + visible(right);
}

std::vector<DrillRow> tokensChoosing(const RoutingArrays& a, const QStringList& texts, int slot, int expert,
                                     int contextTokens) {
    std::vector<DrillRow> out;
    if (slot < 0 || slot >= a.n_moe || expert < 0) return out;
    for (int64_t r = 0; r < a.n_tokens; ++r) {
        int rank = 0;
        for (int j = 0; j < a.k_max && rank == 0; ++j)
            if (a.experts[a.slot(r, slot, j)] == expert) rank = j + 1;
        if (rank == 0) continue;
        DrillRow d;
        d.row = r;
        d.run = a.run_id[static_cast<size_t>(r)];
        d.position = a.position[static_cast<size_t>(r)];
        d.token = visible(textOf(a, texts, r));
        d.rank = rank;
        d.weight = a.has_weights() ? a.weights[a.slot(r, slot, rank - 1)] : std::numeric_limits<double>::quiet_NaN();
        d.context = contextAround(a, texts, r, contextTokens);
        out.push_back(std::move(d));
    }
    return out;
}

void RoutingDrillModel::setRows(std::vector<DrillRow> rows, int layer, int expert) {
    beginResetModel();
    rows_ = std::move(rows);
    layer_ = layer;
    expert_ = expert;
    endResetModel();
}

int RoutingDrillModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int RoutingDrillModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RoutingDrillModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const DrillRow& d = rows_[static_cast<size_t>(index.row())];
    if (role == Qt::DisplayRole || role == Qt::UserRole) {
        switch (index.column()) {
            case Row: return d.row;
            case Run: return d.run;
            case Position: return d.position;
            case Token: return d.token;
            case Context: return d.context;
            case Rank: return d.rank;
            case Weight:
                if (std::isnan(d.weight)) return role == Qt::UserRole ? QVariant(QString()) : QVariant(QStringLiteral("–"));
                return role == Qt::UserRole ? QVariant(d.weight) : QVariant(QString::number(d.weight, 'f', 3));
        }
    }
    if (role == Qt::TextAlignmentRole && index.column() != Token && index.column() != Context)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant RoutingDrillModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole || o != Qt::Horizontal) return QAbstractTableModel::headerData(section, o, role);
    static const char* names[] = {"row", "run", "position", "token", "context", "rank", "weight"};
    return section >= 0 && section < ColumnCount ? QVariant(QString::fromLatin1(names[section])) : QVariant();
}

}  // namespace moescope::gui
