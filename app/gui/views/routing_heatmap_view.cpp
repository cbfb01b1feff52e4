// Routing heatmap view: tokens x layers, layers x experts load, drill-down to the tokens behind a cell.
#include "app/gui/views/routing_heatmap_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "app/gui/run_store.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/db_catalog.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/routing_drill_model.h"
#include "app/gui/views/view_hub.h"
#include "storage/routing_reader.h"

namespace moescope::gui {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Catalog {
    std::vector<RunRow> runs;
    std::vector<PromptSetRow> sets;
};

QWidget* titled(const QString& title, QWidget* body, QWidget* bar) {
    auto* w = new QWidget;
    auto* l = new QVBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    auto* head = new QHBoxLayout;
    head->addWidget(new QLabel(QStringLiteral("<b>%1</b>").arg(title)));
    head->addStretch();
    head->addWidget(bar);
    l->addLayout(head);
    l->addWidget(body, 1);
    return w;
}

}  // namespace

RoutingHeatmapView::RoutingHeatmapView(ViewHub* hub, QWidget* parent)
    : QWidget(parent),
      hub_(hub),
      runner_(new AnalysisRunner(this)),
      drillRunner_(new AnalysisRunner(this)),
      catalogRunner_(new AnalysisRunner(this)) {
    setObjectName(QStringLiteral("viewRoutingHeatmap"));
    runCombo_ = new QComboBox;
    runCombo_->setObjectName(QStringLiteral("runCombo"));
    runCombo_->addItem(tr("Open run"), qint64(-1));
    loadCombo_ = new QComboBox;
    loadCombo_->setObjectName(QStringLiteral("loadCombo"));
    loadCombo_->addItem(tr("this run"), QString());
    byWeight_ = new QCheckBox(tr("Colour by weight"));
    byWeight_->setObjectName(QStringLiteral("colorByWeight"));
    byWeight_->setToolTip(tr("Off: colour = top-1 expert id. On: colour = its gate weight."));
    status_ = new QLabel;
    status_->setObjectName(QStringLiteral("status"));

    tokenMap_ = new HeatmapWidget;
    tokenMap_->setObjectName(QStringLiteral("tokenHeatmap"));
    tokenMap_->setAxisTitles(tr("token"), tr("MoE layer"));
    loadMap_ = new HeatmapWidget;
    loadMap_->setObjectName(QStringLiteral("loadHeatmap"));
    loadMap_->setAxisTitles(tr("MoE layer"), tr("expert"));
    drill_ = new RoutingDrillModel(this);
    drillTable_ = new QTableView;
    drillTable_->setObjectName(QStringLiteral("drillTable"));
    drillTable_->setModel(drill_);
    drillTable_->setSelectionBehavior(QAbstractItemView::SelectRows);
    drillTable_->setSelectionMode(QAbstractItemView::SingleSelection);
    drillTable_->horizontalHeader()->setStretchLastSection(false);
    drillTable_->horizontalHeader()->setSectionResizeMode(RoutingDrillModel::Context, QHeaderView::Stretch);
    drillTable_->verticalHeader()->hide();
    drillTitle_ = new QLabel(tr("Click a cell of the load matrix to list the tokens that chose that expert."));
    drillTitle_->setObjectName(QStringLiteral("drillTitle"));

    tokenExport_ = new ExportBar(QStringLiteral("routing_tokens"), tokenMap_, nullptr);
    loadExport_ = new ExportBar(QStringLiteral("expert_load"), loadMap_, nullptr);
    drillExport_ = new ExportBar(QStringLiteral("expert_tokens"), nullptr, drill_);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Run:")));
    top->addWidget(runCombo_);
    top->addWidget(byWeight_);
    top->addSpacing(16);
    top->addWidget(new QLabel(tr("Load of:")));
    top->addWidget(loadCombo_);
    top->addWidget(status_, 1);

    auto* drillBox = new QWidget;
    auto* dl = new QVBoxLayout(drillBox);
    dl->setContentsMargins(0, 0, 0, 0);
    auto* dh = new QHBoxLayout;
    dh->addWidget(drillTitle_, 1);
    dh->addWidget(drillExport_);
    dl->addLayout(dh);
    dl->addWidget(drillTable_, 1);

    auto* right = new QSplitter(Qt::Vertical);
    right->addWidget(titled(tr("Expert load (MoE layers × experts)"), loadMap_, loadExport_));
    right->addWidget(drillBox);
    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(titled(tr("Routing (tokens × MoE layers)"), tokenMap_, tokenExport_));
    split->addWidget(right);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(runCombo_, &QComboBox::currentIndexChanged, this,
            [this](int i) { setRunChoice(i < 0 ? -1 : runCombo_->itemData(i).toLongLong()); });
    connect(loadCombo_, &QComboBox::currentIndexChanged, this,
            [this](int i) { setLoadSet(i < 0 ? QString() : loadCombo_->itemData(i).toString()); });
    connect(byWeight_, &QCheckBox::toggled, this, [this](bool) { showTokenColours(); });
    connect(tokenMap_, &HeatmapWidget::cellClicked, this, [this](int row, int col) {
        tokenMap_->setSelectedCell(row, col);
        if (showsContextRun()) hub_->context->selectToken(row);
    });
    connect(loadMap_, &HeatmapWidget::cellClicked, this, [this](int slot, int expert) {
        if (!shown_ || !shown_->loadArrays) return;
        const auto& layers = shown_->loadArrays->moe_layers;
        if (slot < 0 || slot >= static_cast<int>(layers.size())) return;
        drillDown(slot, expert);
        hub_->context->selectExpert(layers[static_cast<size_t>(slot)], expert);
    });
    connect(drillTable_, &QTableView::clicked, this, [this](const QModelIndex& idx) {
        if (!idx.isValid() || !shown_ || !shown_->loadIsRun) return;
        const int row = static_cast<int>(drill_->rowAt(idx.row()).row);
        tokenMap_->setSelectedCell(row, std::max(0, slotOfLayer(drill_->layer())));
        if (showsContextRun()) hub_->context->selectToken(row);
    });
    connect(runner_, &AnalysisRunner::failed, this, [this](const QString& m) {
        status_->setText(tr("Error: %1").arg(m));
        emit failed(m);
    });
    connect(runner_, &AnalysisRunner::busyChanged, this, [this](bool busy) {
        if (busy) status_->setText(tr("computing…"));
    });
    connect(catalogRunner_, &AnalysisRunner::failed, this, [this](const QString& m) { status_->setText(m); });
    connect(hub_, &ViewHub::databaseChanged, this, [this] { refreshCatalog(); });
    connect(hub_, &ViewHub::runsChanged, this, [this] { refreshCatalog(); });

    hub_->context->addObserver(this, this);  // tells us the current run, if any
    refreshCatalog();
}

RoutingHeatmapView::~RoutingHeatmapView() = default;

void RoutingHeatmapView::refreshCatalog() {
    const QString path = hub_->databasePath();
    if (path.isEmpty()) return;
    catalogRunner_->run<Catalog>(
        [path](const std::atomic<bool>&) {
            auto db = openReadOnly(path);
            return Catalog{listRuns(*db), listPromptSets(*db)};
        },
        [this](Catalog&& c) {
            const QSignalBlocker b1(runCombo_), b2(loadCombo_);
            runCombo_->clear();
            runCombo_->addItem(tr("Open run"), qint64(-1));
            for (const RunRow& r : c.runs)
                runCombo_->addItem(QStringLiteral("#%1 %2 (%3 tokens)").arg(r.id).arg(r.label).arg(r.tokens), r.id);
            runCombo_->setCurrentIndex(std::max(0, runCombo_->findData(runChoice_)));
            loadCombo_->clear();
            loadCombo_->addItem(tr("this run"), QString());
            for (const PromptSetRow& s : c.sets)
                loadCombo_->addItem(tr("prompt set %1 (%2 prompts)").arg(s.name).arg(s.prompts), s.name);
            loadCombo_->setCurrentIndex(std::max(0, loadCombo_->findData(loadSet_)));
            emit catalogReady();
        });
}

void RoutingHeatmapView::setRunChoice(qint64 runId) {
    runChoice_ = runId;
    {
        const QSignalBlocker b(runCombo_);
        const int i = runCombo_->findData(runId);
        if (i >= 0) runCombo_->setCurrentIndex(i);
    }
    recompute();
}

void RoutingHeatmapView::setLoadSet(const QString& set) {
    loadSet_ = set;
    {
        const QSignalBlocker b(loadCombo_);
        const int i = loadCombo_->findData(set);
        if (i >= 0) loadCombo_->setCurrentIndex(i);
    }
    recompute();
}

void RoutingHeatmapView::setColorByWeight(bool byWeight) { byWeight_->setChecked(byWeight); }

bool RoutingHeatmapView::showsContextRun() const {
    return shown_ && shown_->run && shown_->run == hub_->context->run();
}

int RoutingHeatmapView::slotOfLayer(int layer) const {
    if (!shown_ || !shown_->loadArrays) return -1;
    const auto& l = shown_->loadArrays->moe_layers;
    for (size_t m = 0; m < l.size(); ++m)
        if (l[m] == layer) return static_cast<int>(m);
    return -1;
}

void RoutingHeatmapView::recompute() {
    RunDataPtr contextRun = runChoice_ < 0 ? hub_->context->run() : nullptr;
    const qint64 runId = runChoice_;
    const std::string set = loadSet_.toStdString();
    const QString path = hub_->databasePath();
    if (runId < 0 && !contextRun && set.empty()) {
        runner_->cancel();
        shown_.reset();
        tokenMap_->setData(0, 0, {});
        loadMap_->setData(0, 0, {});
        drill_->setRows({}, -1, -1);
        status_->setText(tr("Open a run (Runs dock) or pick one above."));
        return;
    }
    runner_->run<RoutingHeatmapResult>(
        [contextRun, runId, set, path](const std::atomic<bool>& cancelled) {
            RoutingHeatmapResult r;
            std::unique_ptr<storage::Database> db;
            auto database = [&]() -> storage::Database& {
                if (!db) db = openReadOnly(path);
                return *db;
            };
            r.run = runId >= 0 ? loadRun(database(), runId) : contextRun;
            if (cancelled) return r;
            if (set.empty()) {
                // Aliasing pointer: the arrays live as long as the run.
                r.loadArrays = std::shared_ptr<const RoutingArrays>(r.run, &r.run->routing);
                r.loadTexts = r.run->tokenText;
                r.loadLabel = r.run->runId >= 0 ? QStringLiteral("run %1").arg(r.run->runId) : QStringLiteral("the open run");
                r.loadIsRun = true;
            } else {
                storage::RoutingSelection sel;
                sel.prompt_set = set;
                r.loadArrays = std::make_shared<const RoutingArrays>(storage::read_routing(database(), sel));
                r.loadTexts = tokenTexts(database(), sel);
                r.loadLabel = QStringLiteral("prompt set %1").arg(QString::fromStdString(set));
                r.loadIsRun = false;
            }
            if (cancelled) return r;
            r.load = analysis::expert_load(*r.loadArrays, {}).value();
            if (r.run) {
                const RoutingArrays& a = r.run->routing;
                const size_t cells = static_cast<size_t>(a.n_tokens) * static_cast<size_t>(a.n_moe);
                r.topExpert.assign(cells, kNaN);
                r.topWeight.assign(cells, kNaN);
                for (int64_t t = 0; t < a.n_tokens; ++t)
                    for (int m = 0; m < a.n_moe; ++m) {
                        const size_t c = static_cast<size_t>(t) * a.n_moe + m;
                        if (a.k_max == 0 || a.experts[a.slot(t, m, 0)] < 0) continue;
                        r.topExpert[c] = a.experts[a.slot(t, m, 0)];
                        if (a.has_weights()) r.topWeight[c] = a.weights[a.slot(t, m, 0)];
                    }
            }
            return r;
        },
        [this](RoutingHeatmapResult&& r) { showResult(std::move(r)); });
}

void RoutingHeatmapView::showResult(RoutingHeatmapResult&& result) {
    shown_ = std::make_shared<const RoutingHeatmapResult>(std::move(result));
    const RoutingHeatmapResult& r = *shown_;
    const RoutingArrays& la = *r.loadArrays;

    // Load matrix: selections per (MoE layer, expert).
    const int E = r.load.n_experts, L = static_cast<int>(r.load.layers.size());
    std::vector<float> load(static_cast<size_t>(L) * E, 0.0f);
    for (int m = 0; m < L; ++m)
        for (int e = 0; e < E; ++e)
            load[static_cast<size_t>(m) * E + e] = static_cast<float>(r.load.layers[m].count[e]);
    loadMap_->setData(L, E, std::move(load), HeatmapWidget::Scale::Sequential);
    QStringList layerLabels, expertLabels;
    for (int l : la.moe_layers) layerLabels << QStringLiteral("L%1").arg(l);
    for (int e = 0; e < E; ++e) expertLabels << QString::number(e);
    loadMap_->setRowLabels(layerLabels);
    loadMap_->setColumnLabels(expertLabels);
    auto keep = shown_;
    loadMap_->setTooltip([keep](int m, int e, float v) {
        const auto& layer = keep->load.layers[static_cast<size_t>(m)];
        return QStringLiteral("L%1 · expert %2\n%3 selections · %4% of the layer's · %5% of tokens")
            .arg(layer.layer)
            .arg(e)
            .arg(static_cast<qint64>(v))
            .arg(layer.fraction[static_cast<size_t>(e)] * 100.0, 0, 'f', 1)
            .arg(layer.utilisation[static_cast<size_t>(e)] * 100.0, 0, 'f', 1);
    });

    // Token heatmap.
    if (r.run) {
        QStringList rows;
        for (int t = 0; t < r.run->tokenCount(); ++t) {
            QString text = r.run->tokenText[t];
            text.replace(QLatin1Char('\n'), QStringLiteral("⏎"));
            rows << QStringLiteral("%1 %2").arg(t).arg(text);
        }
        showTokenColours();
        tokenMap_->setRowLabels(rows);
        QStringList cols;
        for (int l : r.run->routing.moe_layers) cols << QStringLiteral("L%1").arg(l);
        tokenMap_->setColumnLabels(cols);
        tokenMap_->setTooltip([keep](int t, int m, float) {
            const RunData& run = *keep->run;
            const RoutingArrays& a = run.routing;
            QString s = QStringLiteral("token %1 “%2” · L%3\n").arg(t).arg(t < run.tokenCount() ? run.tokenText[t] : QString()).arg(a.moe_layers[static_cast<size_t>(m)]);
            for (int j = 0; j < a.k_max; ++j) {
                const int e = a.experts[a.slot(t, m, j)];
                if (e < 0) continue;
                s += QStringLiteral("  E%1").arg(e);
                if (a.has_weights()) s += QStringLiteral(" %1").arg(a.weights[a.slot(t, m, j)], 0, 'f', 3);
                s += QLatin1Char('\n');
            }
            return s.trimmed();
        });
    } else {
        tokenMap_->setData(0, 0, {});
    }
    status_->setText(tr("%1 tokens · load of %2 (%3 tokens)")
                         .arg(r.run ? r.run->tokenCount() : 0)
                         .arg(r.loadLabel)
                         .arg(la.n_tokens));
    // Re-apply the context's selection to the new matrices.
    const RunContext* ctx = hub_->context;
    drill_->setRows({}, -1, -1);
    if (ctx->selectedExpert() >= 0) onExpertSelected(ctx->selectedExpertLayer(), ctx->selectedExpert());
    if (ctx->selectedToken() >= 0) onTokenSelected(ctx->selectedToken());
    emit resultReady();
}

void RoutingHeatmapView::showTokenColours() {
    if (!shown_ || !shown_->run) return;
    const RoutingArrays& a = shown_->run->routing;
    const QPoint sel = tokenMap_->selectedCell();
    if (byWeight_->isChecked()) {
        tokenMap_->setData(static_cast<int>(a.n_tokens), a.n_moe, shown_->topWeight, HeatmapWidget::Scale::Sequential);
        tokenMap_->setRange(0.0f, 1.0f);
    } else {
        tokenMap_->clearRange();
        tokenMap_->setData(static_cast<int>(a.n_tokens), a.n_moe, shown_->topExpert, HeatmapWidget::Scale::Categorical);
    }
    tokenMap_->setSelectedCell(sel.y(), sel.x());
}

void RoutingHeatmapView::drillDown(int slot, int expert) {
    if (!shown_ || !shown_->loadArrays) return;
    auto keep = shown_;
    const int layer = slot >= 0 && slot < keep->loadArrays->n_moe ? keep->loadArrays->moe_layers[static_cast<size_t>(slot)] : -1;
    loadMap_->setSelectedCell(slot, expert);
    drillRunner_->run<std::vector<DrillRow>>(
        [keep, slot, expert](const std::atomic<bool>&) { return tokensChoosing(*keep->loadArrays, keep->loadTexts, slot, expert); },
        [this, layer, expert, keep](std::vector<DrillRow>&& rows) {
            if (keep != shown_) return;
            drillTitle_->setText(tr("%1 tokens of %2 chose expert %3 at layer %4")
                                     .arg(rows.size())
                                     .arg(keep->loadLabel)
                                     .arg(expert)
                                     .arg(layer));
            drill_->setRows(std::move(rows), layer, expert);
            drillTable_->resizeColumnToContents(RoutingDrillModel::Token);
            emit drillReady();
        });
}

void RoutingHeatmapView::onRunLoaded(const RunDataPtr&) {
    if (runChoice_ < 0) recompute();
}

void RoutingHeatmapView::onRunClosed() {
    if (runChoice_ < 0) recompute();
}

void RoutingHeatmapView::onTokenSelected(int row) {
    if (!showsContextRun()) return;
    const int slot = std::max(0, hub_->context->selectedLayer() >= 0 ? slotOfLayer(hub_->context->selectedLayer()) : 0);
    tokenMap_->setSelectedCell(row, slot);
    if (shown_->loadIsRun)
        for (int i = 0; i < drill_->rowCount(); ++i)
            if (drill_->rowAt(i).row == row) {
                const QSignalBlocker b(drillTable_->selectionModel());
                drillTable_->selectRow(i);
                break;
            }
}

void RoutingHeatmapView::onExpertSelected(int layer, int expert) {
    const int slot = slotOfLayer(layer);
    if (slot < 0 || expert < 0) {
        loadMap_->setSelectedCell(-1, -1);
        return;
    }
    if (drill_->layer() != layer || drill_->expert() != expert) drillDown(slot, expert);
    else loadMap_->setSelectedCell(slot, expert);
}

}  // namespace moescope::gui
