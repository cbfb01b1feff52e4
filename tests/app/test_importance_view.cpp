// Importance & pruning view (issue 11): on a fixture with planted token routing the planted expert of
// each layer tops the per-layer ranking (frequency, gate, MC-MoE); on the demo model the ranking follows
// selection counts counted independently from the recorded arrays; the keep-N coverage is 1.0 at N = all
// and monotone in N; the item model tester; PNG/SVG/CSV exports; selection sync both ways; "Export pruned
// model" writes a checkpoint that Model::load opens with N experts whose router rows are the kept experts'
// rows of the original, while the event loop keeps running.
#include <QAbstractItemModelTester>
#include <QChartView>
#include <QFile>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <cstring>
#include <future>

#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/engine_jobs.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/importance_model.h"
#include "app/gui/views/importance_view.h"
#include "engine/model/safetensors.h"
#include "engine/prompt_file.h"
#include "storage/prompt_recording.h"
#include "storage/routing_reader.h"
#include "tests/app/engine_view_env.h"
#include "tests/support/fixture_model.h"

using namespace moescope;
using namespace moescope::gui;
using Method = analysis::ImportanceMethod;
Q_DECLARE_METATYPE(analysis::ImportanceMethod)

namespace {

const int kPlanted[3] = {2, 3, 6};  // layer L's planted expert

// Token ids 50..59 carry channel 0; the routers of layers 0, 1, 2 send channel 0 to experts 2, 3, 6.
QString writePlantedFixture(const QString& dir) {
    test::FixtureSpec spec = test::FixtureSpec::forArch("mixtral");
    std::vector<int> ids;
    for (int i = 50; i < 60; ++i) ids.push_back(i);
    for (int L = 0; L < 3; ++L) test::plantTokenRouting(spec, L, kPlanted[L], ids, 0);
    return QString::fromStdString(test::writeFixture(dir.toStdString(), spec, "planted"));
}

// Records `prompts` as prompt set `set` into the env's database on the engine thread; returns the run id.
qint64 record(test::EngineViewEnv& env, std::vector<PromptLine> prompts, const std::string& set,
              CaptureLevel level = CaptureLevel::Routing) {
    qint64 id = 0;
    env.host.postBlocking([&] {
        for (auto& p : prompts) p.set = set;
        storage::PromptRecordingOptions o;
        o.label = set;
        o.level = level;
        o.max_new_tokens = 0;
        id = storage::record_prompts(*env.state->db, *env.state->model, env.state->tokenizer ? &*env.state->tokenizer : nullptr,
                                     prompts, o)
                 .run_id;
    });
    return id;
}

std::vector<PromptLine> plantedPrompts() {
    std::vector<PromptLine> out;
    unsigned x = 11;
    auto rnd = [&](unsigned n) {
        x = x * 1103515245u + 12345u;
        return static_cast<int32_t>((x >> 16) % n);
    };
    for (int p = 0; p < 16; ++p) {
        PromptLine l;
        l.line = p + 1;
        for (int i = 0; i < 10; ++i) l.ids.push_back(i % 3 == 0 ? rnd(50) : 50 + rnd(10));
        out.push_back(l);
    }
    return out;
}

// Waits until the view shows a result with `keep` experts per layer (0 = any) and the runner is idle.
bool waitResult(ImportanceView& v, int keep = 0) {
    QSignalSpy ready(&v, &ImportanceView::resultReady);
    auto done = [&] { return v.result() && !v.runner()->busy() && (keep == 0 || v.keep() == keep) && (keep == 0 || v.result()->keep.front().size() == size_t(keep)); };
    while (!done())
        if (!ready.wait(60000)) return false;
    return true;
}

}  // namespace

class TestImportanceView : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString planted_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        planted_ = writePlantedFixture(dir_.path());
        QVERIFY(!planted_.isEmpty());
    }

    void plantedExpertRanksFirst_data() {
        QTest::addColumn<Method>("method");
        QTest::newRow("frequency") << Method::Frequency;
        QTest::newRow("gate") << Method::Gate;
        QTest::newRow("mc_moe") << Method::McMoe;
        QTest::newRow("output (activations)") << Method::Output;
        QTest::newRow("easy_ep (activations, engine s_t)") << Method::EasyEp;
    }
    void plantedExpertRanksFirst() {
        QFETCH(Method, method);
        test::EngineViewEnv env;
        QVERIFY2(env.open(planted_), qPrintable(env.error));
        const bool needsActivations = method == Method::Output || method == Method::EasyEp;
        QVERIFY(record(env, plantedPrompts(), "calib", needsActivations ? CaptureLevel::Activations : CaptureLevel::Routing) > 0);
        ImportanceView view(&env.hub);
        view.setMethod(method);
        view.setPromptSet("calib");
        QVERIFY(waitResult(view));
        const auto& r = *view.result();
        QCOMPARE(r.options.method, method);
        QCOMPARE(r.moe_layers, (std::vector<int>{0, 1, 2}));
        QCOMPARE(view.model()->rowCount(), 3 * 8);
        for (int L = 0; L < 3; ++L) {
            const int first = view.model()->rowOf(L, kPlanted[L]);
            QVERIFY(first >= 0);
            QCOMPARE(view.model()->row(first).rank, 1);
            QVERIFY(std::count(r.keep[size_t(L)].begin(), r.keep[size_t(L)].end(), kPlanted[L]) == 1);
            // The heatmap shows the planted expert's share of its layer, the largest in its row.
            QCOMPARE(view.heatmap()->value(L, kPlanted[L]), float(view.model()->row(first).share));
            for (int e = 0; e < 8; ++e) QVERIFY(view.heatmap()->value(L, e) <= view.heatmap()->value(L, kPlanted[L]));
        }
    }

    void demoRankingFollowsSelectionCounts() {
        test::EngineViewEnv env;
        QVERIFY2(env.open("demo"), qPrintable(env.error));
        const QString file = bundledPromptFile("behavior.discovery.jsonl");
        QVERIFY(!file.isEmpty());
        std::vector<PromptLine> prompts;
        env.host.postBlocking([&] {
            prompts = read_prompt_file(file.toStdString(), "demo");
            tokenize_prompts(prompts, env.state->tokenizer ? &*env.state->tokenizer : nullptr, env.state->model->config().vocab_size,
                             file.toStdString(), env.state->model->dir());
        });
        const qint64 run = record(env, prompts, "demo");
        QVERIFY(run > 0);
        ImportanceView view(&env.hub);
        view.setMethod(Method::Frequency);
        view.setRun(run);
        QVERIFY(waitResult(view));
        // Independent count of selections per (layer, expert) from the recorded arrays.
        auto db = storage::Database::open(env.dbPath.toStdString(), storage::Access::ReadOnly);
        const RoutingArrays a = storage::read_run_routing(*db, run);
        std::vector<std::vector<double>> count(size_t(a.n_moe), std::vector<double>(size_t(a.n_experts), 0));
        for (int64_t t = 0; t < a.n_tokens; ++t)
            for (int m = 0; m < a.n_moe; ++m)
                for (int k = 0; k < a.k_max; ++k) {
                    const int e = a.experts[(size_t(t) * size_t(a.n_moe) + size_t(m)) * size_t(a.k_max) + size_t(k)];
                    if (e >= 0) count[size_t(m)][size_t(e)] += 1;
                }
        const auto& r = *view.result();
        QCOMPARE(int(r.moe_layers.size()), a.n_moe);
        for (int i = 0; i < view.model()->rowCount(); ++i) {
            const auto& row = view.model()->row(i);
            QCOMPARE(row.frequency, count[size_t(row.slot)][size_t(row.expert)]);
            if (row.rank == 1) {
                const double best = *std::max_element(count[size_t(row.slot)].begin(), count[size_t(row.slot)].end());
                QCOMPARE(row.score, best);
            }
        }
    }

    void coverageIsMonotoneAndFullAtAll() {
        test::EngineViewEnv env;
        QVERIFY2(env.open(planted_), qPrintable(env.error));
        QVERIFY(record(env, plantedPrompts(), "calib") > 0);
        ImportanceView view(&env.hub);
        view.setMethod(Method::Gate);
        view.setPromptSet("calib");
        QVERIFY(waitResult(view));
        std::vector<std::vector<double>> cov;  // [N-1][layer]
        for (int n = 1; n <= 8; ++n) {
            view.setKeep(n);
            QVERIFY(waitResult(view, n));
            QCOMPARE(int(view.coverage().size()), 3);
            cov.push_back(view.coverage());
            // The chart plots it.
            QVERIFY(!view.coverageChart()->chart()->series().isEmpty());
        }
        for (int L = 0; L < 3; ++L) {
            QCOMPARE(cov[7][size_t(L)], 1.0);
            QCOMPARE(view.routingCoverage()[size_t(L)], 1.0);
            for (int n = 1; n < 8; ++n) QVERIFY(cov[size_t(n)][size_t(L)] >= cov[size_t(n - 1)][size_t(L)] - 1e-12);
            QVERIFY(cov[0][size_t(L)] < 1.0);
        }
    }

    void modelTesterExportsSelectionAndPrune() {
        test::EngineViewEnv env;
        QVERIFY2(env.open(planted_), qPrintable(env.error));
        QVERIFY(record(env, plantedPrompts(), "calib") > 0);
        QString opened;
        env.hub.openModel = [&](const QString& p) { opened = p; };
        ImportanceView view(&env.hub);
        view.resize(1200, 800);
        view.show();
        QAbstractItemModelTester tester(view.model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        view.setMethod(Method::Frequency);
        view.setPromptSet("calib");
        QVERIFY(waitResult(view));
        view.setKeep(4);
        QVERIFY(waitResult(view, 4));

        // Exports.
        QTemporaryDir out;
        const QString csv = out.filePath("imp.csv");
        QCOMPARE(saveCsv(view.model(), csv), QString());
        QCOMPARE(savePng(view.heatmap(), out.filePath("imp.png")), QString());
        QCOMPARE(saveSvg(view.heatmap(), out.filePath("imp.svg")), QString());
        QCOMPARE(savePng(view.coverageChart(), out.filePath("cov.png")), QString());
        QCOMPARE(saveSvg(view.coverageChart(), out.filePath("cov.svg")), QString());
        for (const char* f : {"imp.png", "imp.svg", "cov.png", "cov.svg"}) QVERIFY(QFileInfo(out.filePath(f)).size() > 0);
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split("\r\n", Qt::SkipEmptyParts);
        QCOMPARE(lines.first(), QStringLiteral("layer,rank,expert,score,share,cumulative share,frequency,gate sum,kept"));
        QCOMPARE(lines.size(), 1 + 24);
        for (int L = 0; L < 3; ++L) {
            const QStringList row = lines.at(1 + 8 * L).split(',');
            QCOMPARE(row.at(0).toInt(), L);
            QCOMPARE(row.at(1).toInt(), 1);
            QCOMPARE(row.at(2).toInt(), kPlanted[L]);
            QCOMPARE(row.at(8), QStringLiteral("1"));
            QCOMPARE(lines.at(1 + 8 * L + 4).split(',').at(8), QStringLiteral("0"));  // rank 5: dropped
            QCOMPARE(lines.at(1 + 8 * L + 7).split(',').at(5).toDouble(), 1.0);    // cumulative share
        }

        // Selection sync both ways.
        env.context.selectExpert(1, 3);
        QCOMPARE(view.heatmap()->selectedCell(), QPoint(3, 1));
        QCOMPARE(view.table()->currentIndex().row(), view.model()->rowOf(1, 3));
        QTest::mouseClick(view.heatmap()->viewport(), Qt::LeftButton, {}, view.heatmap()->cellRect(2, 6).center());
        QCOMPARE(env.context.selectedExpertLayer(), 2);
        QCOMPARE(env.context.selectedExpert(), 6);
        view.table()->setCurrentIndex(view.model()->index(view.model()->rowOf(0, 5), 0));
        QCOMPARE(env.context.selectedExpertLayer(), 0);
        QCOMPARE(env.context.selectedExpert(), 5);

        // Export pruned model (engine job); a UI timer keeps firing while it runs.
        const std::vector<std::vector<int>> keep = view.result()->keep;
        const QString pruned = out.filePath("pruned");
        // The fixture prunes in milliseconds, so the engine thread is first held by a gate job that the UI
        // timer itself releases after a few ticks: the export queues behind it and the event loop must
        // keep spinning (ticks counted while the host is busy) for the export to finish at all.
        auto gate = std::make_shared<std::promise<void>>();
        std::shared_future<void> opened_gate = gate->get_future().share();
        env.host.post([opened_gate](const std::atomic<bool>&) { opened_gate.wait(); });
        int ticksWhileBusy = 0;
        QTimer timer;
        timer.setInterval(0);
        connect(&timer, &QTimer::timeout, this, [&] {
            if (!env.host.busy()) return;
            if (++ticksWhileBusy == 3) gate->set_value();
        });
        QSignalSpy finished(&view, &ImportanceView::pruneFinished);
        view.exportPrunedModel(pruned);
        QVERIFY(!view.openOffered());
        timer.start();
        QVERIFY(finished.wait(120000));
        timer.stop();
        QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
        QVERIFY2(ticksWhileBusy > 0, "the event loop never ran while the prune job was busy");
        QVERIFY(view.openOffered());
        view.openExported();
        QCOMPARE(opened, pruned);

        auto m = Model::load(pruned.toStdString());
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        QCOMPARE(m.value()->config().n_experts, 4);
        // Router rows: pruned row i == the original's row keep[L][i].
        auto orig = SafetensorsFile::open(planted_.toStdString() + "/model.safetensors");
        auto now = SafetensorsFile::open((pruned + "/model.safetensors").toStdString());
        QVERIFY(orig.ok() && now.ok());
        test::FixtureSpec spec = test::FixtureSpec::forArch("mixtral");
        for (int L = 0; L < 3; ++L) {
            const std::string name = test::routerName(spec, L);
            const TensorInfo* a = nullptr;
            const TensorInfo* b = nullptr;
            for (const auto& t : orig.value()->tensors()) if (t.name == name) a = &t;
            for (const auto& t : now.value()->tensors()) if (t.name == name) b = &t;
            QVERIFY(a && b);
            QCOMPARE(b->shape.at(0), int64_t(4));
            const size_t row = a->nbytes() / size_t(a->shape.at(0));
            QCOMPARE(keep[size_t(L)].size(), size_t(4));
            for (size_t i = 0; i < 4; ++i)
                QVERIFY(std::memcmp(b->data + i * row, a->data + size_t(keep[size_t(L)][i]) * row, row) == 0);
        }
        // Writing into the same (now non-empty) folder again is refused with a reason.
        QSignalSpy again(&view, &ImportanceView::pruneFinished);
        view.exportPrunedModel(pruned);
        QVERIFY(again.wait(60000));
        QCOMPARE(again.first().at(0).toBool(), false);
        QVERIFY(again.first().at(1).toString().contains("not empty"));

        // The loaded model is not the one the runs were recorded with (a copy whose config.json differs,
        // as a fine-tune's would): refused with the reason, nothing written.
        const QString other = out.filePath("other-model");
        QVERIFY(QDir().mkpath(other));
        for (const QString& f : QDir(planted_).entryList(QDir::Files)) QVERIFY(QFile::copy(planted_ + "/" + f, other + "/" + f));
        {
            QFile cfg(other + "/config.json");
            QVERIFY(cfg.open(QIODevice::Append));
            cfg.write("\n");
        }
        env.hub.modelPath = [other] { return other; };
        QSignalSpy refused(&view, &ImportanceView::pruneFinished);
        const QString target = out.filePath("pruned-other");
        view.exportPrunedModel(target);
        QVERIFY(refused.wait(60000));
        QCOMPARE(refused.first().at(0).toBool(), false);
        QVERIFY2(refused.first().at(1).toString().contains("was recorded with model"), qPrintable(refused.first().at(1).toString()));
        QVERIFY(!QFileInfo::exists(target + "/model.safetensors"));
    }
};

QTEST_MAIN(TestImportanceView)
#include "test_importance_view.moc"
