// Run comparison view: token diff, per-layer routing diff (chart + table), intervention timelines.
#include "app/gui/views/run_compare_view.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QListWidget>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>

#include "app/gui/run_store.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/db_catalog.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/run_compare_model.h"
#include "app/gui/views/view_hub.h"

namespace moescope::gui {

RoutingArrays firstRows(const RoutingArrays& a, int64_t rows) {
    RoutingArrays out;
    rows = std::clamp<int64_t>(rows, 0, a.n_tokens);
    out.n_tokens = rows;
    out.n_moe = a.n_moe;
    out.k_max = a.k_max;
    out.n_experts = a.n_experts;
    out.n_layers = a.n_layers;
    out.moe_layers = a.moe_layers;
    out.set_names = a.set_names;
    auto head = [rows](const auto& v, size_t per) {
        using V = std::decay_t<decltype(v)>;
        return v.empty() ? V{} : V(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(rows) * per));
    };
    out.run_id = head(a.run_id, 1);
    out.prompt_id = head(a.prompt_id, 1);
    out.position = head(a.position, 1);
    out.token_id = head(a.token_id, 1);
    out.generated = head(a.generated, 1);
    out.set_index = head(a.set_index, 1);
    const size_t perToken = static_cast<size_t>(a.n_moe) * static_cast<size_t>(a.k_max);
    out.experts = head(a.experts, perToken);
    out.weights = head(a.weights, perToken);
    return out;
}

int64_t commonTokenPrefix(const RoutingArrays& a, const RoutingArrays& b) {
    const int64_t n = std::min(a.n_tokens, b.n_tokens);
    int64_t i = 0;
    while (i < n && a.token_id[static_cast<size_t>(i)] == b.token_id[static_cast<size_t>(i)]) ++i;
    return i;
}

namespace {

struct Catalog {
    std::vector<RunRow> runs;
};

QListWidget* timelineList(const QString& name) {
    auto* l = new QListWidget;
    l->setObjectName(name);
    return l;
}

void fillTimeline(QListWidget* list, const RunDataPtr& run) {
    list->clear();
    if (!run) return;
    if (run->timeline.empty()) list->addItem(QObject::tr("(no intervention changes)"));
    for (const InterventionMarker& m : run->timeline) list->addItem(QStringLiteral("row %1 · %2").arg(m.fromToken).arg(m.text));
}

}  // namespace

RunCompareView::RunCompareView(ViewHub* hub, QWidget* parent)
    : QWidget(parent), hub_(hub), runner_(new AnalysisRunner(this)), catalogRunner_(new AnalysisRunner(this)) {
    setObjectName(QStringLiteral("viewRunCompare"));
    comboA_ = new QComboBox;
    comboA_->setObjectName(QStringLiteral("runA"));
    comboA_->addItem(tr("Open run"), qint64(-1));
    comboB_ = new QComboBox;
    comboB_->setObjectName(QStringLiteral("runB"));
    status_ = new QLabel;
    status_->setObjectName(QStringLiteral("status"));
    summary_ = new QLabel;
    summary_->setObjectName(QStringLiteral("summary"));
    summary_->setWordWrap(true);

    tokens_ = new TokenDiffModel(this);
    layers_ = new LayerDiffModel(this);
    tokenTable_ = new QTableView;
    tokenTable_->setObjectName(QStringLiteral("tokenDiff"));
    tokenTable_->setModel(tokens_);
    tokenTable_->verticalHeader()->hide();
    tokenTable_->setSelectionBehavior(QAbstractItemView::SelectRows);
    tokenTable_->setSelectionMode(QAbstractItemView::SingleSelection);
    tokenTable_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    layerTable_ = new QTableView;
    layerTable_->setObjectName(QStringLiteral("layerDiff"));
    layerTable_->setModel(layers_);
    layerTable_->verticalHeader()->hide();
    layerTable_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    chart_ = new QChartView;
    chart_->setObjectName(QStringLiteral("layerDiffChart"));
    chart_->setRenderHint(QPainter::Antialiasing);
    chart_->setMinimumHeight(220);
    timelineA_ = timelineList(QStringLiteral("timelineA"));
    timelineB_ = timelineList(QStringLiteral("timelineB"));

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Run A:")));
    top->addWidget(comboA_);
    top->addWidget(new QLabel(tr("Run B:")));
    top->addWidget(comboB_);
    top->addWidget(status_, 1);

    auto* tokenBox = new QWidget;
    auto* tl = new QVBoxLayout(tokenBox);
    tl->setContentsMargins(0, 0, 0, 0);
    auto* th = new QHBoxLayout;
    th->addWidget(new QLabel(tr("<b>Tokens</b> (aligned by position; differing rows highlighted)")), 1);
    th->addWidget(new ExportBar(QStringLiteral("token_diff"), nullptr, tokens_));
    tl->addLayout(th);
    tl->addWidget(tokenTable_, 1);
    tl->addWidget(new QLabel(tr("<b>Intervention timeline</b> A / B")));
    auto* tls = new QHBoxLayout;
    tls->addWidget(timelineA_);
    tls->addWidget(timelineB_);
    tl->addLayout(tls);

    auto* diffBox = new QWidget;
    auto* dl = new QVBoxLayout(diffBox);
    dl->setContentsMargins(0, 0, 0, 0);
    auto* dh = new QHBoxLayout;
    dh->addWidget(new QLabel(tr("<b>Routing diff per layer</b>")), 1);
    dh->addWidget(new ExportBar(QStringLiteral("routing_diff"), chart_, layers_));
    dl->addLayout(dh);
    dl->addWidget(summary_);
    dl->addWidget(chart_, 2);
    dl->addWidget(layerTable_, 1);

    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(tokenBox);
    split->addWidget(diffBox);
    split->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(comboA_, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) setRuns(comboA_->itemData(i).toLongLong(), runB_);
    });
    connect(comboB_, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i < 0) return;
        userPickedB_ = true;
        setRuns(runA_, comboB_->itemData(i).toLongLong());
    });
    connect(tokenTable_, &QTableView::clicked, this, [this](const QModelIndex& idx) {
        if (idx.isValid() && shown_ && shown_->a && shown_->a == hub_->context->run() && idx.row() < shown_->a->tokenCount())
            hub_->context->selectToken(idx.row());
    });
    connect(runner_, &AnalysisRunner::failed, this, [this](const QString& m) {
        status_->setText(tr("Error: %1").arg(m));
        emit failed(m);
    });
    connect(runner_, &AnalysisRunner::busyChanged, this, [this](bool busy) {
        if (busy) status_->setText(tr("comparing…"));
    });
    connect(catalogRunner_, &AnalysisRunner::failed, this, [this](const QString& m) { status_->setText(m); });
    connect(hub_, &ViewHub::databaseChanged, this, [this] { refreshCatalog(); });
    connect(hub_, &ViewHub::runsChanged, this, [this] { refreshCatalog(); });
    hub_->context->addObserver(this, this);
    refreshCatalog();
}

RunCompareView::~RunCompareView() = default;

void RunCompareView::refreshCatalog() {
    const QString path = hub_->databasePath();
    if (path.isEmpty()) return;
    catalogRunner_->run<Catalog>([path](const std::atomic<bool>&) { return Catalog{listRuns(*openReadOnly(path))}; },
                                 [this](Catalog&& c) {
                                     const QSignalBlocker b1(comboA_), b2(comboB_);
                                     comboA_->clear();
                                     comboA_->addItem(tr("Open run"), qint64(-1));
                                     comboB_->clear();
                                     for (const RunRow& r : c.runs) {
                                         const QString text = QStringLiteral("#%1 %2").arg(r.id).arg(r.label);
                                         comboA_->addItem(text, r.id);
                                         comboB_->addItem(text, r.id);
                                     }
                                     comboA_->setCurrentIndex(std::max(0, comboA_->findData(runA_)));
                                     // B: the user's pick, else the newest run that is not A.
                                     const RunDataPtr open = hub_->context->run();
                                     const qint64 aId = runA_ >= 0 ? runA_ : (open ? open->runId : -1);
                                     qint64 b = userPickedB_ ? runB_ : -1;
                                     if (b < 0)
                                         for (const RunRow& r : c.runs)
                                             if (r.id != aId && r.id > b) b = r.id;
                                     comboB_->setCurrentIndex(comboB_->findData(b));
                                     emit catalogReady();
                                     if (b != runB_) {
                                         runB_ = b;
                                         recompute();
                                     }
                                 });
}

void RunCompareView::setRuns(qint64 a, qint64 b) {
    runA_ = a;
    runB_ = b;
    {
        const QSignalBlocker b1(comboA_), b2(comboB_);
        if (const int i = comboA_->findData(a); i >= 0) comboA_->setCurrentIndex(i);
        if (const int i = comboB_->findData(b); i >= 0) comboB_->setCurrentIndex(i);
    }
    recompute();
}

void RunCompareView::recompute() {
    const RunDataPtr open = hub_->context->run();
    const qint64 a = runA_, b = runB_;
    const QString path = hub_->databasePath();
    if ((a < 0 && !open) || b < 0) {
        runner_->cancel();
        status_->setText(tr("Pick two runs (run A: the open run or one from the database)."));
        return;
    }
    runner_->run<RunCompareResult>(
        [open, a, b, path](const std::atomic<bool>&) {
            RunCompareResult r;
            auto db = openReadOnly(path);
            r.a = a >= 0 ? loadRun(*db, a) : open;
            r.b = loadRun(*db, b);
            const RoutingArrays &ra = r.a->routing, &rb = r.b->routing;
            r.commonPrefix = static_cast<int>(commonTokenPrefix(ra, rb));
            if (r.commonPrefix == 0) {
                r.note = QObject::tr("the runs share no leading tokens: no routing diff");
                return r;
            }
            auto sat = analysis::router_saturation(firstRows(ra, r.commonPrefix), firstRows(rb, r.commonPrefix), {});
            if (!sat.ok()) {
                r.note = QString::fromStdString(sat.message());
                return r;
            }
            r.diff = std::move(sat.value());
            r.hasDiff = true;
            return r;
        },
        [this](RunCompareResult&& r) { showResult(std::move(r)); });
}

void RunCompareView::showResult(RunCompareResult&& result) {
    shown_ = std::make_shared<const RunCompareResult>(std::move(result));
    const RunCompareResult& r = *shown_;
    tokens_->setRows(alignTokens(r.a->tokenText, r.b->tokenText));
    layers_->setResult(r.hasDiff ? r.diff : analysis::SaturationResult{});
    fillTimeline(timelineA_, r.a);
    fillTimeline(timelineB_, r.b);
    fillChart();
    const QString name = r.a->runId >= 0 ? QStringLiteral("#%1").arg(r.a->runId) : tr("open run");
    status_->setText(tr("A = %1 (%2 tokens), B = #%3 (%4 tokens): %5 positions differ")
                         .arg(name)
                         .arg(r.a->tokenCount())
                         .arg(r.b->runId)
                         .arg(r.b->tokenCount())
                         .arg(tokens_->differing()));
    summary_->setText(r.hasDiff ? tr("Over the first %1 positions (same tokens in both runs), top-%2; random overlap %3.")
                                      .arg(r.commonPrefix)
                                      .arg(r.diff.k)
                                      .arg(r.diff.random_baseline, 0, 'f', 3)
                                : r.note);
    if (hub_->context->selectedToken() >= 0) onTokenSelected(hub_->context->selectedToken());
    emit resultReady();
}

void RunCompareView::fillChart() {
    auto* chart = new QChart;
    chart->setTitle(tr("Routing diff per MoE layer"));
    const auto& L = layers_->result().layers;
    auto* differ = new QLineSeries;
    differ->setName(tr("tokens whose expert set differs"));
    auto* jac = new QLineSeries;
    jac->setName(tr("Jaccard of the expert sets"));
    auto* top1 = new QLineSeries;
    top1->setName(tr("top-1 agreement"));
    for (const auto& l : L) {
        differ->append(l.layer, l.set_differ);
        jac->append(l.layer, l.jaccard);
        top1->append(l.layer, l.top1_agreement);
    }
    for (QLineSeries* s : {differ, jac, top1}) {
        s->setPointsVisible(true);
        chart->addSeries(s);
    }
    auto* x = new QValueAxis;
    x->setTitleText(tr("layer"));
    x->setLabelFormat("%d");
    if (!L.empty()) {
        x->setRange(L.front().layer, std::max(L.back().layer, L.front().layer + 1));
        x->setTickCount(std::min<int>(static_cast<int>(L.size()), 12) + (L.size() == 1 ? 1 : 0));
    }
    auto* y = new QValueAxis;
    y->setRange(0, 1);
    y->setTitleText(tr("fraction"));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (QAbstractSeries* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
    QChart* old = chart_->chart();
    chart_->setChart(chart);
    delete old;
}

void RunCompareView::onRunLoaded(const RunDataPtr&) {
    if (runA_ < 0) {
        userPickedB_ = false;
        refreshCatalog();  // B follows: the newest other run
        recompute();
    }
}

void RunCompareView::onRunClosed() {
    if (runA_ < 0) recompute();
}

void RunCompareView::onTokenSelected(int row) {
    if (!shown_ || !shown_->a || shown_->a != hub_->context->run()) return;
    if (row < 0 || row >= tokens_->rowCount()) return;
    const QSignalBlocker b(tokenTable_->selectionModel());
    tokenTable_->selectRow(row);
    tokenTable_->scrollTo(tokens_->index(row, 0));
}

}  // namespace moescope::gui
