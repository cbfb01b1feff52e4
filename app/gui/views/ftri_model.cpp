#include "app/gui/views/ftri_model.h"

#include <QFont>

namespace moescope::gui {

FtriModel::FtriModel(QObject* parent) : QAbstractTableModel(parent) {}

void FtriModel::setRows(std::vector<analysis::FtriRow> rows) {
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
}

void FtriModel::setTopN(int n) {
    if (n == topN_) return;
    topN_ = n;
    if (!rows_.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1), {Qt::FontRole});
}

int FtriModel::rowOf(int layer, int expert) const {
    for (size_t i = 0; i < rows_.size(); ++i)
        if (rows_[i].layer == layer && rows_[i].expert == expert) return static_cast<int>(i);
    return -1;
}

int FtriModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int FtriModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant FtriModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const analysis::FtriRow& r = rows_[static_cast<size_t>(index.row())];
    auto raw = [&]() -> QVariant {
        switch (index.column()) {
        case Rank: return index.row() + 1;
        case Layer: return r.layer;
        case Expert: return r.expert;
        case BehaviorFreq: return r.behavior_freq;
        case ControlFreq: return r.control_freq;
        case Difference: return r.difference;
        case RiskRatio: return r.risk_ratio;
        case QValue: return r.q;
        case BehaviorCount: return static_cast<qlonglong>(r.behavior_count);
        case ControlCount: return static_cast<qlonglong>(r.control_count);
        default: return {};
        }
    };
    switch (role) {
    case Qt::UserRole: return raw();
    case Qt::DisplayRole: {
        const QVariant v = raw();
        switch (index.column()) {
        case BehaviorFreq:
        case ControlFreq:
        case Difference: return QString::number(v.toDouble(), 'f', 3);
        case RiskRatio: return QString::number(v.toDouble(), 'f', 2);
        case QValue: return QString::number(v.toDouble(), 'g', 3);
        default: return v;
        }
    }
    case Qt::TextAlignmentRole: return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::FontRole:
        if (index.row() < topN_) {
            QFont f;
            f.setBold(true);
            return f;
        }
        return {};
    default: return {};
    }
}

QVariant FtriModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole) return {};
    if (o == Qt::Vertical) return section + 1;
    switch (section) {
    case Rank: return tr("rank");
    case Layer: return tr("layer");
    case Expert: return tr("expert");
    case BehaviorFreq: return tr("behavior freq");
    case ControlFreq: return tr("control freq");
    case Difference: return tr("difference");
    case RiskRatio: return tr("risk ratio");
    case QValue: return tr("q-value");
    case BehaviorCount: return tr("behavior count");
    case ControlCount: return tr("control count");
    default: return {};
    }
}

}  // namespace moescope::gui
