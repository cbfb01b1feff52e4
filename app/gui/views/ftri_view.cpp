#include "app/gui/views/ftri_view.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "app/gui/engine_host.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/engine_jobs.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/ftri_model.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/view_hub.h"
#include "app/gui/views/view_widgets.h"
#include "engine/behavior_eval.h"
#include "storage/prompt_recording.h"
#include "storage/routing_reader.h"

namespace moescope::gui {

namespace {
const QString kRecordTag = QStringLiteral("ftri-record");
const QString kEvalTag = QStringLiteral("ftri-evaluate");

QString expertList(const std::vector<ExpertRef>& v) {
    QStringList s;
    for (const auto& e : v) s << QStringLiteral("L%1 E%2").arg(e.layer).arg(e.expert);
    return s.isEmpty() ? QObject::tr("(none)") : s.join(QStringLiteral(", "));
}

QPushButton* browseButton(QWidget* parent, QLineEdit* edit, const QString& filter) {
    auto* b = new QPushButton(QObject::tr("…"), parent);
    b->setMaximumWidth(28);
    QObject::connect(b, &QPushButton::clicked, parent, [parent, edit, filter] {
        const QString f = QFileDialog::getOpenFileName(parent, QObject::tr("Prompt file"), QFileInfo(edit->text()).absolutePath(), filter);
        if (!f.isEmpty()) edit->setText(f);
    });
    return b;
}
}  // namespace

struct FtriView::Cache {
    std::mutex mutex;
    QString key;
    std::shared_ptr<const RoutingArrays> behavior, control;
    void clear() {
        std::lock_guard lock(mutex);
        key.clear();
        behavior.reset();
        control.reset();
    }
};

FtriView::FtriView(ViewHub* hub, QWidget* parent)
    : QWidget(parent), hub_(hub), runner_(new AnalysisRunner(this)), setsRunner_(new AnalysisRunner(this)),
      cache_(std::make_shared<Cache>()) {
    auto* root = new QVBoxLayout(this);
    root->addWidget(buildSetsRow());
    root->addWidget(buildRecordRow());

    heatmap_ = new HeatmapWidget(this);
    heatmap_->setAutoFit(true);  // layers x experts: the whole matrix in view until the user zooms
    heatmap_->setObjectName(QStringLiteral("ftriHeatmap"));
    heatmap_->setAxisTitles(tr("layer"), tr("expert"));
    model_ = new FtriModel(this);
    table_ = new QTableView(this);
    table_->setObjectName(QStringLiteral("ftriTable"));
    table_->setModel(model_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->verticalHeader()->hide();

    auto* left = new QWidget(this);
    auto* ll = new QVBoxLayout(left);
    ll->setContentsMargins(0, 0, 0, 0);
    ll->addWidget(new ExportBar(QStringLiteral("ftri_heatmap"), heatmap_, nullptr, left));
    ll->addWidget(heatmap_, 1);
    auto* right = new QWidget(this);
    auto* rl = new QVBoxLayout(right);
    rl->setContentsMargins(0, 0, 0, 0);
    rl->addWidget(new ExportBar(QStringLiteral("ftri_ranking"), nullptr, model_, right));
    rl->addWidget(table_, 1);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    root->addWidget(split, 1);
    root->addWidget(buildPresetRow());
    root->addWidget(buildEvalRow());

    auto* jobRow = new QHBoxLayout;
    progress_ = new QProgressBar(this);
    progress_->setObjectName(QStringLiteral("ftriProgress"));
    progress_->setVisible(false);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setObjectName(QStringLiteral("ftriCancel"));
    cancel_->setVisible(false);
    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("ftriStatus"));
    status_->setWordWrap(true);
    jobRow->addWidget(status_, 1);
    jobRow->addWidget(progress_);
    jobRow->addWidget(cancel_);
    root->addLayout(jobRow);

    connect(cancel_, &QPushButton::clicked, this, &FtriView::cancelJob);
    connect(runner_, &AnalysisRunner::failed, this, [this](const QString& m) {
        setStatus(tr("fTRI failed: %1").arg(m));
        emit failed(m);
    });
    connect(setsRunner_, &AnalysisRunner::failed, this, [this](const QString& m) { setStatus(tr("Cannot list prompt sets: %1").arg(m)); });
    selectExpertsFrom(
        this, hub_, heatmap_, table_, [this] { return result_ ? &result_->moe_layers : nullptr; },
        [this](int row) {
            const auto& r = model_->row(row);
            return std::pair<int, int>(r.layer, r.expert);
        });
    connect(hub_, &ViewHub::databaseChanged, this, [this] {
        cache_->clear();
        refreshSets();
    });
    connect(hub_, &ViewHub::runsChanged, this, [this] {
        cache_->clear();
        refreshSets();
    });
    if (hub_->context) hub_->context->addObserver(this, this);
    refreshSets();
}

FtriView::~FtriView() {
    if (!jobTag_.isEmpty() && hub_->host) hub_->host->cancel(jobTag_);
}

QWidget* FtriView::buildSetsRow() {
    auto* box = new QGroupBox(tr("Prompt sets in the database"), this);
    auto* l = new QHBoxLayout(box);
    behavior_ = new QComboBox(box);
    behavior_->setObjectName(QStringLiteral("ftriBehaviorSet"));
    control_ = new QComboBox(box);
    control_->setObjectName(QStringLiteral("ftriControlSet"));
    tokens_ = new QComboBox(box);
    tokens_->addItem(tr("prompt tokens"), static_cast<int>(analysis::TokenKind::Prompt));
    tokens_->addItem(tr("generated tokens"), static_cast<int>(analysis::TokenKind::Generated));
    tokens_->addItem(tr("all tokens"), static_cast<int>(analysis::TokenKind::All));
    pooling_ = new QComboBox(box);
    pooling_->addItem(tr("pool tokens (Fisher / z)"), static_cast<int>(analysis::FtriPooling::Tokens));
    pooling_->addItem(tr("pool prompts (Welch t)"), static_cast<int>(analysis::FtriPooling::Prompts));
    auto* refresh = new QPushButton(tr("Refresh"), box);
    l->addWidget(new QLabel(tr("Behavior:"), box));
    l->addWidget(behavior_, 1);
    l->addWidget(new QLabel(tr("Control:"), box));
    l->addWidget(control_, 1);
    l->addWidget(tokens_);
    l->addWidget(pooling_);
    l->addWidget(refresh);
    connect(refresh, &QPushButton::clicked, this, &FtriView::refreshSets);
    for (QComboBox* c : {behavior_, control_, tokens_, pooling_})
        connect(c, &QComboBox::currentIndexChanged, this, [this] { compute(); });
    return box;
}

QWidget* FtriView::buildRecordRow() {
    auto* box = new QGroupBox(tr("Record JSONL prompt sets with the loaded model"), this);
    auto* l = new QHBoxLayout(box);
    const QString filter = tr("Prompt sets (*.jsonl);;All files (*)");
    recBehavior_ = new QLineEdit(bundledPromptFile(QStringLiteral("behavior.discovery.jsonl")), box);
    recBehavior_->setObjectName(QStringLiteral("ftriRecordBehavior"));
    recControl_ = new QLineEdit(bundledPromptFile(QStringLiteral("control.discovery.jsonl")), box);
    recControl_->setObjectName(QStringLiteral("ftriRecordControl"));
    recMaxNew_ = new QSpinBox(box);
    recMaxNew_->setRange(0, 4096);
    recMaxNew_->setValue(16);
    recMaxNew_->setToolTip(tr("New tokens generated per prompt while recording"));
    recordButton_ = new QPushButton(tr("Record now"), box);
    recordButton_->setObjectName(QStringLiteral("ftriRecord"));
    l->addWidget(new QLabel(tr("Behavior file:"), box));
    l->addWidget(recBehavior_, 1);
    l->addWidget(browseButton(box, recBehavior_, filter));
    l->addWidget(new QLabel(tr("Control file:"), box));
    l->addWidget(recControl_, 1);
    l->addWidget(browseButton(box, recControl_, filter));
    l->addWidget(new QLabel(tr("new tokens:"), box));
    l->addWidget(recMaxNew_);
    l->addWidget(recordButton_);
    connect(recordButton_, &QPushButton::clicked, this, &FtriView::recordNow);
    return box;
}

QWidget* FtriView::buildPresetRow() {
    auto* box = new QGroupBox(tr("Presets"), this);
    auto* l = new QHBoxLayout(box);
    topN_ = new QSpinBox(box);
    topN_->setObjectName(QStringLiteral("ftriTopN"));
    topN_->setRange(1, 4096);
    topN_->setValue(6);
    makePreset_ = new QPushButton(tr("Make preset from top N"), box);
    makePreset_->setObjectName(QStringLiteral("ftriMakePreset"));
    presetLabel_ = new QLabel(box);
    presetLabel_->setWordWrap(true);
    applyRandom_ = new QPushButton(tr("Apply random matched preset"), box);
    applyRandom_->setObjectName(QStringLiteral("ftriApplyRandom"));
    randomLabel_ = new QLabel(box);
    randomLabel_->setWordWrap(true);
    l->addWidget(new QLabel(tr("N:"), box));
    l->addWidget(topN_);
    l->addWidget(makePreset_);
    l->addWidget(presetLabel_, 1);
    l->addWidget(applyRandom_);
    l->addWidget(randomLabel_, 1);
    makePreset_->setEnabled(false);
    applyRandom_->setEnabled(false);
    connect(topN_, &QSpinBox::valueChanged, this, [this] { compute(); });
    connect(makePreset_, &QPushButton::clicked, this, &FtriView::makePreset);
    connect(applyRandom_, &QPushButton::clicked, this, &FtriView::applyRandomPreset);
    return box;
}

QWidget* FtriView::buildEvalRow() {
    auto* box = new QGroupBox(tr("Evaluate on held-out prompts (greedy): no preset · top N · random"), this);
    auto* v = new QVBoxLayout(box);
    auto* l = new QHBoxLayout;
    const QString filter = tr("Prompt sets (*.jsonl);;All files (*)");
    evalBehavior_ = new QLineEdit(bundledPromptFile(QStringLiteral("behavior.heldout.jsonl")), box);
    evalControl_ = new QLineEdit(bundledPromptFile(QStringLiteral("control.heldout.jsonl")), box);
    detectors_ = new QLineEdit(bundledPromptFile(QStringLiteral("detectors.json")), box);
    detector_ = new QComboBox(box);
    detector_->setObjectName(QStringLiteral("ftriDetector"));
    evalMaxNew_ = new QSpinBox(box);
    evalMaxNew_->setRange(1, 4096);
    evalMaxNew_->setValue(12);
    evaluateButton_ = new QPushButton(tr("Evaluate"), box);
    evaluateButton_->setObjectName(QStringLiteral("ftriEvaluate"));
    l->addWidget(new QLabel(tr("Behavior:"), box));
    l->addWidget(evalBehavior_, 1);
    l->addWidget(browseButton(box, evalBehavior_, filter));
    l->addWidget(new QLabel(tr("Control:"), box));
    l->addWidget(evalControl_, 1);
    l->addWidget(browseButton(box, evalControl_, filter));
    l->addWidget(new QLabel(tr("Detectors:"), box));
    l->addWidget(detectors_, 1);
    l->addWidget(browseButton(box, detectors_, tr("JSON (*.json)")));
    l->addWidget(detector_);
    l->addWidget(new QLabel(tr("new tokens:"), box));
    l->addWidget(evalMaxNew_);
    l->addWidget(evaluateButton_);
    v->addLayout(l);
    evalModel_ = new QStandardItemModel(0, 5, this);
    evalModel_->setHorizontalHeaderLabels({tr("preset"), tr("prompt set"), tr("prompts"), tr("detected"), tr("rate")});
    evalTable_ = new QTableView(box);
    evalTable_->setObjectName(QStringLiteral("ftriEvalTable"));
    evalTable_->setModel(evalModel_);
    evalTable_->verticalHeader()->hide();
    evalTable_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    evalTable_->setMaximumHeight(170);
    auto* h = new QHBoxLayout;
    h->addWidget(evalTable_, 1);
    h->addWidget(new ExportBar(QStringLiteral("ftri_evaluation"), nullptr, evalModel_, box));
    v->addLayout(h);
    auto reloadDetectors = [this] {
        detector_->clear();
        auto d = load_detectors(detectors_->text().toStdString());
        if (!d.ok()) return;
        for (const auto& x : d.value()) detector_->addItem(QString::fromStdString(x.name));
    };
    connect(detectors_, &QLineEdit::textChanged, this, reloadDetectors);
    reloadDetectors();
    connect(evaluateButton_, &QPushButton::clicked, this, &FtriView::evaluate);
    return box;
}

QString FtriView::statusText() const { return status_->text(); }
void FtriView::setStatus(const QString& text) { status_->setText(text); }

void FtriView::setRecordFiles(const QString& b, const QString& c) {
    recBehavior_->setText(b);
    recControl_->setText(c);
}
void FtriView::setEvalFiles(const QString& b, const QString& c, const QString& det) {
    evalBehavior_->setText(b);
    evalControl_->setText(c);
    detectors_->setText(det);
}
void FtriView::setNewTokens(int recordMaxNew, int evalMaxNew) {
    recMaxNew_->setValue(recordMaxNew);
    evalMaxNew_->setValue(evalMaxNew);
}
void FtriView::setTopN(int n) { topN_->setValue(n); }

void FtriView::refreshSets() {
    const QString path = hub_->databasePath();
    if (path.isEmpty()) return;
    runner_->cancel();
    setsRunner_->run<QStringList>(
        [path](const std::atomic<bool>&) {
            QStringList out;
            if (!QFileInfo::exists(path)) return out;
            auto db = storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
            for (const auto& s : storage::prompt_set_names(*db)) out << QString::fromStdString(s);
            return out;
        },
        [this](QStringList&& sets) {
            const QString b = pendingBehavior_.isEmpty() ? behavior_->currentText() : pendingBehavior_;
            const QString c = pendingControl_.isEmpty() ? control_->currentText() : pendingControl_;
            pendingBehavior_.clear();
            pendingControl_.clear();
            for (QComboBox* box : {behavior_, control_}) {
                const QSignalBlocker block(box);
                box->clear();
                box->addItems(sets);
            }
            auto pick = [&](QComboBox* box, const QString& want, const QString& guess, int fallback) {
                int i = box->findText(want);
                if (i < 0) i = box->findText(guess);
                if (i < 0 && box->count() > fallback) i = fallback;
                const QSignalBlocker block(box);
                box->setCurrentIndex(i);
            };
            pick(behavior_, b, QStringLiteral("behavior"), 0);
            pick(control_, c, QStringLiteral("control"), 1);
            emit setsRefreshed(sets);
            compute();
        });
}

void FtriView::setSets(const QString& behavior, const QString& control) {
    if (behavior_->findText(behavior) < 0 || control_->findText(control) < 0) {
        pendingBehavior_ = behavior;
        pendingControl_ = control;
        refreshSets();
        return;
    }
    {
        const QSignalBlocker a(behavior_), b(control_);
        behavior_->setCurrentText(behavior);
        control_->setCurrentText(control);
    }
    compute();
}

void FtriView::compute() {
    const QString path = hub_->databasePath();
    const QString b = behavior_->currentText(), c = control_->currentText();
    if (path.isEmpty() || b.isEmpty() || c.isEmpty()) return;
    if (b == c) {
        setStatus(tr("Pick two different prompt sets."));
        return;
    }
    analysis::FtriOptions o;
    o.behavior.kind = static_cast<analysis::TokenKind>(tokens_->currentData().toInt());
    o.control.kind = o.behavior.kind;
    o.pooling = static_cast<analysis::FtriPooling>(pooling_->currentData().toInt());
    o.top_n = topN_->value();
    o.random_repeats = 1;
    setStatus(tr("Computing fTRI: %1 vs %2…").arg(b, c));
    auto cache = cache_;
    runner_->run<analysis::FtriResult>(
        [path, b, c, o, cache](const std::atomic<bool>&) {
            const QString key = path + QLatin1Char('\n') + b + QLatin1Char('\n') + c;
            std::shared_ptr<const RoutingArrays> ab, ac;
            {
                std::lock_guard lock(cache->mutex);
                if (cache->key == key) {
                    ab = cache->behavior;
                    ac = cache->control;
                }
            }
            if (!ab || !ac) {
                auto db = storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
                storage::RoutingSelection sel;
                sel.prompt_set = b.toStdString();
                ab = std::make_shared<const RoutingArrays>(storage::read_routing(*db, sel));
                sel.prompt_set = c.toStdString();
                ac = std::make_shared<const RoutingArrays>(storage::read_routing(*db, sel));
                std::lock_guard lock(cache->mutex);
                cache->key = key;
                cache->behavior = ab;
                cache->control = ac;
            }
            return analysis::ftri(*ab, *ac, o).value();
        },
        [this](analysis::FtriResult&& r) { showResult(std::move(r)); });
}

void FtriView::showResult(analysis::FtriResult r) {
    const int nMoe = static_cast<int>(r.moe_layers.size());
    const int E = r.n_experts;
    std::vector<float> values(static_cast<size_t>(nMoe) * static_cast<size_t>(E), std::nanf(""));
    for (const auto& row : r.ranked) {
        const auto it = std::find(r.moe_layers.begin(), r.moe_layers.end(), row.layer);
        if (it == r.moe_layers.end() || row.expert < 0 || row.expert >= E) continue;
        values[static_cast<size_t>(it - r.moe_layers.begin()) * static_cast<size_t>(E) + static_cast<size_t>(row.expert)] =
            static_cast<float>(row.difference);
    }
    QStringList rows, cols;
    for (int L : r.moe_layers) rows << QStringLiteral("L%1").arg(L);
    for (int e = 0; e < E; ++e) cols << QString::number(e);
    heatmap_->setData(nMoe, E, std::move(values), HeatmapWidget::Scale::Diverging);
    heatmap_->setRowLabels(rows);
    heatmap_->setColumnLabels(cols);
    std::vector<QPoint> marks;
    for (const auto& e : r.preset) {
        const auto it = std::find(r.moe_layers.begin(), r.moe_layers.end(), e.layer);
        if (it != r.moe_layers.end()) marks.emplace_back(e.expert, static_cast<int>(it - r.moe_layers.begin()));
    }
    heatmap_->setMarks(marks);
    const auto layers = r.moe_layers;
    heatmap_->setTooltip([this, layers](int row, int col, float v) {
        if (!result_ || row < 0 || row >= static_cast<int>(layers.size())) return QString();
        const int mr = model_->rowOf(layers[static_cast<size_t>(row)], col);
        if (mr < 0) return QString();
        const auto& x = model_->row(mr);
        return tr("L%1 E%2 · rank %3\ndifference %4 (behavior %5, control %6)\nrisk ratio %7 · q %8")
            .arg(x.layer)
            .arg(x.expert)
            .arg(mr + 1)
            .arg(v, 0, 'f', 3)
            .arg(x.behavior_freq, 0, 'f', 3)
            .arg(x.control_freq, 0, 'f', 3)
            .arg(x.risk_ratio, 0, 'f', 2)
            .arg(x.q, 0, 'g', 3);
    });
    model_->setRows(r.ranked);
    model_->setTopN(static_cast<int>(r.preset.size()));
    presetLabel_->setText(tr("top %1: %2").arg(r.preset.size()).arg(expertList(r.preset)));
    const std::vector<ExpertRef> rnd = r.random_controls.empty() ? std::vector<ExpertRef>{} : r.random_controls.front();
    randomLabel_->setText(tr("random matched: %1").arg(expertList(rnd)));
    makePreset_->setEnabled(!r.preset.empty());
    applyRandom_->setEnabled(!rnd.empty());
    setStatus(tr("%1 vs %2: %3 / %4 tokens, %5 / %6 prompts · Diverging scale: red = more on behavior, outlined = top %7")
                  .arg(behavior_->currentText(), control_->currentText())
                  .arg(r.behavior_tokens)
                  .arg(r.control_tokens)
                  .arg(r.behavior_prompts)
                  .arg(r.control_prompts)
                  .arg(r.preset.size()));
    result_ = std::move(r);
    if (hub_->context && hub_->context->selectedExpert() >= 0)
        onExpertSelected(hub_->context->selectedExpertLayer(), hub_->context->selectedExpert());
    emit resultReady();
}

void FtriView::onExpertSelected(int layer, int expert) {
    if (!result_) return;
    showSelectedExpert(heatmap_, table_, result_->moe_layers, layer, expert,
                       [this](int l, int e) { return model_->rowOf(l, e); });
}

Interventions FtriView::topPreset() const {
    Interventions iv;
    if (result_) iv.disable = result_->preset;
    return iv;
}

Interventions FtriView::randomPreset() const {
    Interventions iv;
    if (result_ && !result_->random_controls.empty()) iv.disable = result_->random_controls.front();
    return iv;
}

void FtriView::makePreset() {
    if (!result_ || result_->preset.empty()) return;
    hub_->applyPreset(tr("fTRI top %1 (%2 vs %3)").arg(result_->preset.size()).arg(behavior_->currentText(), control_->currentText()),
                      topPreset());
}

void FtriView::applyRandomPreset() {
    if (!result_ || result_->random_controls.empty()) return;
    hub_->applyPreset(tr("random matched %1 (control for %2)").arg(result_->random_controls.front().size()).arg(behavior_->currentText()),
                      randomPreset());
}

void FtriView::setJobRunning(const QString& tag, bool running) {
    jobTag_ = running ? tag : QString();
    progress_->setVisible(running);
    cancel_->setVisible(running);
    recordButton_->setEnabled(!running);
    evaluateButton_->setEnabled(!running);
    if (running) {
        progress_->setRange(0, 0);
        progress_->setValue(0);
    }
}

void FtriView::cancelJob() {
    if (!jobTag_.isEmpty() && hub_->host) hub_->host->cancel(jobTag_);
}

void FtriView::recordNow() {
    if (!hub_->host || !jobTag_.isEmpty()) return;
    RecordRequest req;
    for (QLineEdit* e : {recBehavior_, recControl_})
        if (!e->text().trimmed().isEmpty()) req.files << e->text().trimmed();
    if (req.files.isEmpty()) {
        setStatus(tr("Choose the JSONL files to record."));
        return;
    }
    req.maxNew = recMaxNew_->value();
    setJobRunning(kRecordTag, true);
    setStatus(tr("Recording %1…").arg(req.files.join(QStringLiteral(", "))));
    postRecordJob(
        hub_, this, kRecordTag, req,
        progressTo(progress_),
        [this](const RecordOutcome& o) {
            setJobRunning(kRecordTag, false);
            setStatus(o.message);
            cache_->clear();
            if (!o.runIds.isEmpty()) emit hub_->runsRecorded();
            if (o.ok && o.sets.size() >= 2) {
                pendingBehavior_ = o.sets.at(0);
                pendingControl_ = o.sets.at(1);
            }
            refreshSets();
            emit recordFinished(o.ok, o.message);
        });
}

void FtriView::evaluate() {
    if (!hub_->host || !jobTag_.isEmpty()) return;
    if (!result_) {
        setStatus(tr("Compute an fTRI ranking first (it defines the presets)."));
        emit evaluationReady(false, status_->text());
        return;
    }
    EvalRequest req;
    for (QLineEdit* e : {evalBehavior_, evalControl_})
        if (!e->text().trimmed().isEmpty()) req.files << e->text().trimmed();
    req.detectorsPath = detectors_->text().trimmed();
    req.detector = detector_->currentText();
    req.maxNew = evalMaxNew_->value();
    req.presets.push_back({tr("none"), Interventions{}});
    req.presets.push_back({tr("fTRI top %1").arg(result_->preset.size()), topPreset()});
    req.presets.push_back({tr("random matched %1").arg(randomPreset().disable.size()), randomPreset()});
    setJobRunning(kEvalTag, true);
    setStatus(tr("Evaluating %1 presets on %2…").arg(req.presets.size()).arg(req.files.join(QStringLiteral(", "))));
    postEvalJob(
        hub_, this, kEvalTag, req,
        progressTo(progress_),
        [this](const EvalOutcome& o) {
            setJobRunning(kEvalTag, false);
            showEval(o);
        });
}

void FtriView::showEval(const EvalOutcome& o) {
    evalModel_->removeRows(0, evalModel_->rowCount());
    for (const EvalCell& c : o.cells) {
        QList<QStandardItem*> row;
        row << new QStandardItem(c.preset) << new QStandardItem(c.set);
        auto* n = new QStandardItem(QString::number(c.prompts));
        n->setData(c.prompts, Qt::UserRole);
        auto* d = new QStandardItem(QString::number(c.detected));
        d->setData(c.detected, Qt::UserRole);
        auto* r = new QStandardItem(QStringLiteral("%1%").arg(100.0 * c.rate, 0, 'f', 0));
        r->setData(c.rate, Qt::UserRole);
        row << n << d << r;
        evalModel_->appendRow(row);
    }
    setStatus(o.message);
    emit evaluationReady(o.ok, o.message);
}

}  // namespace moescope::gui
