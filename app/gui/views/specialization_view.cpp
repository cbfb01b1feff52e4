// Specialization view: balance, token-ID specialisation, domains, co-activation, transitions, LRC,
// EASY-EP token contribution.
#include "app/gui/views/specialization_view.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QPen>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>
#include <map>

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

struct Catalog {
    std::vector<RunRow> runs;
    std::vector<PromptSetRow> sets;
};

// Segment lengths for SRP/SCH: moe-lrc uses 4..256; recorded prompts are often short, so start at 2.
const std::vector<int> kSegLengths = {2, 4, 8, 16, 32, 64, 128, 256};

QWidget* page(QWidget* body, ExportBar* bar, const QString& caption, QWidget* extra = nullptr) {
    auto* w = new QWidget;
    auto* l = new QVBoxLayout(w);
    auto* head = new QHBoxLayout;
    auto* c = new QLabel(caption);
    c->setWordWrap(true);
    head->addWidget(c, 1);
    if (bar) head->addWidget(bar);
    l->addLayout(head);
    l->addWidget(body, 2);
    if (extra) l->addWidget(extra, 1);
    return w;
}

QChartView* chartView(const QString& name) {
    auto* v = new QChartView;
    v->setObjectName(name);
    v->setRenderHint(QPainter::Antialiasing);
    v->setMinimumHeight(220);
    return v;
}

void replaceChart(QChartView* view, QChart* chart) {
    QChart* old = view->chart();
    view->setChart(chart);
    delete old;
}

QTableView* tableView(const QString& name, QAbstractItemModel* model) {
    auto* t = new QTableView;
    t->setObjectName(name);
    t->setModel(model);
    t->verticalHeader()->hide();
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setSelectionMode(QAbstractItemView::SingleSelection);
    t->horizontalHeader()->setStretchLastSection(true);
    return t;
}

// Rows of `a` per (token id, top-1 expert) at MoE slot m: the first occurrence, for example contexts.
std::map<std::pair<int32_t, int>, int64_t> firstOccurrence(const RoutingArrays& a, int m) {
    std::map<std::pair<int32_t, int>, int64_t> first;
    for (int64_t t = 0; t < a.n_tokens; ++t) {
        const int e = a.k_max > 0 ? a.experts[a.slot(t, m, 0)] : -1;
        if (e >= 0) first.emplace(std::make_pair(a.token_id[static_cast<size_t>(t)], e), t);
    }
    return first;
}

}  // namespace

SpecializationView::SpecializationView(ViewHub* hub, QWidget* parent)
    : QWidget(parent), hub_(hub), runner_(new AnalysisRunner(this)), catalogRunner_(new AnalysisRunner(this)) {
    setObjectName(QStringLiteral("viewSpecialization"));
    sourceCombo_ = new QComboBox;
    sourceCombo_->setObjectName(QStringLiteral("sourceCombo"));
    sourceCombo_->addItem(tr("Open run"), QStringLiteral("open"));
    layerCombo_ = new QComboBox;
    layerCombo_->setObjectName(QStringLiteral("layerCombo"));
    minCount_ = new QSpinBox;
    minCount_->setObjectName(QStringLiteral("minCount"));
    minCount_->setRange(1, 1000000);
    minCount_->setValue(minCount_n_);
    minCount_->setToolTip(tr("Token specialisation: only token ids seen at least this often (OpenMoE 128, moe-lrc 20, OLMoE 10)"));
    status_ = new QLabel;
    status_->setObjectName(QStringLiteral("status"));
    notes_ = new QLabel;
    notes_->setObjectName(QStringLiteral("notes"));
    notes_->setWordWrap(true);

    balance_ = new SpecTableModel({"layer", "norm_entropy", "cv", "max_over_mean", "gini", "max_vio", "dead"}, this);
    tokens_ = new SpecTableModel({"layer", "expert", "rank", "token", "token_id", "share", "occurrences", "example"}, this);
    balanceChart_ = chartView(QStringLiteral("balanceChart"));
    srpChart_ = chartView(QStringLiteral("srpChart"));
    schChart_ = chartView(QStringLiteral("schChart"));
    contribChart_ = chartView(QStringLiteral("contributionChart"));
    contrib_ = new SpecTableModel({"layer", "count", "mean", "min", "q1", "median", "q3", "max"}, this);
    contribMessage_ = new QLabel;
    contribMessage_->setObjectName(QStringLiteral("contributionMessage"));
    contribMessage_->setWordWrap(true);
    balanceTable_ = tableView(QStringLiteral("balanceTable"), balance_);
    tokenTable_ = tableView(QStringLiteral("tokenTable"), tokens_);
    domainMap_ = new HeatmapWidget;
    domainMap_->setObjectName(QStringLiteral("domainHeatmap"));
    domainMap_->setAxisTitles(tr("prompt set"), tr("expert"));
    coactMap_ = new HeatmapWidget;
    coactMap_->setObjectName(QStringLiteral("coactivationHeatmap"));
    coactMap_->setAxisTitles(tr("expert a"), tr("expert b"));
    transitionMap_ = new HeatmapWidget;
    transitionMap_->setObjectName(QStringLiteral("transitionHeatmap"));
    transitionMap_->setAxisTitles(tr("expert at layer l"), tr("expert at the next MoE layer"));

    tabs_ = new QTabWidget;
    tabs_->setObjectName(QStringLiteral("specTabs"));
    tabs_->addTab(page(balanceChart_, new ExportBar("layer_balance", balanceChart_, balance_),
                       tr("Per MoE layer: normalised entropy of the expert load (1 = uniform) and its Gini coefficient "
                          "(0 = balanced)."),
                       balanceTable_),
                  tr("Balance"));
    tabs_->addTab(page(tokenTable_, new ExportBar("token_specialization", nullptr, tokens_),
                       tr("Top tokens per expert at the chosen layer: share of the token's top-1 routing that goes to "
                          "the expert, with an example context.")),
                  tr("Tokens"));
    tabs_->addTab(page(domainMap_, new ExportBar("domain_expert", domainMap_, nullptr),
                       tr("Share of each prompt set's tokens that select the expert at the chosen layer (all recorded "
                          "runs of the database).")),
                  tr("Domains"));
    tabs_->addTab(page(coactMap_, new ExportBar("coactivation", coactMap_, nullptr),
                       tr("P(b selected | a selected) at the chosen layer.")),
                  tr("Co-activation"));
    tabs_->addTab(page(transitionMap_, new ExportBar("transitions", transitionMap_, nullptr),
                       tr("P(expert b at the next MoE layer | expert a at the chosen layer), every top-k pair.")),
                  tr("Transitions"));
    auto* lrcCharts = new QWidget;
    auto* ll = new QHBoxLayout(lrcCharts);
    ll->setContentsMargins(0, 0, 0, 0);
    ll->addWidget(srpChart_);
    ll->addWidget(schChart_);
    auto* lrcBars = new QWidget;
    auto* lb = new QHBoxLayout(lrcBars);
    lb->setContentsMargins(0, 0, 0, 0);
    lb->addWidget(new ExportBar("srp", srpChart_, nullptr));
    lb->addWidget(new ExportBar("sch", schChart_, nullptr));
    tabs_->addTab(page(lrcCharts, nullptr, tr("Local routing consistency: SRP vs segment length (model and chosen "
                                              "layer); SCH vs cache size (× k) per segment length, for the chosen "
                                              "layer (solid) and one cache spanning all MoE layers (dashed).")),
                  tr("Consistency"));
    // page() took a null bar for the LRC tab: put both bars in its header instead.
    if (auto* l = qobject_cast<QVBoxLayout*>(tabs_->widget(5)->layout())) l->insertWidget(1, lrcBars);
    auto* contribBody = new QWidget;
    auto* cb = new QVBoxLayout(contribBody);
    cb->setContentsMargins(0, 0, 0, 0);
    cb->addWidget(contribMessage_);
    cb->addWidget(contribChart_, 1);
    tabs_->addTab(page(contribBody, new ExportBar("token_contribution", contribChart_, contrib_),
                       tr("EASY-EP token contribution s_t = max(0, 1 − cos(h, h + r)) per MoE layer: mean, median, "
                          "quartiles and min/max over the source's tokens (runs recorded at capture level Activations)."),
                       tableView(QStringLiteral("contributionTable"), contrib_)),
                  tr("Contribution"));

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Source:")));
    top->addWidget(sourceCombo_);
    top->addWidget(new QLabel(tr("Layer:")));
    top->addWidget(layerCombo_);
    top->addWidget(new QLabel(tr("Min count:")));
    top->addWidget(minCount_);
    top->addWidget(status_, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(notes_);
    layout->addWidget(tabs_, 1);

    connect(sourceCombo_, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) setSource(sourceCombo_->itemData(i).toString());
    });
    connect(layerCombo_, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) setLayerSlot(i);
    });
    connect(minCount_, &QSpinBox::editingFinished, this, [this] { setMinCount(minCount_->value()); });
    auto layerOf = [this](int slot) {
        return shown_ && slot >= 0 && slot < shown_->arrays->n_moe ? shown_->arrays->moe_layers[static_cast<size_t>(slot)] : -1;
    };
    connect(domainMap_, &HeatmapWidget::cellClicked, this, [this, layerOf](int, int e) { hub_->context->selectExpert(layerOf(slot_), e); });
    connect(coactMap_, &HeatmapWidget::cellClicked, this, [this, layerOf](int a, int b) {
        coactMap_->setSelectedCell(a, b);
        hub_->context->selectExpert(layerOf(slot_), b);
    });
    connect(transitionMap_, &HeatmapWidget::cellClicked, this, [this, layerOf](int a, int b) {
        transitionMap_->setSelectedCell(a, b);
        hub_->context->selectExpert(layerOf(slot_ + 1), b);
    });
    connect(tokenTable_, &QTableView::clicked, this, [this, layerOf](const QModelIndex& idx) {
        if (idx.isValid()) hub_->context->selectExpert(layerOf(slot_), tokens_->cell(idx.row(), 1).raw.toInt());
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
    hub_->context->addObserver(this, this);
    refreshCatalog();
}

SpecializationView::~SpecializationView() = default;

void SpecializationView::refreshCatalog() {
    const QString path = hub_->databasePath();
    if (path.isEmpty()) return;
    catalogRunner_->run<Catalog>(
        [path](const std::atomic<bool>&) {
            auto db = openReadOnly(path);
            return Catalog{listRuns(*db), listPromptSets(*db)};
        },
        [this](Catalog&& c) {
            const QSignalBlocker b(sourceCombo_);
            sourceCombo_->clear();
            sourceCombo_->addItem(tr("Open run"), QStringLiteral("open"));
            sourceCombo_->addItem(tr("All recorded runs"), QStringLiteral("all"));
            for (const PromptSetRow& s : c.sets) sourceCombo_->addItem(tr("prompt set %1").arg(s.name), "set:" + s.name);
            for (const RunRow& r : c.runs) sourceCombo_->addItem(QStringLiteral("run #%1 %2").arg(r.id).arg(r.label), QStringLiteral("run:%1").arg(r.id));
            sourceCombo_->setCurrentIndex(std::max(0, sourceCombo_->findData(source_)));
            emit catalogReady();
        });
}

void SpecializationView::setSource(const QString& source) {
    source_ = source;
    {
        const QSignalBlocker b(sourceCombo_);
        if (const int i = sourceCombo_->findData(source); i >= 0) sourceCombo_->setCurrentIndex(i);
    }
    recompute();
}

void SpecializationView::setMinCount(int n) {
    if (n == minCount_n_) return;
    minCount_n_ = n;
    {
        const QSignalBlocker b(minCount_);
        minCount_->setValue(n);
    }
    recompute();
}

void SpecializationView::setLayerSlot(int slot) {
    slot_ = std::max(0, slot);
    {
        const QSignalBlocker b(layerCombo_);
        if (slot_ < layerCombo_->count()) layerCombo_->setCurrentIndex(slot_);
    }
    renderLayer();
}

void SpecializationView::recompute() {
    const RunDataPtr open = hub_->context->run();
    const QString source = source_, path = hub_->databasePath();
    const int minCount = minCount_n_;
    if (source == QLatin1String("open") && !open) {
        runner_->cancel();
        status_->setText(tr("Open a run (Runs dock) or pick a source."));
        return;
    }
    runner_->run<SpecializationResult>(
        [open, source, path, minCount](const std::atomic<bool>& cancelled) {
            SpecializationResult r;
            std::unique_ptr<storage::Database> db;
            auto database = [&]() -> storage::Database& {
                if (!db) db = openReadOnly(path);
                return *db;
            };
            if (source == QLatin1String("open")) {
                r.arrays = std::shared_ptr<const RoutingArrays>(open, &open->routing);
                r.texts = open->tokenText;
                r.sourceLabel = open->runId >= 0 ? QStringLiteral("run %1").arg(open->runId) : QStringLiteral("the open run");
            } else {
                storage::RoutingSelection sel;
                if (source.startsWith(QLatin1String("set:"))) {
                    sel.prompt_set = source.mid(4).toStdString();
                    r.sourceLabel = QStringLiteral("prompt set %1").arg(source.mid(4));
                } else if (source.startsWith(QLatin1String("run:"))) {
                    sel.run_ids = {source.mid(4).toLongLong()};
                    r.sourceLabel = QStringLiteral("run %1").arg(source.mid(4));
                } else {
                    r.sourceLabel = QStringLiteral("all recorded runs");
                }
                sel.activations = true;  // token contribution s_t for the Contribution tab (empty when not recorded)
                r.arrays = std::make_shared<const RoutingArrays>(storage::read_routing(database(), sel));
                r.texts = tokenTexts(database(), sel);
            }
            const RoutingArrays& a = *r.arrays;
            r.load = analysis::expert_load(a, {}).value();
            auto note = [&](const char* what, const std::string& why) {
                r.notes << QStringLiteral("%1: %2").arg(QLatin1String(what), QString::fromStdString(why));
            };
            if (cancelled) return r;
            analysis::TokenSpecOptions to;
            to.min_count = minCount;
            to.top_tokens_per_expert = 5;
            if (auto t = analysis::token_specialization(a, to); t.ok()) {
                r.tokens = std::move(t.value());
                // Table rows with token texts and one example context each (first occurrence routed there).
                std::map<int32_t, QString> textOf;
                for (int64_t i = 0; i < a.n_tokens && i < r.texts.size(); ++i)
                    textOf.emplace(a.token_id[static_cast<size_t>(i)], r.texts[static_cast<int>(i)]);
                for (int m = 0; m < a.n_moe; ++m) {
                    const auto& L = r.tokens->layers[static_cast<size_t>(m)];
                    std::map<int32_t, int64_t> occurrences;
                    for (const auto& s : L.tokens) occurrences[s.id] = s.count;
                    const auto first = firstOccurrence(a, m);
                    std::vector<TokenSpecRow> rows;
                    for (const auto& ex : L.top_tokens)
                        for (size_t i = 0; i < ex.tokens.size(); ++i) {
                            TokenSpecRow row;
                            row.layer = L.layer;
                            row.expert = ex.expert;
                            row.rank = static_cast<int>(i) + 1;
                            row.tokenId = ex.tokens[i].first;
                            row.share = ex.tokens[i].second;
                            row.occurrences = occurrences[row.tokenId];
                            const auto t = textOf.find(row.tokenId);
                            row.token = t != textOf.end() ? t->second : QStringLiteral("⟨%1⟩").arg(row.tokenId);
                            row.token.replace(QLatin1Char('\n'), QStringLiteral("⏎"));
                            if (auto f = first.find({row.tokenId, ex.expert}); f != first.end())
                                row.example = contextAround(a, r.texts, f->second, 4);
                            rows.push_back(std::move(row));
                        }
                    r.tokenRows.push_back(std::move(rows));
                }
            } else {
                note("token specialisation", t.message());
            }
            if (cancelled) return r;
            if (auto c = analysis::coactivation(a, {}); c.ok()) r.coactivation = std::move(c.value());
            else note("co-activation", c.message());
            if (a.n_moe >= 2) {
                if (auto t = analysis::transitions(a, {}); t.ok()) r.transitions = std::move(t.value());
                else note("transitions", t.message());
            } else {
                note("transitions", "needs two MoE layers");
            }
            if (cancelled) return r;
            analysis::LrcOptions lo;
            lo.seg_lengths = kSegLengths;
            if (auto l = analysis::local_routing_consistency(a, lo); l.ok()) r.lrc = std::move(l.value());
            else note("local routing consistency", l.message());
            if (cancelled) return r;
            // EASY-EP s_t: the open run's arrays carry no activations (loadRun reads routing only), so re-read
            // that run from its database with them.
            try {
                std::shared_ptr<const RoutingArrays> withAct = r.arrays;
                if (!a.has_token_contribution() && source == QLatin1String("open") && open->runId >= 0 && !open->dbPath.isEmpty()) {
                    storage::RoutingSelection sel;
                    sel.run_ids = {open->runId};
                    sel.activations = true;
                    auto odb = openReadOnly(open->dbPath);
                    auto read = std::make_shared<RoutingArrays>(storage::read_routing(*odb, sel));
                    if (read->n_tokens == a.n_tokens) withAct = std::move(read);
                }
                if (auto c = analysis::token_contribution_summary(*withAct); c.ok()) r.contribution = std::move(c.value());
                else r.contributionMissing = QString::fromStdString(c.message());
            } catch (const std::exception& e) {
                r.contributionMissing = QString::fromUtf8(e.what());
            }
            if (cancelled) return r;
            // Domains: across the prompt sets of every recorded run (the source may hold one set only).
            try {
                if (!path.isEmpty()) {
                    const RoutingArrays all = storage::read_routing(database(), {});
                    if (all.set_names.size() < 2) note("domains", "the database has fewer than two prompt sets");
                    else if (auto d = analysis::domain_specialization(all, {}); d.ok()) r.domains = std::move(d.value());
                    else note("domains", d.message());
                } else {
                    note("domains", "no database open");
                }
            } catch (const std::exception& e) {
                note("domains", e.what());
            }
            return r;
        },
        [this](SpecializationResult&& r) { showResult(std::move(r)); });
}

void SpecializationView::showResult(SpecializationResult&& result) {
    shown_ = std::make_shared<const SpecializationResult>(std::move(result));
    const SpecializationResult& r = *shown_;
    {
        const QSignalBlocker b(layerCombo_);
        layerCombo_->clear();
        for (int l : r.arrays->moe_layers) layerCombo_->addItem(QStringLiteral("L%1").arg(l));
        slot_ = std::min(slot_, std::max(0, r.arrays->n_moe - 1));
        layerCombo_->setCurrentIndex(slot_);
    }
    balance_->setRows(balanceRows(r.load));
    fillBalanceChart();
    fillLrcCharts();
    fillContribution();
    status_->setText(tr("%1 · %2 tokens").arg(r.sourceLabel).arg(r.arrays->n_tokens));
    notes_->setText(r.notes.join(QStringLiteral(" · ")));
    notes_->setVisible(!r.notes.isEmpty());
    renderLayer();
    emit resultReady();
}

void SpecializationView::renderLayer() {
    if (!shown_) return;
    const SpecializationResult& r = *shown_;
    const int m = slot_;
    const int E = r.arrays->n_experts;
    QStringList experts;
    for (int e = 0; e < E; ++e) experts << QString::number(e);
    tokens_->setRows(m < static_cast<int>(r.tokenRows.size()) ? tokenSpecRows(r.tokenRows[static_cast<size_t>(m)])
                                                             : std::vector<std::vector<SpecCell>>{});
    // Domains: rows = prompt sets, cols = experts.
    if (r.domains && m < static_cast<int>(r.domains->moe_layers.size())) {
        const auto& d = *r.domains;
        const int S = static_cast<int>(d.sets.size());
        std::vector<float> v(static_cast<size_t>(S) * E, 0.0f);
        for (int s = 0; s < S; ++s)
            for (int e = 0; e < E && e < d.n_experts; ++e)
                v[static_cast<size_t>(s) * E + e] = static_cast<float>(d.spec[s][m][e]);
        domainMap_->setData(S, E, std::move(v));
        QStringList sets;
        for (const auto& s : d.sets) sets << QString::fromStdString(s);
        domainMap_->setRowLabels(sets);
        domainMap_->setColumnLabels(experts);
    } else {
        domainMap_->setData(0, 0, {});
    }
    if (r.coactivation && m < static_cast<int>(r.coactivation->layers.size())) {
        const auto& c = r.coactivation->layers[static_cast<size_t>(m)];
        std::vector<float> v(c.conditional.begin(), c.conditional.end());
        coactMap_->setData(E, E, std::move(v));
        coactMap_->setRange(0.0f, 1.0f);
        coactMap_->setRowLabels(experts);
        coactMap_->setColumnLabels(experts);
    } else {
        coactMap_->setData(0, 0, {});
    }
    if (r.transitions && m < static_cast<int>(r.transitions->pairs.size())) {
        const auto& t = r.transitions->pairs[static_cast<size_t>(m)];
        std::vector<float> v(t.prob.begin(), t.prob.end());
        transitionMap_->setData(E, E, std::move(v));
        transitionMap_->setRange(0.0f, 1.0f);
        transitionMap_->setRowLabels(experts);
        transitionMap_->setColumnLabels(experts);
        transitionMap_->setAxisTitles(tr("expert at L%1").arg(t.from_layer), tr("expert at L%1").arg(t.to_layer));
    } else {
        transitionMap_->setData(0, 0, {});
    }
    fillLrcCharts();
    if (hub_->context->selectedExpertLayer() == (m < r.arrays->n_moe ? r.arrays->moe_layers[static_cast<size_t>(m)] : -2))
        markExpert(hub_->context->selectedExpert());
    else
        markExpert(-1);
}

void SpecializationView::fillBalanceChart() {
    auto* chart = new QChart;
    chart->setTitle(tr("Expert load balance per MoE layer (%1)").arg(shown_->sourceLabel));
    auto* entropy = new QLineSeries;
    entropy->setName(tr("normalised entropy"));
    auto* gini = new QLineSeries;
    gini->setName(tr("Gini"));
    const auto& L = shown_->load.layers;
    for (const auto& l : L) {
        entropy->append(l.layer, l.norm_entropy);
        gini->append(l.layer, l.gini);
    }
    auto* x = new QValueAxis;
    x->setTitleText(tr("layer"));
    x->setLabelFormat("%d");
    if (!L.empty()) x->setRange(L.front().layer, std::max(L.back().layer, L.front().layer + 1));
    auto* y = new QValueAxis;
    y->setRange(0, 1);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (QLineSeries* s : {entropy, gini}) {
        s->setPointsVisible(true);
        chart->addSeries(s);
        s->attachAxis(x);
        s->attachAxis(y);
    }
    replaceChart(balanceChart_, chart);
}

void SpecializationView::fillLrcCharts() {
    auto* srp = new QChart;
    srp->setTitle(tr("SRP vs segment length"));
    auto* sch = new QChart;
    sch->setTitle(tr("SCH vs cache size"));
    auto* sx = new QLogValueAxis;
    sx->setBase(2);
    sx->setLabelFormat("%d");
    sx->setTitleText(tr("segment length m"));
    auto* sy = new QValueAxis;
    sy->setRange(0, 1);
    srp->addAxis(sx, Qt::AlignBottom);
    srp->addAxis(sy, Qt::AlignLeft);
    auto* cx = new QValueAxis;
    cx->setTitleText(tr("cache size (× k)"));
    auto* cy = new QValueAxis;
    cy->setRange(0, 1);
    sch->addAxis(cx, Qt::AlignBottom);
    sch->addAxis(cy, Qt::AlignLeft);
    if (shown_ && shown_->lrc) {
        const auto& l = *shown_->lrc;
        auto* model = new QLineSeries;
        model->setName(tr("model"));
        auto* layer = new QLineSeries;
        const int m = slot_;
        layer->setName(m < static_cast<int>(l.moe_layers.size()) ? tr("layer %1").arg(l.moe_layers[static_cast<size_t>(m)]) : tr("layer"));
        for (const auto& s : l.srp) {
            if (s.model.windows == 0) continue;  // sequences shorter than m
            model->append(s.m, s.model.srp);
            if (m < static_cast<int>(s.layer.size())) layer->append(s.m, s.layer[static_cast<size_t>(m)].srp);
        }
        for (QLineSeries* s : {model, layer}) {
            s->setPointsVisible(true);
            srp->addSeries(s);
            s->attachAxis(sx);
            s->attachAxis(sy);
        }
        if (model->count() > 0) sx->setRange(model->at(0).x(), std::max(model->at(model->count() - 1).x(), model->at(0).x() * 2));
        if (m < static_cast<int>(l.sch.size())) {
            std::map<int, QLineSeries*> perM;
            double maxRatio = 1;
            for (const auto& v : l.sch[static_cast<size_t>(m)]) {
                QLineSeries*& s = perM[v.m];
                if (!s) {
                    s = new QLineSeries;
                    s->setName(QStringLiteral("m = %1").arg(v.m));
                }
                s->append(v.ratio, v.hit_rate);
                maxRatio = std::max(maxRatio, v.ratio);
            }
            // Cross-layer SCH (one cache over all MoE layers, C = round(rho n_moe k)): same x (rho), dashed, in
            // the colour of the per-layer series of the same m.
            std::map<int, QLineSeries*> crossM;
            for (const auto& v : l.sch_model) {
                QLineSeries*& s = crossM[v.m];
                if (!s) {
                    s = new QLineSeries;
                    s->setName(QStringLiteral("m = %1, all layers").arg(v.m));
                }
                s->append(v.ratio, v.hit_rate);
                maxRatio = std::max(maxRatio, v.ratio);
            }
            cx->setRange(0, maxRatio);
            for (auto& [mm, s] : perM) {
                s->setPointsVisible(true);
                sch->addSeries(s);
                s->attachAxis(cx);
                s->attachAxis(cy);
            }
            for (auto& [mm, s] : crossM) {
                sch->addSeries(s);
                QPen pen = s->pen();
                if (auto it = perM.find(mm); it != perM.end()) pen.setColor(it->second->pen().color());
                pen.setStyle(Qt::DashLine);
                s->setPen(pen);
                s->setPointsVisible(true);
                s->attachAxis(cx);
                s->attachAxis(cy);
            }
        }
    }
    replaceChart(srpChart_, srp);
    replaceChart(schChart_, sch);
}

void SpecializationView::fillContribution() {
    auto* chart = new QChart;
    chart->setTitle(tr("Token contribution s_t per MoE layer"));
    const bool have = shown_ && shown_->contribution;
    contrib_->setRows(have ? contributionRows(*shown_->contribution) : std::vector<std::vector<SpecCell>>{});
    contribMessage_->setText(have ? QString()
                                  : tr("Token contribution s_t needs a run recorded at Activations level "
                                       "(moescope-cli record --capture activations). %1")
                                        .arg(shown_ ? shown_->contributionMissing : QString()));
    contribMessage_->setVisible(!have);
    auto* x = new QValueAxis;
    x->setTitleText(tr("layer"));
    x->setLabelFormat("%d");
    auto* y = new QValueAxis;
    y->setTitleText(tr("s_t"));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    if (have) {
        // Series order (tests rely on it): mean, median, q1, q3, min, max.
        const QStringList names{tr("mean"), tr("median"), tr("q1"), tr("q3"), tr("min"), tr("max")};
        std::vector<QLineSeries*> series;
        for (const QString& n : names) {
            auto* s = new QLineSeries;
            s->setName(n);
            series.push_back(s);
        }
        double top = 0;
        const auto& L = shown_->contribution->layers;
        for (const auto& l : L) {
            if (l.count == 0) continue;
            const double v[] = {l.mean, l.median, l.q1, l.q3, l.min, l.max};
            for (size_t i = 0; i < series.size(); ++i) series[i]->append(l.layer, v[i]);
            top = std::max(top, l.max);
        }
        if (!L.empty()) x->setRange(L.front().layer, std::max(L.back().layer, L.front().layer + 1));
        y->setRange(0, top > 0 ? top * 1.05 : 1);
        for (size_t i = 0; i < series.size(); ++i) {
            QLineSeries* s = series[i];
            chart->addSeries(s);
            QPen pen = s->pen();
            if (i >= 2) pen.setStyle(i >= 4 ? Qt::DotLine : Qt::DashLine);  // spread: quartiles dashed, extremes dotted
            s->setPen(pen);
            s->setPointsVisible(i < 2);
            s->attachAxis(x);
            s->attachAxis(y);
        }
    } else {
        y->setRange(0, 1);
    }
    replaceChart(contribChart_, chart);
}

void SpecializationView::markExpert(int expert) {
    std::vector<QPoint> domainMarks, coactMarks;
    if (expert >= 0) {
        for (int s = 0; s < domainMap_->rows(); ++s) domainMarks.push_back({expert, s});
        for (int b = 0; b < coactMap_->cols(); ++b) coactMarks.push_back({b, expert});
    }
    domainMap_->setMarks(domainMarks);
    coactMap_->setMarks(coactMarks);
    transitionMap_->setMarks(coactMarks.empty() ? std::vector<QPoint>{} : [&] {
        std::vector<QPoint> v;
        for (int b = 0; b < transitionMap_->cols(); ++b) v.push_back({b, expert});
        return v;
    }());
    if (expert >= 0)
        for (int i = 0; i < tokens_->rowCount(); ++i)
            if (tokens_->cell(i, 1).raw.toInt() == expert) {
                const QSignalBlocker b(tokenTable_->selectionModel());
                tokenTable_->selectRow(i);
                break;
            }
}

void SpecializationView::onRunLoaded(const RunDataPtr&) {
    if (source_ == QLatin1String("open")) recompute();
}

void SpecializationView::onRunClosed() {
    if (source_ == QLatin1String("open")) recompute();
}

void SpecializationView::onExpertSelected(int layer, int expert) {
    if (!shown_) return;
    const auto& layers = shown_->arrays->moe_layers;
    for (size_t m = 0; m < layers.size(); ++m)
        if (layers[m] == layer) {
            if (static_cast<int>(m) != slot_) setLayerSlot(static_cast<int>(m));
            markExpert(expert);
            return;
        }
}

}  // namespace moescope::gui
