#pragma once
// ExpertGridModel: the live expert grid's data, one row per MoE layer and one column per routed expert.
// Each cell has an intervention state (normal / disabled / forced, plus an optional router bias from a
// preset), a usage fraction (share of tokens so far that selected it) and, for the current or hovered
// token, the weight it got. Per-layer top-k overrides live on the rows. interventions() turns the
// grid into the engine's plain-data Interventions; interventionsChanged fires on every user change.
#include <QAbstractTableModel>
#include <optional>
#include <vector>

#include "app/gui/run_data.h"
#include "engine/interventions.h"

namespace moescope::gui {

class ExpertGridModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum class State : int { Normal = 0, Disabled = 1, Forced = 2 };
    enum Role {
        StateRole = Qt::UserRole + 1,  // int(State)
        UsageRole,                     // double in [0,1]
        CurrentWeightRole,             // double, 0 when the current token did not choose it
        BiasRole,                      // double router-logit bias (0 = none)
        LayerRole,                     // int HF layer index of the row
    };

    explicit ExpertGridModel(QObject* parent = nullptr);

    // Shape of the loaded model: HF indices of the MoE layers, routed experts per layer, default top-k.
    void setShape(std::vector<int> moeLayers, int nExperts, int defaultTopK);
    int layerCount() const { return static_cast<int>(moeLayers_.size()); }
    int expertCount() const { return nExperts_; }
    int defaultTopK() const { return defaultTopK_; }
    int layerOfRow(int row) const { return moeLayers_.at(static_cast<size_t>(row)); }
    int rowOfLayer(int layer) const;  // -1 when `layer` is not a MoE layer

    // Typed accessors used by the view's painter (no QVariant per cell).
    State state(int row, int col) const { return cells_[index1(row, col)].state; }
    float bias(int row, int col) const { return cells_[index1(row, col)].bias; }
    double usage(int row, int col) const;
    float currentWeight(int row, int col) const { return current_[index1(row, col)]; }
    int layerTopK(int row) const { return topK_.at(static_cast<size_t>(row)); }  // 0 = model default
    int globalTopK() const { return globalTopK_; }  // 0 = model default (set by presets)
    void setGlobalTopK(int k);
    qint64 tokensSeen() const { return tokensSeen_; }
    static QString stateName(State s);
    QString cellToolTip(int row, int col) const;

    // User edits (each emits interventionsChanged once).
    void cycleState(int row, int col);  // normal -> disabled -> forced -> normal
    void setState(int row, int col, State s);
    void setLayerTopK(int row, int k);  // 0 = model default
    void clearAll();
    // Replace the whole grid state from plain data (preset load). Entries outside the shape are
    // skipped and counted in the return value so the caller can warn.
    int setInterventions(const Interventions& iv);
    Interventions interventions() const;

    // Routing observations: counts for the usage fractions, and the token to highlight.
    void addObservedToken(const TokenRouting& r);
    void setCurrentToken(const TokenRouting& r);  // empty clears the highlight
    void resetUsage();

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;

signals:
    void interventionsChanged();
    void usageChanged();  // counts or highlight changed (repaint only)

private:
    struct Cell {
        State state = State::Normal;
        float bias = 0.0f;
    };
    size_t index1(int row, int col) const { return static_cast<size_t>(row) * nExperts_ + col; }
    void emitAllChanged(const QList<int>& roles);

    std::vector<int> moeLayers_;
    int nExperts_ = 0;
    int defaultTopK_ = 0;
    std::vector<Cell> cells_;        // [n_moe * n_experts]
    std::vector<int> topK_;          // [n_moe], 0 = default
    std::vector<qint64> counts_;     // [n_moe * n_experts] tokens that selected the expert
    std::vector<float> current_;     // [n_moe * n_experts] weight for the highlighted token
    qint64 tokensSeen_ = 0;
    int globalTopK_ = 0;
    std::optional<float> topP_;  // carried through from presets; no grid UI for it
    int topPMaxK_ = 0;
};

}  // namespace moescope::gui
