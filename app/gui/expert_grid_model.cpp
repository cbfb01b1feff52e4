// ExpertGridModel: intervention state + usage counts for the live expert grid.
#include "app/gui/expert_grid_model.h"

#include <algorithm>

namespace moescope::gui {

ExpertGridModel::ExpertGridModel(QObject* parent) : QAbstractTableModel(parent) {}

void ExpertGridModel::setShape(std::vector<int> moeLayers, int nExperts, int defaultTopK) {
    beginResetModel();
    moeLayers_ = std::move(moeLayers);
    nExperts_ = std::max(0, nExperts);
    defaultTopK_ = defaultTopK;
    const size_t n = moeLayers_.size() * static_cast<size_t>(nExperts_);
    cells_.assign(n, Cell{});
    counts_.assign(n, 0);
    current_.assign(n, 0.0f);
    topK_.assign(moeLayers_.size(), 0);
    tokensSeen_ = 0;
    globalTopK_ = 0;
    topP_.reset();
    topPMaxK_ = 0;
    endResetModel();
}

int ExpertGridModel::rowOfLayer(int layer) const {
    const auto it = std::find(moeLayers_.begin(), moeLayers_.end(), layer);
    return it == moeLayers_.end() ? -1 : static_cast<int>(it - moeLayers_.begin());
}

double ExpertGridModel::usage(int row, int col) const {
    return tokensSeen_ > 0 ? static_cast<double>(counts_[index1(row, col)]) / static_cast<double>(tokensSeen_) : 0.0;
}

QString ExpertGridModel::stateName(State s) {
    switch (s) {
    case State::Disabled: return QStringLiteral("disabled");
    case State::Forced: return QStringLiteral("forced");
    case State::Normal: break;
    }
    return QStringLiteral("normal");
}

QString ExpertGridModel::cellToolTip(int row, int col) const {
    QString text = QStringLiteral("layer %1 · expert %2 · selected %3% of tokens")
                       .arg(layerOfRow(row))
                       .arg(col)
                       .arg(usage(row, col) * 100.0, 0, 'f', 1);
    const Cell& c = cells_[index1(row, col)];
    if (c.state != State::Normal) text += QStringLiteral(" · ") + stateName(c.state);
    if (c.bias != 0.0f) text += QStringLiteral(" · bias %1").arg(c.bias, 0, 'g', 3);
    if (const float w = currentWeight(row, col); w > 0.0f)
        text += QStringLiteral(" · weight %1 for this token").arg(w, 0, 'f', 3);
    return text;
}

void ExpertGridModel::cycleState(int row, int col) {
    const State next = static_cast<State>((static_cast<int>(state(row, col)) + 1) % 3);
    setState(row, col, next);
}

void ExpertGridModel::setState(int row, int col, State s) {
    if (row < 0 || row >= layerCount() || col < 0 || col >= nExperts_) return;
    Cell& c = cells_[index1(row, col)];
    if (c.state == s) return;
    c.state = s;
    const QModelIndex i = index(row, col);
    emit dataChanged(i, i, {StateRole, Qt::ToolTipRole, Qt::DisplayRole});
    emit interventionsChanged();
}

void ExpertGridModel::setLayerTopK(int row, int k) {
    if (row < 0 || row >= layerCount()) return;
    k = std::clamp(k, 0, nExperts_);
    if (topK_[static_cast<size_t>(row)] == k) return;
    topK_[static_cast<size_t>(row)] = k;
    emit headerDataChanged(Qt::Vertical, row, row);
    emit interventionsChanged();
}

void ExpertGridModel::setGlobalTopK(int k) {
    k = std::clamp(k, 0, nExperts_);
    if (k == globalTopK_) return;
    globalTopK_ = k;
    if (layerCount() > 0) emit headerDataChanged(Qt::Vertical, 0, layerCount() - 1);
    emit interventionsChanged();
}

void ExpertGridModel::clearAll() {
    const Interventions before = interventions();
    std::fill(cells_.begin(), cells_.end(), Cell{});
    std::fill(topK_.begin(), topK_.end(), 0);
    globalTopK_ = 0;
    topP_.reset();
    topPMaxK_ = 0;
    if (before.empty()) return;
    emitAllChanged({StateRole, BiasRole, Qt::ToolTipRole, Qt::DisplayRole});
    if (layerCount() > 0) emit headerDataChanged(Qt::Vertical, 0, layerCount() - 1);
    emit interventionsChanged();
}

int ExpertGridModel::setInterventions(const Interventions& iv) {
    std::fill(cells_.begin(), cells_.end(), Cell{});
    std::fill(topK_.begin(), topK_.end(), 0);
    int skipped = 0;
    auto cell = [&](int layer, int expert) -> Cell* {
        const int row = rowOfLayer(layer);
        if (row < 0 || expert < 0 || expert >= nExperts_) {
            ++skipped;
            return nullptr;
        }
        return &cells_[index1(row, expert)];
    };
    for (const ExpertRef& r : iv.disable)
        if (Cell* c = cell(r.layer, r.expert)) c->state = State::Disabled;
    for (const ExpertRef& r : iv.force)
        if (Cell* c = cell(r.layer, r.expert)) c->state = State::Forced;
    for (const ExpertBias& b : iv.bias)
        if (Cell* c = cell(b.layer, b.expert)) c->bias = b.bias;
    for (const LayerTopK& t : iv.top_k_per_layer) {
        const int row = rowOfLayer(t.layer);
        if (row < 0 || t.k < 1 || t.k > nExperts_) {
            ++skipped;
            continue;
        }
        topK_[static_cast<size_t>(row)] = t.k;
    }
    globalTopK_ = iv.top_k ? std::clamp(*iv.top_k, 0, nExperts_) : 0;
    topP_ = iv.top_p;
    topPMaxK_ = iv.top_p_max_k;
    emitAllChanged({StateRole, BiasRole, Qt::ToolTipRole, Qt::DisplayRole});
    if (layerCount() > 0) emit headerDataChanged(Qt::Vertical, 0, layerCount() - 1);
    emit interventionsChanged();
    return skipped;
}

Interventions ExpertGridModel::interventions() const {
    Interventions iv;
    for (int row = 0; row < layerCount(); ++row) {
        const int layer = layerOfRow(row);
        for (int e = 0; e < nExperts_; ++e) {
            const Cell& c = cells_[index1(row, e)];
            if (c.state == State::Disabled) iv.disable.push_back({layer, e});
            if (c.state == State::Forced) iv.force.push_back({layer, e});
            if (c.bias != 0.0f) iv.bias.push_back({layer, e, c.bias});
        }
        if (const int k = topK_[static_cast<size_t>(row)]; k > 0) iv.top_k_per_layer.push_back({layer, k});
    }
    if (globalTopK_ > 0) iv.top_k = globalTopK_;
    iv.top_p = topP_;
    iv.top_p_max_k = topPMaxK_;
    return iv;
}

void ExpertGridModel::addObservedToken(const TokenRouting& r) {
    if (r.k_max <= 0 || r.experts.size() != static_cast<size_t>(layerCount()) * r.k_max) return;
    for (int row = 0; row < layerCount(); ++row)
        for (int j = 0; j < r.k_max; ++j) {
            const int e = r.experts[static_cast<size_t>(row) * r.k_max + j];
            if (e >= 0 && e < nExperts_) ++counts_[index1(row, e)];
        }
    ++tokensSeen_;
    emitAllChanged({UsageRole, Qt::ToolTipRole, Qt::DisplayRole});
    emit usageChanged();
}

void ExpertGridModel::setCurrentToken(const TokenRouting& r) {
    std::fill(current_.begin(), current_.end(), 0.0f);
    if (r.k_max > 0 && r.experts.size() == static_cast<size_t>(layerCount()) * r.k_max &&
        r.weights.size() == r.experts.size()) {
        for (int row = 0; row < layerCount(); ++row)
            for (int j = 0; j < r.k_max; ++j) {
                const size_t s = static_cast<size_t>(row) * r.k_max + j;
                const int e = r.experts[s];
                // A chosen expert always shows, even with weight 0 (forced experts can get ~0).
                if (e >= 0 && e < nExperts_) current_[index1(row, e)] = std::max(r.weights[s], 1e-6f);
            }
    }
    emitAllChanged({CurrentWeightRole, Qt::ToolTipRole});
    emit usageChanged();
}

void ExpertGridModel::resetUsage() {
    std::fill(counts_.begin(), counts_.end(), 0);
    std::fill(current_.begin(), current_.end(), 0.0f);
    tokensSeen_ = 0;
    emitAllChanged({UsageRole, CurrentWeightRole, Qt::ToolTipRole, Qt::DisplayRole});
    emit usageChanged();
}

void ExpertGridModel::emitAllChanged(const QList<int>& roles) {
    if (layerCount() == 0 || nExperts_ == 0) return;
    emit dataChanged(index(0, 0), index(layerCount() - 1, nExperts_ - 1), roles);
}

int ExpertGridModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : layerCount();
}

int ExpertGridModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : nExperts_;
}

QVariant ExpertGridModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const int row = index.row(), col = index.column();
    switch (role) {
    case Qt::DisplayRole: {
        const State s = state(row, col);
        if (s == State::Disabled) return QStringLiteral("off");
        if (s == State::Forced) return QStringLiteral("on");
        return QString::number(usage(row, col) * 100.0, 'f', 1);
    }
    case Qt::ToolTipRole: return cellToolTip(row, col);
    case StateRole: return static_cast<int>(state(row, col));
    case UsageRole: return usage(row, col);
    case CurrentWeightRole: return static_cast<double>(currentWeight(row, col));
    case BiasRole: return static_cast<double>(bias(row, col));
    case LayerRole: return layerOfRow(row);
    default: return {};
    }
}

bool ExpertGridModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return false;
    if (role != StateRole && role != Qt::EditRole) return false;
    bool ok = false;
    const int v = value.toInt(&ok);
    if (!ok || v < 0 || v > 2) return false;
    setState(index.row(), index.column(), static_cast<State>(v));
    return true;
}

QVariant ExpertGridModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
    if (o == Qt::Horizontal) {
        if (section < 0 || section >= nExperts_) return {};
        return role == Qt::DisplayRole ? QStringLiteral("E%1").arg(section) : QStringLiteral("expert %1").arg(section);
    }
    if (section < 0 || section >= layerCount()) return {};
    const int k = topK_[static_cast<size_t>(section)];
    const int effective = k > 0 ? k : (globalTopK_ > 0 ? globalTopK_ : defaultTopK_);
    if (role == Qt::ToolTipRole)
        return QStringLiteral("layer %1 · top-%2%3")
            .arg(layerOfRow(section))
            .arg(effective)
            .arg(k > 0 ? QStringLiteral(" (override)") : QString());
    return k > 0 ? QStringLiteral("L%1 k=%2").arg(layerOfRow(section)).arg(k) : QStringLiteral("L%1").arg(layerOfRow(section));
}

Qt::ItemFlags ExpertGridModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsEditable | Qt::ItemNeverHasChildren;
}

}  // namespace moescope::gui
