#include "app/gui/views/importance_model.h"

#include <QFont>
#include <algorithm>
#include <numeric>

namespace moescope::gui {

ImportanceModel::ImportanceModel(QObject* parent) : QAbstractTableModel(parent) {}

void ImportanceModel::setResult(const analysis::ImportanceResult& r) {
    beginResetModel();
    rows_.clear();
    keep_ = r.keep.empty() ? 0 : static_cast<int>(r.keep.front().size());
    for (size_t l = 0; l < r.score.size() && l < r.moe_layers.size(); ++l) {
        const auto& s = r.score[l];
        std::vector<int> order(s.size());
        std::iota(order.begin(), order.end(), 0);
        // Same order as the keep plan: score descending, ties by lower id.
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return s[static_cast<size_t>(a)] > s[static_cast<size_t>(b)]; });
        const double total = std::accumulate(s.begin(), s.end(), 0.0);
        double cum = 0;
        for (size_t i = 0; i < order.size(); ++i) {
            const size_t e = static_cast<size_t>(order[i]);
            Row row;
            row.layer = r.moe_layers[l];
            row.slot = static_cast<int>(l);
            row.rank = static_cast<int>(i) + 1;
            row.expert = order[i];
            row.score = s[e];
            row.share = total > 0 ? s[e] / total : 0.0;
            cum += row.share;
            row.cumulative = total > 0 ? std::min(1.0, cum) : 0.0;
            row.frequency = l < r.frequency.size() && e < r.frequency[l].size() ? r.frequency[l][e] : 0.0;
            row.gate = l < r.gate.size() && e < r.gate[l].size() ? r.gate[l][e] : 0.0;
            rows_.push_back(row);
        }
    }
    endResetModel();
}

void ImportanceModel::setKeep(int k) {
    if (k == keep_) return;
    keep_ = k;
    if (!rows_.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1), {Qt::DisplayRole, Qt::UserRole, Qt::FontRole});
}

int ImportanceModel::rowOf(int layer, int expert) const {
    for (size_t i = 0; i < rows_.size(); ++i)
        if (rows_[i].layer == layer && rows_[i].expert == expert) return static_cast<int>(i);
    return -1;
}

int ImportanceModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int ImportanceModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ImportanceModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const Row& r = rows_[static_cast<size_t>(index.row())];
    const bool kept = r.rank <= keep_;
    auto raw = [&]() -> QVariant {
        switch (index.column()) {
        case Layer: return r.layer;
        case Rank: return r.rank;
        case Expert: return r.expert;
        case Score: return r.score;
        case Share: return r.share;
        case CumulativeShare: return r.cumulative;
        case Frequency: return r.frequency;
        case Gate: return r.gate;
        case Kept: return kept ? 1 : 0;
        default: return {};
        }
    };
    switch (role) {
    case Qt::UserRole: return raw();
    case Qt::DisplayRole:
        switch (index.column()) {
        case Score:
        case Gate: return QString::number(raw().toDouble(), 'g', 4);
        case Share:
        case CumulativeShare: return QString::number(100.0 * raw().toDouble(), 'f', 1) + QLatin1Char('%');
        case Frequency: return QString::number(raw().toDouble(), 'f', 0);
        case Kept: return kept ? tr("yes") : tr("no");
        default: return raw();
        }
    case Qt::TextAlignmentRole: return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::FontRole:
        if (kept) {
            QFont f;
            f.setBold(true);
            return f;
        }
        return {};
    default: return {};
    }
}

QVariant ImportanceModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole) return {};
    if (o == Qt::Vertical) return section + 1;
    switch (section) {
    case Layer: return tr("layer");
    case Rank: return tr("rank");
    case Expert: return tr("expert");
    case Score: return tr("score");
    case Share: return tr("share");
    case CumulativeShare: return tr("cumulative share");
    case Frequency: return tr("frequency");
    case Gate: return tr("gate sum");
    case Kept: return tr("kept");
    default: return {};
    }
}

}  // namespace moescope::gui
