// Super experts & sinks view (issue 11): a fixture with a planted super expert (layer 1, expert 3: its
// down_proj has one huge row on hidden channel 5 and tokens 50-59 are routed to it) recorded through the
// view's "Record with activations" must show that expert as rank 1 (channel 5) and channel 5 as the
// layer's massive activation; the demo model populates; a routing-level run gets the "needs
// activations" notice; the prune what-if shows the super expert's removal shifting the distribution more
// than a random matched expert; exports, item model tester and selection sync.
#include <QAbstractItemModelTester>
#include <QChartView>
#include <QComboBox>
#include <QFile>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/engine_jobs.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/super_experts_view.h"
#include "tests/app/engine_view_env.h"
#include "tests/support/fixture_model.h"

using namespace moescope;
using namespace moescope::gui;

namespace {

QString writeSuperFixture(const QString& dir, QString* prompts) {
    test::FixtureSpec spec = test::FixtureSpec::forArch("mixtral");
    std::vector<int> ids;
    for (int i = 50; i < 60; ++i) ids.push_back(i);
    test::plantTokenRouting(spec, 1, 3, ids, 0);
    test::plantHugeDownProj(spec, 1, 3, 5, 40.0f);
    const std::string model = test::writeFixture(dir.toStdString(), spec, "super");
    *prompts = dir + "/super_prompts.jsonl";
    QFile f(*prompts);
    if (!f.open(QIODevice::WriteOnly)) return {};
    unsigned x = 11;
    auto rnd = [&](unsigned n) {
        x = x * 1103515245u + 12345u;
        return (x >> 16) % n;
    };
    for (int p = 0; p < 12; ++p) {
        QStringList t;
        for (int i = 0; i < 10; ++i) t << QString::number(i % 3 == 1 ? 50 + static_cast<int>(rnd(10)) : static_cast<int>(rnd(50)));
        f.write(QStringLiteral("{\"tokens\": [%1], \"set\": \"super\"}\n").arg(t.join(',')).toUtf8());
    }
    return QString::fromStdString(model);
}

bool recordAndShow(SuperExpertsView& view) {
    QSignalSpy recorded(&view, &SuperExpertsView::recordFinished);
    QSignalSpy ready(&view, &SuperExpertsView::resultReady);
    view.recordNow();
    if (!recorded.wait(240000) || !recorded.first().at(0).toBool()) return false;
    while (!view.data() || !view.data()->hasActivations || view.runner()->busy())
        if (!ready.wait(60000)) return false;
    return true;
}

}  // namespace

class TestSuperExpertsView : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString model_, prompts_;

private slots:
    void initTestCase() {
        model_ = writeSuperFixture(dir_.path(), &prompts_);
        QVERIFY(!model_.isEmpty());
    }

    void plantedSuperExpertIsFound() {
        test::EngineViewEnv env;
        QVERIFY2(env.open(model_), qPrintable(env.error));
        SuperExpertsView view(&env.hub);
        view.resize(1400, 900);
        view.show();
        QAbstractItemModelTester t1(view.superModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t2(view.layerModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        view.setRecordFile(prompts_, 0);
        QVERIFY(recordAndShow(view));
        QVERIFY(view.noticeText().isEmpty() || !view.recordOffered());
        const auto& se = *view.data()->experts;
        QVERIFY(!se.super_experts.empty());
        QCOMPARE(se.super_experts.front().layer, 1);
        QCOMPARE(se.super_experts.front().expert, 3);
        QCOMPARE(se.super_experts.front().channel, 5);
        // The table shows the same, rank 1 first; the heatmap outlines it and holds its value.
        QCOMPARE(view.superModel()->rowCount(), static_cast<int>(se.super_experts.size()));
        QCOMPARE(view.superModel()->item(0, 1)->text(), QStringLiteral("1"));
        QCOMPARE(view.superModel()->item(0, 2)->text(), QStringLiteral("3"));
        QCOMPARE(view.superModel()->item(0, 4)->text(), QStringLiteral("5"));
        QCOMPARE(view.heatmap()->rows(), 3);
        QCOMPARE(view.heatmap()->cols(), 8);
        QCOMPARE(static_cast<double>(view.heatmap()->value(1, 3)), static_cast<double>(static_cast<float>(se.super_experts.front().value)));
        // Massive activation: the largest |h| after layer 1 sits on the planted channel.
        QCOMPARE(view.layerModel()->rowCount(), 3);
        QCOMPARE(view.layerModel()->item(1, 2)->text(), QStringLiteral("5"));
        QVERIFY(!view.layerModel()->item(1, 4)->text().isEmpty());  // first-token attention recorded
        // Per-head first-token mass (recorded per head by "Record with activations"): a layers x heads map
        // whose head mean is the layer's head-averaged mass in the table (the mean is linear).
        HeatmapWidget* heads = view.headHeatmap();
        QCOMPARE(heads->rows(), 3);
        QVERIFY(heads->cols() > 1);
        for (int l = 0; l < heads->rows(); ++l) {
            double mean = 0;
            for (int h = 0; h < heads->cols(); ++h) {
                const double v = heads->value(l, h);
                QVERIFY(v >= 0.0 && v <= 1.0 + 1e-6);
                mean += v / heads->cols();
            }
            QVERIFY2(std::abs(mean - view.layerModel()->item(l, 4)->data(Qt::UserRole).toDouble()) < 1e-3,
                     qPrintable(QString("layer %1: head mean %2 vs %3").arg(l).arg(mean).arg(view.layerModel()->item(l, 4)->text())));
        }

        // Exports: heatmap + both charts PNG/SVG, tables CSV.
        QTemporaryDir out;
        for (QWidget* w : std::initializer_list<QWidget*>{view.heatmap(), view.thresholdChart(), view.layerChart(), view.headHeatmap()}) {
            const QString png = out.filePath(w->objectName() + ".png"), svg = out.filePath(w->objectName() + ".svg");
            QCOMPARE(savePng(w, png), QString());
            QCOMPARE(saveSvg(w, svg), QString());
            QVERIFY(QFileInfo(png).size() > 0 && QFileInfo(svg).size() > 0);
        }
        const QString csv = toCsv(view.superModel());
        QVERIFY2(csv.startsWith("rank,layer,expert,max |down_proj|,channel,position,token id\r\n1,1,3,"), qPrintable(csv));
        QVERIFY(toCsv(view.layerModel()).startsWith("layer,max |h|,channel,massive hits,first-token attention\r\n0,"));

        // Selection sync both ways.
        env.context.selectExpert(1, 3);
        QCOMPARE(view.heatmap()->selectedCell(), QPoint(3, 1));
        QCOMPARE(view.superTable()->selectionModel()->selectedRows().value(0).row(), 0);
        QTest::mouseClick(view.heatmap()->viewport(), Qt::LeftButton, {}, view.heatmap()->cellRect(2, 6).center());
        QCOMPARE(env.context.selectedExpertLayer(), 2);
        QCOMPARE(env.context.selectedExpert(), 6);

        // Prune what-if: base, super experts off, random matched set of the same size; in both modes
        // (zero down_proj output = the paper's, the default; and router disable) the super expert's
        // removal shifts the distribution more than the random set's, and the two modes differ.
        view.setWhatIfFile(prompts_, 6);
        auto* mode = view.findChild<QComboBox*>(QStringLiteral("superWhatIfMode"));
        QVERIFY(mode);
        QCOMPARE(mode->currentData().toInt(), static_cast<int>(analysis::PruneMode::ZeroOutput));
        std::vector<double> superKl;
        for (int i = 0; i < mode->count(); ++i) {
            mode->setCurrentIndex(i);
            QSignalSpy whatIf(&view, &SuperExpertsView::whatIfReady);
            view.runWhatIf();
            QVERIFY(whatIf.wait(120000));
            QVERIFY2(whatIf.first().at(0).toBool(), qPrintable(whatIf.first().at(1).toString()));
            QStandardItemModel* m = view.whatIfModel();
            QCOMPARE(m->rowCount(), 3);
            auto kl = [&](int r) { return m->item(r, 2)->data(Qt::UserRole).toDouble(); };
            QCOMPARE(kl(0), 0.0);
            QVERIFY2(kl(1) > kl(2), qPrintable(QStringLiteral("%1: super off %2, random %3").arg(mode->currentText()).arg(kl(1)).arg(kl(2))));
            QVERIFY(m->item(1, 1)->text().contains("L1 E3"));
            QVERIFY(!m->item(2, 1)->text().contains("L1 E3"));
            QVERIFY(toCsv(m).startsWith("variant,disabled,mean KL,max KL,top-1 agreement,perplexity,base perplexity,positions\r\nbase,,0,"));
            superKl.push_back(kl(1));
        }
        QCOMPARE(superKl.size(), size_t(2));
        QVERIFY(superKl[0] != superKl[1]);
    }

    void demoModelPopulates() {
        test::EngineViewEnv env;
        QVERIFY2(env.open("demo"), qPrintable(env.error));
        SuperExpertsView view(&env.hub);
        view.setRecordFile(bundledPromptFile("prose.discovery.jsonl"), 4);
        QVERIFY(recordAndShow(view));
        const auto& se = *view.data()->experts;
        QCOMPARE(view.heatmap()->rows(), 4);
        QCOMPARE(view.heatmap()->cols(), 16);
        QCOMPARE(view.layerModel()->rowCount(), 4);
        QCOMPARE(view.superModel()->rowCount(), static_cast<int>(se.super_experts.size()));
        // The largest a[L,E] in the population always passes both thresholds.
        QVERIFY(!se.super_experts.empty());
        QCOMPARE(se.super_experts.front().value, se.a_max);
    }

    void routingRunGetsTheNotice() {
        test::EngineViewEnv env;
        QVERIFY2(env.open(model_), qPrintable(env.error));
        // A run at capture level routing (as generations are recorded).
        RecordRequest req;
        req.files << prompts_;
        req.maxNew = 0;
        bool done = false;
        QObject guard;
        postRecordJob(&env.hub, &guard, "t", req, [](int, int) {}, [&](const RecordOutcome& o) { done = o.ok; });
        QTRY_VERIFY_WITH_TIMEOUT(done, 60000);
        SuperExpertsView view(&env.hub);
        QSignalSpy ready(&view, &SuperExpertsView::resultReady);
        QVERIFY(ready.wait(30000));
        QVERIFY(!view.data()->hasActivations);
        QVERIFY(view.noticeText().contains("capture level"));
        QVERIFY(view.recordOffered());
        QCOMPARE(view.superModel()->rowCount(), 0);
    }
};

QTEST_MAIN(TestSuperExpertsView)
#include "test_super_experts_view.moc"
