#include "app/gui/views/super_experts_view.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QProgressBar>
#include <QPushButton>
#include <QScatterSeries>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTableView>
#include <QValueAxis>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "app/gui/engine_host.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/engine_jobs.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/view_hub.h"
#include "app/gui/views/view_widgets.h"
#include "storage/capture.h"
#include "storage/routing_reader.h"

namespace moescope::gui {

namespace {
const QString kRecordTag = QStringLiteral("super-record");
const QString kWhatIfTag = QStringLiteral("super-whatif");

QStandardItem* num(double v, int prec = 4, char fmt = 'g') {
    auto* it = new QStandardItem(QString::number(v, fmt, prec));
    it->setData(v, Qt::UserRole);
    it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return it;
}
QStandardItem* integer(qint64 v) {
    auto* it = new QStandardItem(QString::number(v));
    it->setData(v, Qt::UserRole);
    it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return it;
}
QString expertList(const std::vector<ExpertRef>& v) {
    QStringList s;
    for (const auto& e : v) s << QStringLiteral("L%1 E%2").arg(e.layer).arg(e.expert);
    return s.join(QStringLiteral(" "));
}
}  // namespace

SuperExpertsView::SuperExpertsView(ViewHub* hub, QWidget* parent)
    : QWidget(parent), hub_(hub), runner_(new AnalysisRunner(this)), runsRunner_(new AnalysisRunner(this)) {
    auto* root = new QVBoxLayout(this);

    auto* runBox = new QGroupBox(tr("Run (capture level activations)"), this);
    auto* rl = new QHBoxLayout(runBox);
    runs_ = new QComboBox(runBox);
    runs_->setObjectName(QStringLiteral("superRun"));
    auto* refresh = new QPushButton(tr("Refresh"), runBox);
    recFile_ = new QLineEdit(bundledPromptFile(QStringLiteral("prose.discovery.jsonl")), runBox);
    recMaxNew_ = new QSpinBox(runBox);
    recMaxNew_->setRange(0, 4096);
    recMaxNew_->setValue(16);
    record_ = new QPushButton(tr("Record with activations"), runBox);
    record_->setObjectName(QStringLiteral("superRecord"));
    rl->addWidget(new QLabel(tr("Run:"), runBox));
    rl->addWidget(runs_, 2);
    rl->addWidget(refresh);
    rl->addWidget(new QLabel(tr("Prompts:"), runBox));
    rl->addWidget(recFile_, 2);
    rl->addWidget(new QLabel(tr("new tokens:"), runBox));
    rl->addWidget(recMaxNew_);
    rl->addWidget(record_);
    root->addWidget(runBox);
    notice_ = new QLabel(this);
    notice_->setObjectName(QStringLiteral("superNotice"));
    notice_->setWordWrap(true);
    notice_->setStyleSheet(QStringLiteral("color: #a04000"));
    root->addWidget(notice_);

    heatmap_ = new HeatmapWidget(this);
    heatmap_->setAutoFit(true);  // layers x experts: the whole matrix in view until the user zooms
    heatmap_->setObjectName(QStringLiteral("superHeatmap"));
    heatmap_->setAxisTitles(tr("layer"), tr("expert"));
    thresholdChart_ = new QChartView(new QChart, this);
    thresholdChart_->setObjectName(QStringLiteral("superThresholdChart"));
    thresholdChart_->setRenderHint(QPainter::Antialiasing);
    thresholdChart_->setMinimumHeight(220);
    layerChart_ = new QChartView(new QChart, this);
    layerChart_->setObjectName(QStringLiteral("superLayerChart"));
    layerChart_->setRenderHint(QPainter::Antialiasing);
    layerChart_->setMinimumHeight(220);

    superModel_ = new QStandardItemModel(0, 7, this);
    superModel_->setHorizontalHeaderLabels({tr("rank"), tr("layer"), tr("expert"), tr("max |down_proj|"), tr("channel"), tr("position"), tr("token id")});
    superTable_ = new QTableView(this);
    superTable_->setObjectName(QStringLiteral("superTable"));
    superTable_->setModel(superModel_);
    superTable_->setSelectionBehavior(QAbstractItemView::SelectRows);
    superTable_->setSelectionMode(QAbstractItemView::SingleSelection);
    superTable_->verticalHeader()->hide();
    superTable_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layerModel_ = new QStandardItemModel(0, 5, this);
    layerModel_->setHorizontalHeaderLabels({tr("layer"), tr("max |h|"), tr("channel"), tr("massive hits"), tr("first-token attention")});
    headHeatmap_ = new HeatmapWidget(this);
    headHeatmap_->setAutoFit(true);
    headHeatmap_->setObjectName(QStringLiteral("superHeadHeatmap"));
    headHeatmap_->setAxisTitles(tr("layer"), tr("head"));
    headHeatmap_->setToolTip(tr("First-token attention mass α₁ per layer and head (Gu et al.); outlined: α₁ > ε (0.3).\n"
                                "Needs a run recorded with per-head sink mass (“Record with activations” does that)."));
    auto* layerTable = new QTableView(this);
    layerTable->setModel(layerModel_);
    layerTable->verticalHeader()->hide();
    layerTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    auto* top = new QSplitter(Qt::Horizontal, this);
    top->addWidget(withBar(top, new ExportBar(QStringLiteral("super_experts_heatmap"), heatmap_, nullptr, top), heatmap_));
    top->addWidget(withBar(top, new ExportBar(QStringLiteral("super_experts_thresholds"), thresholdChart_, nullptr, top), thresholdChart_));
    top->addWidget(withBar(top, new ExportBar(QStringLiteral("super_experts"), nullptr, superModel_, top), superTable_));
    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(withBar(bottom, new ExportBar(QStringLiteral("massive_activations_sinks"), layerChart_, nullptr, bottom), layerChart_));
    bottom->addWidget(withBar(bottom, new ExportBar(QStringLiteral("layers"), nullptr, layerModel_, bottom), layerTable));
    bottom->addWidget(withBar(bottom, new ExportBar(QStringLiteral("sink_mass_per_head"), headHeatmap_, nullptr, bottom), headHeatmap_));
    auto* vs = new QSplitter(Qt::Vertical, this);
    vs->addWidget(top);
    vs->addWidget(bottom);
    root->addWidget(vs, 1);

    auto* wiBox = new QGroupBox(tr("Prune what-if: super experts disabled vs a random matched set of the same size"), this);
    auto* wl = new QVBoxLayout(wiBox);
    auto* wrow = new QHBoxLayout;
    whatIfFile_ = new QLineEdit(bundledPromptFile(QStringLiteral("prose.heldout.jsonl")), wiBox);
    whatIfPrompts_ = new QSpinBox(wiBox);
    whatIfPrompts_->setRange(1, 10000);
    whatIfPrompts_->setValue(10);
    whatIfMode_ = new QComboBox(wiBox);
    // The Super Experts paper zeroes down_proj (P2, routing unchanged: the default); P1 disables the
    // expert in the router so another expert takes the slot (methods.md §0.3).
    whatIfMode_->setObjectName(QStringLiteral("superWhatIfMode"));
    whatIfMode_->addItem(tr("zero down_proj output (paper)"), static_cast<int>(analysis::PruneMode::ZeroOutput));
    whatIfMode_->addItem(tr("disable (router logit −inf)"), static_cast<int>(analysis::PruneMode::Disable));
    whatIfMode_->setToolTip(tr("zero: the experts stay selected with their gate weights, their output is zero (Super Experts paper);\n"
                               "disable: the router never selects them and the next-ranked experts take their slots."));
    whatIf_ = new QPushButton(tr("Run what-if"), wiBox);
    whatIf_->setObjectName(QStringLiteral("superWhatIf"));
    wrow->addWidget(new QLabel(tr("Prompts:"), wiBox));
    wrow->addWidget(whatIfFile_, 1);
    wrow->addWidget(new QLabel(tr("first"), wiBox));
    wrow->addWidget(whatIfPrompts_);
    wrow->addWidget(whatIfMode_);
    wrow->addWidget(whatIf_);
    wl->addLayout(wrow);
    whatIfModel_ = new QStandardItemModel(0, 8, this);
    whatIfModel_->setHorizontalHeaderLabels(
        {tr("variant"), tr("disabled"), tr("mean KL"), tr("max KL"), tr("top-1 agreement"), tr("perplexity"), tr("base perplexity"), tr("positions")});
    auto* wt = new QTableView(wiBox);
    wt->setModel(whatIfModel_);
    wt->verticalHeader()->hide();
    wt->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    wt->setMaximumHeight(130);
    auto* wh = new QHBoxLayout;
    wh->addWidget(wt, 1);
    wh->addWidget(new ExportBar(QStringLiteral("prune_what_if"), nullptr, whatIfModel_, wiBox));
    wl->addLayout(wh);
    root->addWidget(wiBox);

    auto* jobRow = new QHBoxLayout;
    status_ = new QLabel(this);
    status_->setWordWrap(true);
    progress_ = new QProgressBar(this);
    progress_->setVisible(false);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setVisible(false);
    jobRow->addWidget(status_, 1);
    jobRow->addWidget(progress_);
    jobRow->addWidget(cancel_);
    root->addLayout(jobRow);
    whatIf_->setEnabled(false);

    connect(refresh, &QPushButton::clicked, this, &SuperExpertsView::refreshRuns);
    connect(runs_, &QComboBox::currentIndexChanged, this, [this] { compute(); });
    connect(record_, &QPushButton::clicked, this, &SuperExpertsView::recordNow);
    connect(whatIf_, &QPushButton::clicked, this, &SuperExpertsView::runWhatIf);
    connect(cancel_, &QPushButton::clicked, this, &SuperExpertsView::cancelJob);
    connect(runner_, &AnalysisRunner::failed, this, [this](const QString& m) {
        status_->setText(tr("Super experts failed: %1").arg(m));
        emit failed(m);
    });
    connect(heatmap_, &HeatmapWidget::cellClicked, this, [this](int row, int col) {
        if (!data_ || !data_->experts || row < 0 || row >= static_cast<int>(data_->experts->moe_layers.size())) return;
        if (hub_->context) hub_->context->selectExpert(data_->experts->moe_layers[static_cast<size_t>(row)], col);
    });
    connect(superTable_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& cur) {
        if (!cur.isValid() || !hub_->context) return;
        hub_->context->selectExpert(superModel_->item(cur.row(), 1)->data(Qt::UserRole).toInt(),
                                    superModel_->item(cur.row(), 2)->data(Qt::UserRole).toInt());
    });
    connect(hub_, &ViewHub::databaseChanged, this, &SuperExpertsView::refreshRuns);
    connect(hub_, &ViewHub::runsChanged, this, &SuperExpertsView::refreshRuns);
    if (hub_->context) hub_->context->addObserver(this, this);
    refreshRuns();
}

SuperExpertsView::~SuperExpertsView() {
    if (!jobTag_.isEmpty() && hub_->host) hub_->host->cancel(jobTag_);
}

QString SuperExpertsView::noticeText() const { return notice_->text(); }
bool SuperExpertsView::recordOffered() const { return !notice_->isHidden() && !notice_->text().isEmpty() && record_->isEnabled(); }
void SuperExpertsView::setRecordFile(const QString& f, int maxNew) {
    recFile_->setText(f);
    recMaxNew_->setValue(maxNew);
}
void SuperExpertsView::setWhatIfFile(const QString& f, int maxPrompts) {
    whatIfFile_->setText(f);
    whatIfPrompts_->setValue(maxPrompts);
}

void SuperExpertsView::refreshRuns() {
    const QString path = hub_->databasePath();
    if (path.isEmpty()) return;
    struct Entry {
        qint64 id;
        QString text;
        bool activations;
    };
    runsRunner_->run<std::vector<Entry>>(
        [path](const std::atomic<bool>&) {
            std::vector<Entry> out;
            if (!QFileInfo::exists(path)) return out;
            auto db = storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
            for (const auto& r : db->runs())
                out.push_back({r.id,
                               QStringLiteral("#%1 %2 · %3 · %4").arg(r.id).arg(QString::fromStdString(r.label),
                                                                      QString::fromUtf8(storage::capture_level_name(r.capture)),
                                                                      QString::fromUtf8(storage::run_status_name(r.status))),
                               r.capture == CaptureLevel::Activations});
            return out;
        },
        [this](std::vector<Entry>&& list) {
            const qint64 want = pendingRun_ >= 0 ? pendingRun_ : runs_->currentData().toLongLong();
            pendingRun_ = -1;
            {
                const QSignalBlocker block(runs_);
                runs_->clear();
                int pick = -1, newestAct = -1;
                for (const auto& e : list) {
                    runs_->addItem(e.text, e.id);
                    if (e.id == want) pick = runs_->count() - 1;
                    if (e.activations) newestAct = runs_->count() - 1;
                }
                if (pick < 0) pick = newestAct >= 0 ? newestAct : runs_->count() - 1;
                runs_->setCurrentIndex(pick);
            }
            emit runsRefreshed();
            if (list.empty()) {
                notice_->setText(tr("The database has no runs. Super experts and massive activations need a run recorded at "
                                    "capture level activations: use “Record with activations”."));
                notice_->show();
                return;
            }
            compute();
        });
}

void SuperExpertsView::setRun(qint64 runId) {
    const int i = runs_->findData(runId);
    if (i < 0) {
        pendingRun_ = runId;
        refreshRuns();
        return;
    }
    if (i == runs_->currentIndex()) compute();
    else runs_->setCurrentIndex(i);
}

void SuperExpertsView::compute() {
    const QString path = hub_->databasePath();
    const qint64 runId = runs_->currentData().toLongLong();
    if (path.isEmpty() || runId <= 0) return;
    status_->setText(tr("Reading run #%1…").arg(runId));
    runner_->run<Data>(
        [path, runId](const std::atomic<bool>&) {
            Data d;
            d.runId = runId;
            auto db = storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
            const storage::RunInfo info = db->run(runId);
            d.capture = QString::fromUtf8(storage::capture_level_name(info.capture));
            if (info.capture != CaptureLevel::Activations) return d;
            storage::RoutingSelection sel;
            sel.run_ids = {runId};
            sel.activations = true;
            sel.layer_stats = true;
            const RoutingArrays a = storage::read_routing(*db, sel);
            d.hasActivations = a.has_activations();
            d.hasLayerStats = a.has_layer_stats();
            if (d.hasActivations) d.experts = analysis::super_experts(a, {}).value();
            if (d.hasLayerStats) {
                int hidden = 0;
                if (auto m = db->model(info.model_id))
                    hidden = QJsonDocument::fromJson(QByteArray::fromStdString(m->config_json)).object().value("hidden_size").toInt();
                if (hidden > 1) d.massive = analysis::massive_activations(a, hidden, {}, {}).value();
                else d.note = QObject::tr("the model row has no hidden_size: massive-activation ratios are not computed");
                if (!a.sink_mass.empty()) d.sinks = analysis::attention_sinks(a, {}, {}).value();
                // Per layer: the largest recorded |h| and its channel (display lookup over the recorded maxima).
                d.layerMax.assign(static_cast<size_t>(a.n_layers), 0.0);
                d.layerChannel.assign(static_cast<size_t>(a.n_layers), -1);
                for (int64_t t = 0; t < a.n_tokens; ++t)
                    for (int l = 0; l < a.n_layers; ++l) {
                        const size_t i = static_cast<size_t>(t) * static_cast<size_t>(a.n_layers) + static_cast<size_t>(l);
                        if (a.hidden_max_abs[i] > d.layerMax[static_cast<size_t>(l)]) {
                            d.layerMax[static_cast<size_t>(l)] = a.hidden_max_abs[i];
                            d.layerChannel[static_cast<size_t>(l)] = a.hidden_max_channel[i];
                        }
                    }
            }
            return d;
        },
        [this](Data&& d) { showData(std::move(d)); });
}

void SuperExpertsView::showData(Data d) {
    const bool ok = d.hasActivations;
    notice_->setVisible(!ok);
    if (!ok)
        notice_->setText(tr("Run #%1 was recorded at capture level “%2”. Super experts, massive activations and sinks need "
                            "capture level activations: “Record with activations” records the prompts file with them.")
                             .arg(d.runId)
                             .arg(d.capture));
    superModel_->removeRows(0, superModel_->rowCount());
    layerModel_->removeRows(0, layerModel_->rowCount());
    thresholdChart_->chart()->removeAllSeries();
    layerChart_->chart()->removeAllSeries();
    for (auto* ax : thresholdChart_->chart()->axes()) thresholdChart_->chart()->removeAxis(ax);
    for (auto* ax : layerChart_->chart()->axes()) layerChart_->chart()->removeAxis(ax);
    if (d.experts) {
        const auto& r = *d.experts;
        const int nMoe = static_cast<int>(r.moe_layers.size()), E = r.n_experts;
        std::vector<float> v(static_cast<size_t>(nMoe) * static_cast<size_t>(E), std::nanf(""));
        std::vector<double> sorted;
        for (int m = 0; m < nMoe; ++m)
            for (int e = 0; e < E; ++e) {
                const auto& x = r.max_output[static_cast<size_t>(m)][static_cast<size_t>(e)];
                if (x.channel < 0) continue;
                v[static_cast<size_t>(m) * static_cast<size_t>(E) + static_cast<size_t>(e)] = static_cast<float>(x.value);
                if (r.moe_layers[static_cast<size_t>(m)] < r.layer_limit) sorted.push_back(x.value);
            }
        QStringList rows, cols;
        for (int L : r.moe_layers) rows << QStringLiteral("L%1").arg(L);
        for (int e = 0; e < E; ++e) cols << QString::number(e);
        heatmap_->setData(nMoe, E, std::move(v), HeatmapWidget::Scale::Sequential);
        heatmap_->setRowLabels(rows);
        heatmap_->setColumnLabels(cols);
        std::vector<QPoint> marks;
        for (const auto& s : r.super_experts) {
            const auto it = std::find(r.moe_layers.begin(), r.moe_layers.end(), s.layer);
            if (it != r.moe_layers.end()) marks.emplace_back(s.expert, static_cast<int>(it - r.moe_layers.begin()));
            superModel_->appendRow({integer(s.rank), integer(s.layer), integer(s.expert), num(s.value, 5), integer(s.channel),
                                    integer(s.position), integer(s.token_id)});
        }
        heatmap_->setMarks(marks);
        // Sorted a values (the population: layers < layer_limit) with the two thresholds.
        std::sort(sorted.begin(), sorted.end(), std::greater<>());
        auto* chart = thresholdChart_->chart();
        chart->setTitle(tr("max |down_proj output| per expert, sorted (layers < %1)").arg(r.layer_limit));
        auto* line = new QLineSeries;
        line->setName(tr("a[L,E]"));
        const double floorV = 1e-6;
        for (size_t i = 0; i < sorted.size(); ++i) line->append(static_cast<double>(i + 1), std::max(sorted[i], floorV));
        auto* p995 = new QLineSeries;
        p995->setName(tr("P%1 = %2").arg(r.options.percentile).arg(r.percentile_value, 0, 'g', 4));
        auto* tenth = new QLineSeries;
        tenth->setName(tr("max/%1 = %2").arg(r.options.times).arg(r.a_max / r.options.times, 0, 'g', 4));
        const double n = std::max<double>(1.0, static_cast<double>(sorted.size()));
        p995->append(1, std::max(r.percentile_value, floorV));
        p995->append(n, std::max(r.percentile_value, floorV));
        tenth->append(1, std::max(r.a_max / r.options.times, floorV));
        tenth->append(n, std::max(r.a_max / r.options.times, floorV));
        auto* supers = new QScatterSeries;
        supers->setName(tr("super experts (%1)").arg(r.super_experts.size()));
        supers->setMarkerSize(9);
        for (size_t i = 0; i < r.super_experts.size(); ++i) supers->append(static_cast<double>(i + 1), std::max(r.super_experts[i].value, floorV));
        auto* ax = new QValueAxis;
        ax->setTitleText(tr("rank"));
        ax->setLabelFormat(QStringLiteral("%d"));
        ax->setRange(1, n);
        auto* ay = new QLogValueAxis;
        ay->setTitleText(tr("|down_proj| (log)"));
        ay->setLabelFormat(QStringLiteral("%.3g"));
        chart->addAxis(ax, Qt::AlignBottom);
        chart->addAxis(ay, Qt::AlignLeft);
        for (QAbstractSeries* s : std::initializer_list<QAbstractSeries*>{line, p995, tenth, supers}) {
            chart->addSeries(s);
            s->attachAxis(ax);
            s->attachAxis(ay);
        }
    } else {
        heatmap_->setData(0, 0, {});
    }
    // Per layer: massive activations and first-token attention mass.
    if (!d.layerMax.empty()) {
        auto* chart = layerChart_->chart();
        chart->setTitle(tr("per layer: largest |hidden state| (with channel) and first-token attention mass"));
        auto* hmax = new QLineSeries;
        hmax->setName(tr("max |h|"));
        hmax->setPointLabelsVisible(true);
        hmax->setPointLabelsFormat(QStringLiteral("@yPoint"));
        auto* sink = new QLineSeries;
        sink->setName(tr("first-token attention (per layer, head mean)"));
        const int nl = static_cast<int>(d.layerMax.size());
        std::vector<int> hits(static_cast<size_t>(nl), 0);
        if (d.massive)
            for (const auto& h : d.massive->hits)
                if (h.layer >= 0 && h.layer < nl) ++hits[static_cast<size_t>(h.layer)];
        for (int l = 0; l < nl; ++l) {
            hmax->append(l, std::max(d.layerMax[static_cast<size_t>(l)], 1e-6));
            double alpha = std::nan("");
            if (d.sinks)
                for (const auto& s : d.sinks->layers)
                    if (s.layer == l) alpha = s.alpha_first;
            if (!std::isnan(alpha)) sink->append(l, alpha);
            auto* ch = integer(d.layerChannel[static_cast<size_t>(l)]);
            layerModel_->appendRow({integer(l), num(d.layerMax[static_cast<size_t>(l)], 5), ch, integer(hits[static_cast<size_t>(l)]),
                                    std::isnan(alpha) ? new QStandardItem(QString()) : num(alpha, 3, 'f')});
        }
        auto* ax = new QValueAxis;
        ax->setTitleText(tr("layer"));
        ax->setLabelFormat(QStringLiteral("%d"));
        ax->setRange(0, std::max(1, nl - 1));
        ax->setTickCount(std::min(nl, 12));
        auto* ay = new QLogValueAxis;
        ay->setTitleText(tr("max |h| (log)"));
        ay->setLabelFormat(QStringLiteral("%.3g"));
        auto* ay2 = new QValueAxis;
        ay2->setTitleText(tr("attention on token 0"));
        ay2->setRange(0, 1);
        chart->addAxis(ax, Qt::AlignBottom);
        chart->addAxis(ay, Qt::AlignLeft);
        chart->addAxis(ay2, Qt::AlignRight);
        chart->addSeries(hmax);
        hmax->attachAxis(ax);
        hmax->attachAxis(ay);
        chart->addSeries(sink);
        sink->attachAxis(ax);
        sink->attachAxis(ay2);
    }
    // Per layer and head: alpha_1^{l,h} (recorded per-head mass), sinks (alpha > epsilon) outlined.
    if (d.sinks && d.sinks->n_heads > 0 && !d.sinks->layers.empty()) {
        const int nh = d.sinks->n_heads, nl = static_cast<int>(d.sinks->layers.size());
        std::vector<float> v(static_cast<size_t>(nl) * nh, std::nanf(""));
        std::vector<QPoint> marks;
        QStringList rows, cols;
        for (int i = 0; i < nl; ++i) {
            const auto& L = d.sinks->layers[static_cast<size_t>(i)];
            rows << QStringLiteral("L%1").arg(L.layer);
            for (const auto& h : L.heads) {
                if (h.head < 0 || h.head >= nh) continue;
                v[static_cast<size_t>(i) * nh + h.head] = static_cast<float>(h.alpha_first);
                if (h.sink) marks.push_back(QPoint(h.head, i));
            }
        }
        for (int h = 0; h < nh; ++h) cols << QStringLiteral("H%1").arg(h);
        headHeatmap_->setRowLabels(rows);
        headHeatmap_->setColumnLabels(cols);
        headHeatmap_->setRange(0.0f, 1.0f);
        headHeatmap_->setData(nl, nh, std::move(v), HeatmapWidget::Scale::Sequential);
        headHeatmap_->setMarks(marks);
        headHeatmap_->setCellSize(std::max(8, 240 / std::max(nh, 1)), 14);
        headHeatmap_->setTooltip([rows, cols](int r, int c, float val) {
            return tr("%1 %2 · attention on token 0: %3").arg(rows.value(r), cols.value(c)).arg(static_cast<double>(val), 0, 'f', 3);
        });
    } else {
        headHeatmap_->setData(0, 0, {});
    }
    QString text;
    if (d.experts)
        text = tr("Run #%1: %2 super expert(s) — a > P%3 (%4) and a > max/%5 (%6), layers < %7. Sinks shown per layer (head "
                  "mean) until per-head mass is recorded.")
                   .arg(d.runId)
                   .arg(d.experts->super_experts.size())
                   .arg(d.experts->options.percentile)
                   .arg(d.experts->percentile_value, 0, 'g', 4)
                   .arg(d.experts->options.times)
                   .arg(d.experts->a_max / d.experts->options.times, 0, 'g', 4)
                   .arg(d.experts->layer_limit);
    if (!d.note.isEmpty()) text += QStringLiteral(" ") + d.note;
    status_->setText(text);
    whatIf_->setEnabled(d.experts && !d.experts->super_experts.empty());
    data_ = std::move(d);
    if (hub_->context && hub_->context->selectedExpert() >= 0)
        onExpertSelected(hub_->context->selectedExpertLayer(), hub_->context->selectedExpert());
    emit resultReady();
}

void SuperExpertsView::onExpertSelected(int layer, int expert) {
    if (!data_ || !data_->experts) return;
    const auto& L = data_->experts->moe_layers;
    const auto it = std::find(L.begin(), L.end(), layer);
    heatmap_->setSelectedCell(it == L.end() ? -1 : static_cast<int>(it - L.begin()), it == L.end() ? -1 : expert);
    for (int r = 0; r < superModel_->rowCount(); ++r)
        if (superModel_->item(r, 1)->data(Qt::UserRole).toInt() == layer && superModel_->item(r, 2)->data(Qt::UserRole).toInt() == expert) {
            const QSignalBlocker block(superTable_->selectionModel());
            superTable_->selectRow(r);
            return;
        }
    const QSignalBlocker block(superTable_->selectionModel());
    superTable_->clearSelection();
}

void SuperExpertsView::setJobRunning(const QString& tag, bool running) {
    jobTag_ = running ? tag : QString();
    progress_->setVisible(running);
    cancel_->setVisible(running);
    record_->setEnabled(!running);
    whatIf_->setEnabled(!running && data_ && data_->experts && !data_->experts->super_experts.empty());
    if (running) progress_->setRange(0, 0);
}

void SuperExpertsView::cancelJob() {
    if (!jobTag_.isEmpty() && hub_->host) hub_->host->cancel(jobTag_);
}

void SuperExpertsView::recordNow() {
    if (!hub_->host || !jobTag_.isEmpty() || recFile_->text().trimmed().isEmpty()) return;
    RecordRequest req;
    req.files << recFile_->text().trimmed();
    req.level = CaptureLevel::Activations;
    req.sinkPerHead = true;  // per-head first-token mass for the layers x heads map (Gu et al.'s metric)
    req.maxNew = recMaxNew_->value();
    setJobRunning(kRecordTag, true);
    status_->setText(tr("Recording %1 with activations…").arg(req.files.first()));
    postRecordJob(
        hub_, this, kRecordTag, req,
        progressTo(progress_),
        [this](const RecordOutcome& o) {
            setJobRunning(kRecordTag, false);
            status_->setText(o.message);
            if (!o.runIds.isEmpty()) {
                pendingRun_ = o.runIds.last();
                emit hub_->runsRecorded();
                refreshRuns();
            }
            emit recordFinished(o.ok, o.message);
        });
}

void SuperExpertsView::runWhatIf() {
    if (!hub_->host || !jobTag_.isEmpty() || !data_ || !data_->experts || data_->experts->super_experts.empty()) return;
    WhatIfRequest req;
    req.file = whatIfFile_->text().trimmed();
    req.maxPrompts = whatIfPrompts_->value();
    for (const auto& s : data_->experts->super_experts) req.chosen.push_back({s.layer, s.expert});
    req.chosenName = tr("super experts off");
    req.mode = static_cast<analysis::PruneMode>(whatIfMode_->currentData().toInt());
    setJobRunning(kWhatIfTag, true);
    status_->setText(tr("What-if: %1 prompts × 3 variants…").arg(req.maxPrompts));
    postWhatIfJob(
        hub_, this, kWhatIfTag, req,
        progressTo(progress_),
        [this](const WhatIfOutcome& o) {
            setJobRunning(kWhatIfTag, false);
            showWhatIf(o);
        });
}

void SuperExpertsView::showWhatIf(const WhatIfOutcome& o) {
    whatIfModel_->removeRows(0, whatIfModel_->rowCount());
    for (const auto& r : o.rows)
        whatIfModel_->appendRow({new QStandardItem(r.name), new QStandardItem(expertList(r.disabled)), num(r.meanKl), num(r.maxKl),
                                 num(r.top1, 3, 'f'), num(r.ppl), num(r.pplBase), integer(r.positions)});
    status_->setText(o.message);
    emit whatIfReady(o.ok, o.message);
}

}  // namespace moescope::gui
