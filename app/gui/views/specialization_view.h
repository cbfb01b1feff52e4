#pragma once
// Specialization view (issue 11), sub-tabs over one routing source (the open run, every recorded run,
// a prompt set or a run of the database):
//   Balance       per-layer normalised entropy and load balance (analysis::expert_load): chart + table
//   Tokens        top tokens per expert with an example context (analysis::token_specialization): table
//   Domains       prompt set x expert share for a layer across the database's sets (analysis::domain_specialization)
//   Co-activation expert x expert P(b | a) for a layer (analysis::coactivation): heatmap
//   Transitions   expert of layer l -> expert of the next MoE layer P(b | a) (analysis::transitions): heatmap
//   Consistency   SRP vs segment length and SCH vs cache size, per layer and cross-layer
//                 (analysis::local_routing_consistency): charts
//   Contribution  EASY-EP token contribution s_t per layer (analysis::token_contribution_summary): chart + table;
//                 needs a run recorded at capture level Activations
// One AnalysisRunner job computes everything for a source; the layer picker only re-renders.
#include <QStringList>
#include <QWidget>
#include <memory>
#include <optional>

#include "analysis/coactivation.h"
#include "analysis/lrc.h"
#include "analysis/specialization.h"
#include "app/gui/run_context.h"
#include "app/gui/views/specialization_model.h"

class QComboBox;
class QLabel;
class QSpinBox;
class QTabWidget;
class QTableView;
class QChartView;

namespace moescope::gui {

class AnalysisRunner;
class HeatmapWidget;
class ViewHub;

struct SpecializationResult {
    QString sourceLabel;
    std::shared_ptr<const RoutingArrays> arrays;
    QStringList texts;
    analysis::LoadResult load;
    std::optional<analysis::TokenSpecialization> tokens;
    std::vector<std::vector<TokenSpecRow>> tokenRows;  // [n_moe] rows of the Tokens table
    std::optional<analysis::DomainSpecialization> domains;  // over all recorded runs' prompt sets
    std::optional<analysis::CoactivationResult> coactivation;
    std::optional<analysis::TransitionResult> transitions;
    std::optional<analysis::LrcResult> lrc;
    std::optional<analysis::ContributionSummary> contribution;  // absent below capture level Activations
    QString contributionMissing;  // why `contribution` is absent (shown in its tab)
    QStringList notes;  // analyses that could not run, and why
};

class SpecializationView : public QWidget, public IRunObserver {
    Q_OBJECT
public:
    // Source choice: "open" | "all" | "set:<name>" | "run:<id>".
    explicit SpecializationView(ViewHub* hub, QWidget* parent = nullptr);
    ~SpecializationView() override;

    void setSource(const QString& source);
    void setLayerSlot(int slot);  // MoE slot shown by the per-layer tabs
    void setMinCount(int n);      // token specialisation: minimum occurrences of a token id
    void refreshCatalog();

    QTabWidget* tabs() const { return tabs_; }
    QChartView* balanceChart() const { return balanceChart_; }
    QChartView* srpChart() const { return srpChart_; }
    QChartView* schChart() const { return schChart_; }
    QChartView* contributionChart() const { return contribChart_; }
    SpecTableModel* contributionModel() const { return contrib_; }
    QLabel* contributionMessage() const { return contribMessage_; }
    SpecTableModel* balanceModel() const { return balance_; }
    SpecTableModel* tokenModel() const { return tokens_; }
    QTableView* tokenTable() const { return tokenTable_; }
    HeatmapWidget* domainMap() const { return domainMap_; }
    HeatmapWidget* coactMap() const { return coactMap_; }
    HeatmapWidget* transitionMap() const { return transitionMap_; }
    QComboBox* sourceCombo() const { return sourceCombo_; }
    QComboBox* layerCombo() const { return layerCombo_; }
    AnalysisRunner* runner() const { return runner_; }
    const SpecializationResult* result() const { return shown_.get(); }
    int layerSlot() const { return slot_; }

    void onRunLoaded(const RunDataPtr& run) override;
    void onRunClosed() override;
    void onExpertSelected(int layer, int expert) override;

signals:
    void resultReady();
    void catalogReady();
    void failed(const QString& message);

private:
    void recompute();
    void showResult(SpecializationResult&& r);
    void renderLayer();
    void fillBalanceChart();
    void fillLrcCharts();
    void fillContribution();
    void markExpert(int expert);

    ViewHub* hub_;
    AnalysisRunner* runner_;
    AnalysisRunner* catalogRunner_;
    QComboBox* sourceCombo_;
    QComboBox* layerCombo_;
    QSpinBox* minCount_;
    QLabel* status_;
    QLabel* notes_;
    QTabWidget* tabs_;
    QChartView* balanceChart_;
    QChartView* srpChart_;
    QChartView* schChart_;
    QChartView* contribChart_;
    QLabel* contribMessage_;
    QTableView* balanceTable_;
    QTableView* tokenTable_;
    HeatmapWidget* domainMap_;
    HeatmapWidget* coactMap_;
    HeatmapWidget* transitionMap_;
    SpecTableModel* balance_;
    SpecTableModel* tokens_;
    SpecTableModel* contrib_;
    QString source_ = QStringLiteral("open");
    int slot_ = 0;
    int minCount_n_ = 3;
    std::shared_ptr<const SpecializationResult> shown_;
};

}  // namespace moescope::gui
