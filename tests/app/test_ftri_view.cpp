// fTRI view (issue 11): "Record now" of behaviour/control JSONL sets through the loaded model into a
// temp database, the ranking against planted answers (the demo model's planted refusal experts; a
// fixture model with planted token routing), "Make preset from top N" delivering exactly the top N
// disabled, the matched random preset, Evaluate (refusal rates on held-out prompts), the item model
// tester, PNG/SVG/CSV exports, selection sync both ways, and the UI staying responsive during a job.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <set>

#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/engine_jobs.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/ftri_model.h"
#include "app/gui/views/ftri_view.h"
#include "app/gui/views/heatmap_widget.h"
#include "tests/app/engine_view_env.h"
#include "tests/support/fixture_model.h"

using namespace moescope;
using namespace moescope::gui;
using Pairs = QList<QPair<int, int>>;
Q_DECLARE_METATYPE(Pairs)

namespace {

std::set<std::pair<int, int>> asSet(const std::vector<ExpertRef>& v) {
    std::set<std::pair<int, int>> s;
    for (const auto& e : v) s.insert({e.layer, e.expert});
    return s;
}
std::set<std::pair<int, int>> asSet(const Pairs& v) {
    std::set<std::pair<int, int>> s;
    for (const auto& e : v) s.insert({e.first, e.second});
    return s;
}

// Planted fixture: token ids 50..59 carry channel 0 of the embedding; the routers of layers 0, 1, 2 send
// channel 0 to experts 2, 3, 6. Behaviour prompts are mostly those ids, control prompts never contain them.
QString writePlantedFixture(const QString& dir, QString* behaviorFile, QString* controlFile) {
    test::FixtureSpec spec = test::FixtureSpec::forArch("mixtral");
    std::vector<int> ids;
    for (int i = 50; i < 60; ++i) ids.push_back(i);
    test::plantTokenRouting(spec, 0, 2, ids, 0);
    test::plantTokenRouting(spec, 1, 3, ids, 0);
    test::plantTokenRouting(spec, 2, 6, ids, 0);
    const std::string model = test::writeFixture(dir.toStdString(), spec, "planted");
    *behaviorFile = dir + "/planted_behavior.jsonl";
    *controlFile = dir + "/planted_control.jsonl";
    QFile b(*behaviorFile), c(*controlFile);
    if (!b.open(QIODevice::WriteOnly) || !c.open(QIODevice::WriteOnly)) return {};
    unsigned x = 7;
    auto rnd = [&](unsigned n) {
        x = x * 1103515245u + 12345u;
        return (x >> 16) % n;
    };
    for (int p = 0; p < 20; ++p) {
        QStringList bt, ct;
        for (int i = 0; i < 10; ++i) {
            bt << QString::number(i % 4 == 0 ? static_cast<int>(rnd(50)) : 50 + static_cast<int>(rnd(10)));
            ct << QString::number(rnd(50));
        }
        b.write(QStringLiteral("{\"tokens\": [%1], \"set\": \"planted_behavior\"}\n").arg(bt.join(',')).toUtf8());
        c.write(QStringLiteral("{\"tokens\": [%1], \"set\": \"planted_control\"}\n").arg(ct.join(',')).toUtf8());
    }
    return QString::fromStdString(model);
}

// Records both files through the view and waits for the ranking.
bool recordAndRank(FtriView& view, int topN) {
    QSignalSpy recorded(&view, &FtriView::recordFinished);
    QSignalSpy ready(&view, &FtriView::resultReady);
    view.setTopN(topN);
    view.recordNow();
    if (!recorded.wait(240000)) return false;
    if (!recorded.first().at(0).toBool()) {
        qWarning() << recorded.first().at(1).toString();
        return false;
    }
    while (!view.result() || view.result()->preset.size() != static_cast<size_t>(topN) || view.runner()->busy())
        if (!ready.wait(60000)) return false;
    return true;
}

}  // namespace

class TestFtriView : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString plantedModel_, plantedB_, plantedC_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        plantedModel_ = writePlantedFixture(dir_.path(), &plantedB_, &plantedC_);
        QVERIFY(!plantedModel_.isEmpty());
    }

    void plantedExpertsTopTheRanking_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("behaviorFile");
        QTest::addColumn<QString>("controlFile");
        QTest::addColumn<Pairs>("planted");
        QTest::newRow("demo model, planted refusal experts")
            << "demo" << bundledPromptFile("behavior.discovery.jsonl") << bundledPromptFile("control.discovery.jsonl")
            << Pairs{{1, 5}, {1, 12}, {2, 3}, {2, 11}, {3, 2}, {3, 9}};
        QTest::newRow("fixture with planted token routing")
            << plantedModel_ << plantedB_ << plantedC_ << Pairs{{0, 2}, {1, 3}, {2, 6}};
    }
    void plantedExpertsTopTheRanking() {
        QFETCH(QString, model);
        QFETCH(QString, behaviorFile);
        QFETCH(QString, controlFile);
        QFETCH(Pairs, planted);
        QVERIFY2(!behaviorFile.isEmpty(), "bundled prompt sets not found");
        test::EngineViewEnv env;
        QVERIFY2(env.open(model), qPrintable(env.error));
        FtriView view(&env.hub);
        view.resize(1200, 800);
        view.setRecordFiles(behaviorFile, controlFile);
        view.setNewTokens(0, 4);  // prompt tokens are what fTRI counts here
        const int n = static_cast<int>(planted.size());
        QVERIFY(recordAndRank(view, n));

        // The planted experts are exactly the top N of the table and the outlined cells.
        const auto& r = *view.result();
        std::set<std::pair<int, int>> top;
        for (int i = 0; i < n; ++i) top.insert({view.model()->row(i).layer, view.model()->row(i).expert});
        QCOMPARE(top, asSet(planted));
        QCOMPARE(asSet(r.preset), asSet(planted));
        QCOMPARE(static_cast<int>(view.heatmap()->rows()), static_cast<int>(r.moe_layers.size()));
        QCOMPARE(view.heatmap()->cols(), r.n_experts);
        QCOMPARE(view.model()->rowCount(), static_cast<int>(r.moe_layers.size()) * r.n_experts);
        // The heatmap cell holds the row's difference.
        const auto& best = view.model()->row(0);
        const int slot = static_cast<int>(std::find(r.moe_layers.begin(), r.moe_layers.end(), best.layer) - r.moe_layers.begin());
        QCOMPARE(view.heatmap()->value(slot, best.expert), static_cast<float>(best.difference));
        QVERIFY(best.difference > 0.2);

        // "Make preset from top N": exactly the top N disabled, nothing else.
        view.makePreset();
        QCOMPARE(static_cast<int>(env.presets.size()), 1);
        const Interventions& iv = env.presets.back().second;
        QCOMPARE(asSet(iv.disable), asSet(planted));
        QVERIFY(iv.force.empty() && iv.bias.empty() && !iv.top_k);
        // The random control: same count per layer, none of the top N.
        view.applyRandomPreset();
        QCOMPARE(static_cast<int>(env.presets.size()), 2);
        const auto rnd = env.presets.back().second.disable;
        QCOMPARE(static_cast<int>(rnd.size()), n);
        std::map<int, int> perLayerTop, perLayerRnd;
        for (const auto& p : planted) ++perLayerTop[p.first];
        for (const auto& e : rnd) {
            ++perLayerRnd[e.layer];
            QVERIFY(!asSet(planted).count({e.layer, e.expert}));
        }
        QCOMPARE(perLayerRnd, perLayerTop);
    }

    void modelTesterExportsAndSelection() {
        test::EngineViewEnv env;
        QVERIFY2(env.open(plantedModel_), qPrintable(env.error));
        FtriView view(&env.hub);
        view.resize(1200, 800);
        view.show();
        view.setRecordFiles(plantedB_, plantedC_);
        view.setNewTokens(0, 4);
        QAbstractItemModelTester tester(view.model(), QAbstractItemModelTester::FailureReportingMode::QtTest);

        // Responsiveness: a UI timer keeps firing while the recording job and the analysis run.
        int ticksWhileBusy = 0;
        QTimer timer;
        timer.setInterval(5);
        connect(&timer, &QTimer::timeout, this, [&] {
            if (env.host.busy() || view.runner()->busy()) ++ticksWhileBusy;
        });
        timer.start();
        QVERIFY(recordAndRank(view, 3));
        timer.stop();
        QVERIFY2(ticksWhileBusy > 0, "the event loop never ran while the engine job / analysis was busy");

        // Exports.
        QTemporaryDir out;
        const QString csv = out.filePath("ftri.csv"), png = out.filePath("ftri.png"), svg = out.filePath("ftri.svg");
        QCOMPARE(saveCsv(view.model(), csv), QString());
        QCOMPARE(savePng(view.heatmap(), png), QString());
        QCOMPARE(saveSvg(view.heatmap(), svg), QString());
        QVERIFY(QFileInfo(png).size() > 0);
        QVERIFY(QFileInfo(svg).size() > 0);
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split("\r\n", Qt::SkipEmptyParts);
        QCOMPARE(lines.first(),
                 QStringLiteral("rank,layer,expert,behavior freq,control freq,difference,risk ratio,q-value,behavior count,control count"));
        QCOMPARE(lines.size(), 1 + view.model()->rowCount());
        const QStringList first = lines.at(1).split(',');
        QCOMPARE(first.at(0), QStringLiteral("1"));
        QVERIFY(asSet(Pairs{{0, 2}, {1, 3}, {2, 6}}).count({first.at(1).toInt(), first.at(2).toInt()}));
        QCOMPARE(first.at(5).toDouble(), view.model()->row(0).difference);  // full precision

        // Selection: the context selects -> the view highlights; a click in the view -> the context.
        env.context.selectExpert(1, 3);
        QCOMPARE(view.heatmap()->selectedCell(), QPoint(3, 1));
        QCOMPARE(view.table()->currentIndex().row(), view.model()->rowOf(1, 3));
        const QRect cell = view.heatmap()->cellRect(2, 6);
        QTest::mouseClick(view.heatmap()->viewport(), Qt::LeftButton, {}, cell.center());
        QCOMPARE(env.context.selectedExpertLayer(), 2);
        QCOMPARE(env.context.selectedExpert(), 6);
        view.table()->setCurrentIndex(view.model()->index(view.model()->rowOf(0, 2), 0));
        QCOMPARE(env.context.selectedExpertLayer(), 0);
        QCOMPARE(env.context.selectedExpert(), 2);
    }

    void evaluateShowsRefusalRatesOnTheDemoModel() {
        test::EngineViewEnv env;
        QVERIFY2(env.open("demo"), qPrintable(env.error));
        FtriView view(&env.hub);
        view.setRecordFiles(bundledPromptFile("behavior.discovery.jsonl"), bundledPromptFile("control.discovery.jsonl"));
        view.setNewTokens(0, 12);
        QVERIFY(recordAndRank(view, 6));
        view.setEvalFiles(bundledPromptFile("behavior.heldout.jsonl"), bundledPromptFile("control.heldout.jsonl"),
                          bundledPromptFile("detectors.json"));
        QSignalSpy evaluated(&view, &FtriView::evaluationReady);
        view.evaluate();
        QVERIFY(evaluated.wait(300000));
        QVERIFY2(evaluated.first().at(0).toBool(), qPrintable(evaluated.first().at(1).toString()));
        // rows: preset-major (none, top 6, random) x (behavior, control)
        QStandardItemModel* m = view.evalModel();
        QCOMPARE(m->rowCount(), 6);
        auto rate = [&](int row) { return m->item(row, 4)->data(Qt::UserRole).toDouble(); };
        for (int row = 0; row < 6; ++row) {
            QCOMPARE(m->item(row, 1)->text(), row % 2 == 0 ? QStringLiteral("behavior") : QStringLiteral("control"));
            QCOMPARE(m->item(row, 2)->text(), QStringLiteral("40"));
        }
        // README's MoTE figures: behavior 70% refused -> 0% with the top 6 off, random 6 off keeps it.
        QVERIFY2(rate(0) >= 0.5, qPrintable(QString::number(rate(0))));
        QVERIFY2(rate(2) <= 0.1, qPrintable(QString::number(rate(2))));
        QVERIFY2(rate(4) >= 0.5, qPrintable(QString::number(rate(4))));
        QVERIFY(rate(1) <= 0.1);
        QVERIFY(rate(3) <= 0.1);
        QTemporaryDir out;
        QCOMPARE(saveCsv(m, out.filePath("eval.csv")), QString());
        QFile f(out.filePath("eval.csv"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(QString::fromUtf8(f.readAll()).startsWith("preset,prompt set,prompts,detected,rate\r\nnone,behavior,40,"));
    }

    void recordWithoutDatabaseReportsIt() {
        test::EngineViewEnv env;
        QVERIFY2(env.open(plantedModel_), qPrintable(env.error));
        env.host.postBlocking([&] { env.state->db.reset(); });
        FtriView view(&env.hub);
        view.setRecordFiles(plantedB_, plantedC_);
        QSignalSpy recorded(&view, &FtriView::recordFinished);
        view.recordNow();
        QVERIFY(recorded.wait(60000));
        QCOMPARE(recorded.first().at(0).toBool(), false);
        QVERIFY(recorded.first().at(1).toString().contains("no activation database"));
    }
};

QTEST_MAIN(TestFtriView)
#include "test_ftri_view.moc"
