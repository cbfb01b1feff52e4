#include "app/gui/views/run_compare_model.h"

#include <QColor>
#include <algorithm>

namespace moescope::gui {

std::vector<TokenDiffRow> alignTokens(const QStringList& a, const QStringList& b) {
    std::vector<TokenDiffRow> out;
    const int n = static_cast<int>(std::max(a.size(), b.size()));
    for (int i = 0; i < n; ++i) {
        TokenDiffRow r;
        r.position = i;
        const bool hasA = i < a.size(), hasB = i < b.size();
        if (hasA) r.a = a[i];
        if (hasB) r.b = b[i];
        r.differs = !hasA || !hasB || r.a != r.b;
        out.push_back(std::move(r));
    }
    return out;
}

void TokenDiffModel::setRows(std::vector<TokenDiffRow> rows) {
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
}

int TokenDiffModel::differing() const {
    return static_cast<int>(std::count_if(rows_.begin(), rows_.end(), [](const TokenDiffRow& r) { return r.differs; }));
}

int TokenDiffModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int TokenDiffModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant TokenDiffModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const TokenDiffRow& r = rows_[static_cast<size_t>(index.row())];
    if (role == Qt::DisplayRole || role == Qt::UserRole) {
        auto shown = [&](QString t) {
            if (role == Qt::DisplayRole) t.replace(QLatin1Char('\n'), QStringLiteral("⏎"));
            return t;
        };
        switch (index.column()) {
            case Position: return r.position;
            case A: return shown(r.a);
            case B: return shown(r.b);
            case Same: return role == Qt::UserRole ? QVariant(r.differs ? 0 : 1) : QVariant(r.differs ? QStringLiteral("≠") : QStringLiteral("="));
        }
    }
    if (role == Qt::BackgroundRole && r.differs) return QColor(255, 214, 170);  // the branch view's highlight
    return {};
}

QVariant TokenDiffModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole || o != Qt::Horizontal) return QAbstractTableModel::headerData(section, o, role);
    static const char* names[] = {"position", "run A", "run B", "same"};
    return section >= 0 && section < ColumnCount ? QVariant(QString::fromLatin1(names[section])) : QVariant();
}

void LayerDiffModel::setResult(analysis::SaturationResult r) {
    beginResetModel();
    r_ = std::move(r);
    endResetModel();
}

int LayerDiffModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(r_.layers.size()); }
int LayerDiffModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerDiffModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const analysis::LayerSaturation& L = r_.layers[static_cast<size_t>(index.row())];
    auto num = [&](double v) { return role == Qt::UserRole ? QVariant(v) : QVariant(QString::number(v, 'f', 3)); };
    if (role == Qt::DisplayRole || role == Qt::UserRole) {
        switch (index.column()) {
            case Layer: return L.layer;
            case Tokens: return static_cast<qint64>(r_.tokens);
            case SetDiffer: return num(L.set_differ);
            case Jaccard: return num(L.jaccard);
            case Top1: return num(L.top1_agreement);
            case Overlap: return num(L.saturation);
        }
    }
    if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant LayerDiffModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole || o != Qt::Horizontal) return QAbstractTableModel::headerData(section, o, role);
    static const char* names[] = {"layer", "tokens", "sets_differ", "jaccard", "top1_agreement", "topk_overlap"};
    return section >= 0 && section < ColumnCount ? QVariant(QString::fromLatin1(names[section])) : QVariant();
}

}  // namespace moescope::gui
