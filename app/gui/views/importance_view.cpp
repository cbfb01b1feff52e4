#include "app/gui/views/importance_view.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <set>

#include "app/gui/engine_host.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/importance_model.h"
#include "app/gui/views/view_hub.h"
#include "app/gui/views/view_widgets.h"
#include "engine/model/prune.h"
#include "storage/model_identity.h"
#include "storage/capture.h"
#include "storage/prompt_recording.h"
#include "storage/routing_reader.h"

namespace moescope::gui {

namespace {
const QString kPruneTag = QStringLiteral("importance-prune");

}  // namespace

// The last arrays read (per source and capture fields), so moving keep-N or switching methods does not
// re-read the database.
struct ImportanceView::Cache {
    std::mutex mutex;
    QString key;
    std::shared_ptr<const RoutingArrays> arrays;
    void clear() {
        std::lock_guard lock(mutex);
        key.clear();
        arrays.reset();
    }
};

ImportanceView::ImportanceView(ViewHub* hub, QWidget* parent)
    : QWidget(parent), hub_(hub), runner_(new AnalysisRunner(this)), sourcesRunner_(new AnalysisRunner(this)),
      cache_(std::make_shared<Cache>()) {
    auto* root = new QVBoxLayout(this);

    auto* box = new QGroupBox(tr("Calibration data and method"), this);
    auto* bl = new QHBoxLayout(box);
    source_ = new QComboBox(box);
    source_->setObjectName(QStringLiteral("importanceSource"));
    method_ = new QComboBox(box);
    method_->setObjectName(QStringLiteral("importanceMethod"));
    using M = analysis::ImportanceMethod;
    for (M m : {M::Frequency, M::Gate, M::Output, M::McMoe, M::EasyEp})
        method_->addItem(QString::fromUtf8(analysis::importance_method_name(m)), static_cast<int>(m));
    method_->setItemData(method_->count() - 1,
                         tr("EASY-EP: gate × ||expert output|| × s_t, s_t = max(0, 1 − cos(h, h + r)) computed by the engine "
                            "(needs a run recorded at capture level activations)"),
                         Qt::ToolTipRole);
    method_->setToolTip(tr("frequency: selections · gate: summed gate weights · output: gate × ||expert output|| (capture "
                           "activations) · mc_moe: frequency^α × router probability^β · easy_ep: output × token contribution s_t "
                           "(capture activations)"));
    keepSlider_ = new QSlider(Qt::Horizontal, box);
    keepSlider_->setObjectName(QStringLiteral("importanceKeep"));
    keepSlider_->setRange(1, 1);
    keepSlider_->setMinimumWidth(160);
    keepLabel_ = new QLabel(box);
    auto* refresh = new QPushButton(tr("Refresh"), box);
    bl->addWidget(new QLabel(tr("Run / prompt set:"), box));
    bl->addWidget(source_, 2);
    bl->addWidget(new QLabel(tr("Method:"), box));
    bl->addWidget(method_);
    bl->addWidget(new QLabel(tr("Keep per layer:"), box));
    bl->addWidget(keepSlider_, 1);
    bl->addWidget(keepLabel_);
    bl->addWidget(refresh);
    root->addWidget(box);

    heatmap_ = new HeatmapWidget(this);
    heatmap_->setAutoFit(true);  // layers x experts: the whole matrix in view until the user zooms
    heatmap_->setObjectName(QStringLiteral("importanceHeatmap"));
    heatmap_->setAxisTitles(tr("layer"), tr("expert"));
    model_ = new ImportanceModel(this);
    table_ = new QTableView(this);
    table_->setObjectName(QStringLiteral("importanceTable"));
    table_->setModel(model_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->verticalHeader()->hide();
    coverageChart_ = new QChartView(new QChart, this);
    coverageChart_->setObjectName(QStringLiteral("importanceCoverageChart"));
    coverageChart_->setRenderHint(QPainter::Antialiasing);
    coverageChart_->setMinimumHeight(260);

    auto* top = new QSplitter(Qt::Horizontal, this);
    top->addWidget(withBar(top, new ExportBar(QStringLiteral("importance_heatmap"), heatmap_, nullptr, top), heatmap_));
    top->addWidget(withBar(top, new ExportBar(QStringLiteral("importance_ranking"), nullptr, model_, top), table_));
    auto* vs = new QSplitter(Qt::Vertical, this);
    vs->addWidget(top);
    vs->addWidget(withBar(vs, new ExportBar(QStringLiteral("importance_coverage"), coverageChart_, nullptr, vs), coverageChart_));
    vs->setStretchFactor(0, 1);
    vs->setStretchFactor(1, 1);
    root->addWidget(vs, 1);

    auto* jobRow = new QHBoxLayout;
    export_ = new QPushButton(tr("Export pruned model…"), this);
    export_->setObjectName(QStringLiteral("importanceExport"));
    export_->setEnabled(false);
    open_ = new QPushButton(tr("Open pruned model"), this);
    open_->setObjectName(QStringLiteral("importanceOpen"));
    open_->setVisible(false);
    progress_ = new QProgressBar(this);
    progress_->setVisible(false);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setVisible(false);
    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("importanceStatus"));
    status_->setWordWrap(true);
    jobRow->addWidget(status_, 1);
    jobRow->addWidget(progress_);
    jobRow->addWidget(cancel_);
    jobRow->addWidget(export_);
    jobRow->addWidget(open_);
    root->addLayout(jobRow);

    connect(refresh, &QPushButton::clicked, this, &ImportanceView::refreshSources);
    connect(source_, &QComboBox::currentIndexChanged, this, [this] { compute(); });
    connect(method_, &QComboBox::currentIndexChanged, this, [this] { compute(); });
    connect(keepSlider_, &QSlider::valueChanged, this, [this](int v) {
        keepLabel_->setText(QString::number(v));
        compute();
    });
    connect(export_, &QPushButton::clicked, this, [this] { exportPrunedModel(QString()); });
    connect(open_, &QPushButton::clicked, this, &ImportanceView::openExported);
    connect(cancel_, &QPushButton::clicked, this, &ImportanceView::cancelJob);
    connect(runner_, &AnalysisRunner::failed, this, [this](const QString& m) {
        status_->setText(tr("Importance failed: %1").arg(m));
        emit failed(m);
    });
    connect(sourcesRunner_, &AnalysisRunner::failed, this, [this](const QString& m) { status_->setText(tr("Cannot list runs: %1").arg(m)); });
    selectExpertsFrom(
        this, hub_, heatmap_, table_, [this] { return result_ ? &result_->moe_layers : nullptr; },
        [this](int row) {
            const auto& r = model_->row(row);
            return std::pair<int, int>(r.layer, r.expert);
        });
    connect(hub_, &ViewHub::runsChanged, this, [this] {
        cache_->clear();
        refreshSources();
    });
    connect(hub_, &ViewHub::databaseChanged, this, [this] {
        cache_->clear();
        refreshSources();
    });
    connect(hub_, &ViewHub::modelChanged, this, [this] { export_->setEnabled(result_.has_value() && !hub_->modelPath().isEmpty()); });
    if (hub_->context) hub_->context->addObserver(this, this);
    refreshSources();
}

ImportanceView::~ImportanceView() {
    if (!jobTag_.isEmpty() && hub_->host) hub_->host->cancel(jobTag_);
}

QString ImportanceView::statusText() const { return status_->text(); }
int ImportanceView::keep() const { return keepSlider_->value(); }
bool ImportanceView::openOffered() const { return !open_->isHidden(); }

QStringList ImportanceView::sources() const {
    QStringList out;
    for (int i = 0; i < source_->count(); ++i) out << source_->itemData(i).toString();
    return out;
}

void ImportanceView::refreshSources() {
    const QString path = hub_->databasePath();
    if (path.isEmpty()) return;
    using Entry = std::pair<QString, QString>;  // key, text
    sourcesRunner_->run<std::vector<Entry>>(
        [path](const std::atomic<bool>&) {
            std::vector<Entry> out;
            if (!QFileInfo::exists(path)) return out;
            auto db = storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
            for (const auto& r : db->runs())
                out.emplace_back(QStringLiteral("run:%1").arg(r.id),
                                 QStringLiteral("run #%1 %2 · %3").arg(r.id).arg(QString::fromStdString(r.label),
                                                                             QString::fromUtf8(storage::capture_level_name(r.capture))));
            for (const auto& s : storage::prompt_set_names(*db))
                out.emplace_back(QStringLiteral("set:") + QString::fromStdString(s), tr("prompt set %1").arg(QString::fromStdString(s)));
            return out;
        },
        [this](std::vector<Entry>&& list) {
            const QString want = pendingSource_.isEmpty() ? source_->currentData().toString() : pendingSource_;
            pendingSource_.clear();
            {
                const QSignalBlocker block(source_);
                source_->clear();
                for (const auto& [key, text] : list) source_->addItem(text, key);
                int i = source_->findData(want);
                if (i < 0) {  // newest run
                    for (int j = 0; j < source_->count(); ++j)
                        if (source_->itemData(j).toString().startsWith(QLatin1String("run:"))) i = j;
                }
                source_->setCurrentIndex(i);
            }
            emit sourcesRefreshed();
            if (list.empty()) status_->setText(tr("The database has no runs: record one (Generate tab or another view)."));
            compute();
        });
}

void ImportanceView::selectSource(const QString& key) {
    const int i = source_->findData(key);
    if (i < 0) {
        pendingSource_ = key;
        refreshSources();
        return;
    }
    if (i == source_->currentIndex()) compute();
    else source_->setCurrentIndex(i);
}

void ImportanceView::setRun(qint64 runId) { selectSource(QStringLiteral("run:%1").arg(runId)); }
void ImportanceView::setPromptSet(const QString& name) { selectSource(QStringLiteral("set:") + name); }

void ImportanceView::setMethod(analysis::ImportanceMethod m) {
    const int i = method_->findData(static_cast<int>(m));
    if (i >= 0) method_->setCurrentIndex(i);
}

void ImportanceView::setKeep(int n) {
    if (n > keepSlider_->maximum()) keepSlider_->setMaximum(n);
    keepSlider_->setValue(n);
}

void ImportanceView::onRunLoaded(const RunDataPtr& run) {
    if (run && run->runId > 0) setRun(run->runId);
}

void ImportanceView::compute() {
    const QString path = hub_->databasePath();
    const QString key = source_->currentData().toString();
    if (path.isEmpty() || key.isEmpty()) return;
    analysis::ImportanceOptions o;
    o.method = static_cast<analysis::ImportanceMethod>(method_->currentData().toInt());
    o.keep_per_layer = keepSlider_->maximum() > 1 ? keepSlider_->value() : 0;  // 0 until E is known: half
    const bool activations = o.method == analysis::ImportanceMethod::Output || o.method == analysis::ImportanceMethod::EasyEp;
    const bool logits = o.method == analysis::ImportanceMethod::McMoe;
    status_->setText(tr("Computing %1 importance…").arg(method_->currentText()));
    auto cache = cache_;
    runner_->run<analysis::ImportanceResult>(
        [path, key, o, activations, logits, cache](const std::atomic<bool>&) mutable {
            const QString ck = path + QLatin1Char('\n') + key + QLatin1Char('\n') + QString::number(activations) + QString::number(logits);
            std::shared_ptr<const RoutingArrays> a;
            {
                std::lock_guard lock(cache->mutex);
                if (cache->key == ck) a = cache->arrays;
            }
            if (!a) {
                auto db = storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
                storage::RoutingSelection sel;
                if (key.startsWith(QLatin1String("run:"))) sel.run_ids = {key.mid(4).toLongLong()};
                else sel.prompt_set = key.mid(4).toStdString();
                sel.activations = activations;
                sel.logits = logits;
                a = std::make_shared<const RoutingArrays>(storage::read_routing(*db, sel));
                std::lock_guard lock(cache->mutex);
                cache->key = ck;
                cache->arrays = a;
            }
            if (o.keep_per_layer > a->n_experts) o.keep_per_layer = a->n_experts;
            return analysis::expert_importance(*a, o).value();
        },
        [this](analysis::ImportanceResult&& r) { showResult(std::move(r)); });
}

void ImportanceView::showResult(analysis::ImportanceResult r) {
    const int nMoe = static_cast<int>(r.moe_layers.size()), E = r.n_experts;
    const int K = r.keep.empty() ? 0 : static_cast<int>(r.keep.front().size());
    if (keepSlider_->maximum() != E || keepSlider_->value() != K) {
        const QSignalBlocker block(keepSlider_);
        keepSlider_->setRange(1, std::max(1, E));
        keepSlider_->setValue(K);
    }
    keepLabel_->setText(QStringLiteral("%1 / %2").arg(K).arg(E));

    // Heatmap: each expert's share of its layer's score; kept experts outlined.
    std::vector<float> values(static_cast<size_t>(nMoe) * static_cast<size_t>(E), std::nanf(""));
    for (int m = 0; m < nMoe; ++m) {
        const auto& s = r.score[static_cast<size_t>(m)];
        double total = 0;
        for (double v : s) total += v;
        for (int e = 0; e < E && e < static_cast<int>(s.size()); ++e)
            values[static_cast<size_t>(m) * static_cast<size_t>(E) + static_cast<size_t>(e)] =
                static_cast<float>(total > 0 ? s[static_cast<size_t>(e)] / total : 0.0);
    }
    QStringList rows, cols;
    for (int L : r.moe_layers) rows << QStringLiteral("L%1").arg(L);
    for (int e = 0; e < E; ++e) cols << QString::number(e);
    heatmap_->setData(nMoe, E, std::move(values), HeatmapWidget::Scale::Sequential);
    heatmap_->setRowLabels(rows);
    heatmap_->setColumnLabels(cols);
    std::vector<QPoint> marks;
    for (int m = 0; m < nMoe; ++m)
        for (int e : r.keep[static_cast<size_t>(m)]) marks.emplace_back(e, m);
    heatmap_->setMarks(marks);
    const auto layers = r.moe_layers;
    heatmap_->setTooltip([this, layers](int row, int col, float v) {
        if (row < 0 || row >= static_cast<int>(layers.size())) return QString();
        const int mr = model_->rowOf(layers[static_cast<size_t>(row)], col);
        if (mr < 0) return QString();
        const auto& x = model_->row(mr);
        return tr("L%1 E%2 · rank %3 in the layer%4\nscore %5 · %6% of the layer")
            .arg(x.layer)
            .arg(x.expert)
            .arg(x.rank)
            .arg(x.rank <= model_->keep() ? tr(" (kept)") : QString())
            .arg(x.score, 0, 'g', 4)
            .arg(100.0 * v, 0, 'f', 1);
    });
    model_->setResult(r);

    // Coverage per layer at this keep-N.
    coverage_ = analysis::kept_fraction(r.score, r.keep);
    routingCoverage_ = analysis::kept_fraction(r.frequency, r.keep);
    auto* chart = coverageChart_->chart();
    chart->removeAllSeries();
    for (auto* ax : chart->axes()) chart->removeAxis(ax);
    chart->setTitle(tr("mass kept per layer with %1 of %2 experts kept (%3)").arg(K).arg(E).arg(method_->currentText()));
    auto* imp = new QLineSeries;
    imp->setName(tr("importance kept"));
    auto* rout = new QLineSeries;
    rout->setName(tr("routing mass kept"));
    for (int m = 0; m < nMoe; ++m) {
        imp->append(r.moe_layers[static_cast<size_t>(m)], coverage_[static_cast<size_t>(m)]);
        rout->append(r.moe_layers[static_cast<size_t>(m)], routingCoverage_[static_cast<size_t>(m)]);
    }
    imp->setPointsVisible(true);
    rout->setPointsVisible(true);
    auto* ax = new QValueAxis;
    ax->setTitleText(tr("layer"));
    ax->setLabelFormat(QStringLiteral("%d"));
    ax->setTickCount(std::clamp(nMoe, 2, 9));
    ax->setRange(r.moe_layers.empty() ? 0 : r.moe_layers.front(), r.moe_layers.empty() ? 1 : std::max(r.moe_layers.back(), r.moe_layers.front() + 1));
    auto* ay = new QValueAxis;
    ay->setTitleText(tr("fraction kept"));
    ay->setRange(0, 1.05);
    chart->addAxis(ax, Qt::AlignBottom);
    chart->addAxis(ay, Qt::AlignLeft);
    for (QAbstractSeries* s : std::initializer_list<QAbstractSeries*>{imp, rout}) {
        chart->addSeries(s);
        s->attachAxis(ax);
        s->attachAxis(ay);
    }

    double minCov = 1.0;
    for (double c : coverage_) minCov = std::min(minCov, c);
    status_->setText(tr("%1 importance over %2 tokens of %3 · keeping %4 of %5 experts per layer keeps ≥ %6% of the "
                        "importance in every layer · outlined = kept")
                         .arg(QString::fromUtf8(analysis::importance_method_name(r.options.method)))
                         .arg(r.tokens)
                         .arg(source_->currentText())
                         .arg(K)
                         .arg(E)
                         .arg(100.0 * minCov, 0, 'f', 1));
    result_ = std::move(r);
    export_->setEnabled(jobTag_.isEmpty() && !hub_->modelPath().isEmpty());
    if (hub_->context && hub_->context->selectedExpert() >= 0)
        onExpertSelected(hub_->context->selectedExpertLayer(), hub_->context->selectedExpert());
    emit resultReady();
}

void ImportanceView::onExpertSelected(int layer, int expert) {
    if (!result_) return;
    showSelectedExpert(heatmap_, table_, result_->moe_layers, layer, expert,
                       [this](int l, int e) { return model_->rowOf(l, e); });
}

void ImportanceView::setJobRunning(bool running) {
    jobTag_ = running ? kPruneTag : QString();
    progress_->setVisible(running);
    cancel_->setVisible(running);
    export_->setEnabled(!running && result_.has_value());
    if (running) {
        progress_->setRange(0, 0);
        open_->setVisible(false);
    }
}

void ImportanceView::cancelJob() {
    if (!jobTag_.isEmpty() && hub_->host) hub_->host->cancel(jobTag_);
}

void ImportanceView::exportPrunedModel(const QString& requested) {
    if (!hub_->host || !jobTag_.isEmpty() || !result_) return;
    const QString modelDir = hub_->modelPath();
    if (modelDir.isEmpty()) {
        status_->setText(tr("Load the model these runs were recorded with to export a pruned copy."));
        emit pruneFinished(false, status_->text());
        return;
    }
    QString outDir = requested;
    if (outDir.isEmpty()) {
        outDir = QFileDialog::getExistingDirectory(this, tr("Empty folder for the pruned model"), QFileInfo(modelDir).absolutePath());
        if (outDir.isEmpty()) return;
    }
    // The plan: the shown keep lists, one entry per MoE layer (engine/model/prune.h checks it against the
    // model's config: same K everywhere, K >= top_k, n_group).
    PrunePlan plan;
    plan.n_experts = result_->n_experts;
    for (size_t m = 0; m < result_->moe_layers.size(); ++m) plan.layers.emplace_back(result_->moe_layers[m], result_->keep[m]);
    plan.source = QStringLiteral("moescope app: %1 importance, keep %2 per layer, %3")
                      .arg(QString::fromUtf8(analysis::importance_method_name(result_->options.method)))
                      .arg(result_->keep.empty() ? 0 : result_->keep.front().size())
                      .arg(source_->currentText())
                      .toStdString();
    // The runs behind the ranking (the arrays the result was computed from), to check that the loaded
    // model is the one they were recorded with before pruning it by their routing.
    std::vector<int64_t> runIds;
    {
        std::lock_guard lock(cache_->mutex);
        if (cache_->arrays) {
            std::set<int64_t> ids(cache_->arrays->run_id.begin(), cache_->arrays->run_id.end());
            runIds.assign(ids.begin(), ids.end());
        }
    }
    const QString dbPath = hub_->databasePath();
    setJobRunning(true);
    status_->setText(tr("Writing the pruned model to %1…").arg(outDir));
    QPointer<QObject> rcv(this);
    EngineHost* host = hub_->host;
    host->post(kPruneTag, [host, rcv, modelDir, outDir, plan, runIds, dbPath](const std::atomic<bool>& cancelled) {
        bool ok = false;
        QString message;
        try {
            if (!dbPath.isEmpty() && !runIds.empty()) {
                auto db = storage::Database::open(dbPath.toStdString(), storage::Access::ReadOnly);
                if (auto why = storage::runs_model_mismatch(*db, runIds, modelDir.toStdString()))
                    throw Error(*why + ". Load that model to export a pruned copy of it.");
            }
            PruneOptions o;
            o.stop = &cancelled;
            o.progress = [host, rcv](int done, int total) {
                host->deliver(rcv, [rcv, done, total] {
                    if (auto* v = qobject_cast<ImportanceView*>(rcv.data())) {
                        v->progress_->setRange(0, total);
                        v->progress_->setValue(done);
                    }
                });
            };
            const PruneReport r = prune_checkpoint(modelDir.toStdString(), outDir.toStdString(), plan, o);
            ok = true;
            message = QObject::tr("Wrote %1: %2 → %3 experts per layer in %4 layers, %5 tensors removed, %6 sliced (%7 MB).")
                          .arg(outDir)
                          .arg(r.original_num_experts)
                          .arg(r.num_experts)
                          .arg(r.layers)
                          .arg(r.removed_tensors)
                          .arg(r.sliced_tensors)
                          .arg(static_cast<double>(r.weight_bytes) / 1e6, 0, 'f', 1);
        } catch (const std::exception& e) {
            message = QString::fromUtf8(e.what());
        }
        host->deliver(rcv, [rcv, ok, message, outDir] {
            auto* v = qobject_cast<ImportanceView*>(rcv.data());
            if (!v) return;
            v->setJobRunning(false);
            v->status_->setText(ok ? message : QObject::tr("Export failed: %1").arg(message));
            if (ok) {
                v->exportedPath_ = outDir;
                v->open_->setVisible(true);
            }
            emit v->pruneFinished(ok, message);
        });
    });
}

void ImportanceView::openExported() {
    if (!exportedPath_.isEmpty()) hub_->openModel(exportedPath_);
}

}  // namespace moescope::gui
