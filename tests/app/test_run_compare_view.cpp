// Run comparison view (issue 11): a planted model recorded twice, the second time with the planted
// expert (layer 1, expert 3) disabled: layer 0 routing is identical, layer 1 differs exactly on the
// tokens that chose expert 3. The demo model with and without an intervention: token diff, chart,
// timeline, exports, selection sync and responsiveness.
#include <QAbstractItemModelTester>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QLineSeries>
#include <QListWidget>
#include <QSvgRenderer>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "app/gui/run_context.h"
#include "app/gui/run_store.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/run_compare_model.h"
#include "app/gui/views/run_compare_view.h"
#include "app/gui/views/view_hub.h"
#include "storage/routing_reader.h"
#include "tests/app/view_test_data.h"

using namespace moescope;
using namespace moescope::gui;

namespace {

bool chose(const RoutingArrays& a, int64_t t, int slot, int expert) {
    for (int j = 0; j < a.k_max; ++j)
        if (a.experts[a.slot(t, slot, j)] == expert) return true;
    return false;
}

}  // namespace

class TestRunCompareView : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString plantedDb_, demoDb_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        const QString model = moescope::test::plantedModel(dir_.path());
        const QString prompts = dir_.filePath("planted.jsonl");
        QFile f(prompts);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"tokens\": [1, 10, 2, 11, 3, 12, 4, 5, 13, 6, 14, 7], \"set\": \"p\"}\n");
        f.close();
        plantedDb_ = dir_.filePath("planted-compare.moescope.db");
        QCOMPARE(moescope::test::recordInto(model, prompts, plantedDb_, "base"), QString());
        QCOMPARE(moescope::test::recordInto(model, prompts, plantedDb_, "L1E3 off", {"--disable", "1:3"}), QString());

        const QString demo = moescope::test::demoModelPath();
        const QString code = QDir(moescope::test::sourceDir()).filePath("resources/prompts/code.discovery.jsonl");
        demoDb_ = dir_.filePath("demo-compare.moescope.db");
        QCOMPARE(moescope::test::recordInto(demo, code, demoDb_, "base", {}, 6), QString());
        QCOMPARE(moescope::test::recordInto(demo, code, demoDb_, "two off", {"--disable", "1:0", "--disable", "2:5"}, 6), QString());
        // A mid-run change in run 2's timeline (what the app records for a live toggle).
        auto db = storage::Database::open(demoDb_.toStdString(), storage::Access::Write);
        db->add_intervention_change(2, 3, "{\"disable\": [[3, 7]]}");
    }

    void plantedRoutingDiff() {
        moescope::test::ViewHarness h(plantedDb_);
        RunCompareView view(&h.hub);
        QAbstractItemModelTester t1(view.tokenModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t2(view.layerModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy ready(&view, &RunCompareView::resultReady);
        view.setRuns(1, 2);
        QVERIFY(ready.wait(30000));
        const RunCompareResult* r = view.result();
        QCOMPARE(r->commonPrefix, 12);  // prompt only: the same 12 tokens
        QCOMPARE(view.tokenModel()->rowCount(), 12);
        QCOMPARE(view.tokenModel()->differing(), 0);
        // Independent expectation from run 1's stored routing: layer 1 differs exactly where expert 3 was chosen.
        const RoutingArrays& a = r->a->routing;
        int chose3 = 0;
        for (int64_t t = 0; t < a.n_tokens; ++t) chose3 += chose(a, t, 1, 3);
        QVERIFY2(chose3 >= 5, "the planted ids 10-14 choose expert 3 at layer 1");
        for (int64_t t = 0; t < r->b->routing.n_tokens; ++t) QVERIFY(!chose(r->b->routing, t, 1, 3));
        LayerDiffModel* m = view.layerModel();
        QCOMPARE(m->rowCount(), 2);
        auto raw = [&](int row, int col) { return m->index(row, col).data(Qt::UserRole).toDouble(); };
        QCOMPARE(raw(0, LayerDiffModel::SetDiffer), 0.0);
        QCOMPARE(raw(0, LayerDiffModel::Jaccard), 1.0);
        QCOMPARE(raw(1, LayerDiffModel::SetDiffer), chose3 / 12.0);
        QVERIFY(raw(1, LayerDiffModel::Jaccard) < 1.0);
        // The chart plots the table.
        const auto series = view.chart()->chart()->series();
        QCOMPARE(series.size(), 3);
        const auto* differ = qobject_cast<QLineSeries*>(series[0]);
        QCOMPARE(differ->count(), 2);
        QCOMPARE(differ->at(1).y(), chose3 / 12.0);
    }

    void demoTokenDiffTimelineAndExports() {
        moescope::test::ViewHarness h(demoDb_);
        RunCompareView view(&h.hub);
        view.resize(1200, 800);
        QAbstractItemModelTester t1(view.tokenModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy ready(&view, &RunCompareView::resultReady);
        view.setRuns(1, 2);
        QVERIFY(ready.wait(30000));
        const RunDataPtr a = moescope::test::loadRunFrom(demoDb_, 1), b = moescope::test::loadRunFrom(demoDb_, 2);
        int differing = 0;
        for (int i = 0; i < std::max(a->tokenCount(), b->tokenCount()); ++i)
            differing += i >= a->tokenCount() || i >= b->tokenCount() || a->tokenText[i] != b->tokenText[i];
        QCOMPARE(view.tokenModel()->differing(), differing);
        QCOMPARE(view.tokenModel()->rowCount(), std::max(a->tokenCount(), b->tokenCount()));
        for (int i = 0; i < view.tokenModel()->rowCount(); ++i)
            QCOMPARE(view.tokenModel()->index(i, 0).data(Qt::BackgroundRole).isValid(), view.tokenModel()->rowAt(i).differs);
        QCOMPARE(view.layerModel()->rowCount(), 4);
        // The prompt tokens are shared, and two experts are off in B: some layer differs.
        QVERIFY(view.result()->commonPrefix >= 10);
        double maxDiffer = 0;
        for (int i = 0; i < 4; ++i) maxDiffer = std::max(maxDiffer, view.layerModel()->index(i, LayerDiffModel::SetDiffer).data(Qt::UserRole).toDouble());
        QVERIFY(maxDiffer > 0);
        // Timelines: A has none, B the mid-run change at step 3.
        QCOMPARE(view.timelineA()->count(), 1);
        QVERIFY(view.timelineA()->item(0)->text().contains("no intervention"));
        QCOMPARE(view.timelineB()->count(), 1);
        QVERIFY2(view.timelineB()->item(0)->text().contains("from token 4"), qPrintable(view.timelineB()->item(0)->text()));

        const QString csv = dir_.filePath("diff.csv"), png = dir_.filePath("diff.png"), svg = dir_.filePath("diff.svg");
        QCOMPARE(saveCsv(view.layerModel(), csv), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split("\r\n", Qt::SkipEmptyParts);
        QCOMPARE(lines.value(0), QStringLiteral("layer,tokens,sets_differ,jaccard,top1_agreement,topk_overlap"));
        QCOMPARE(lines.size(), 5);
        QVERIFY(lines.value(1).startsWith(QStringLiteral("0,%1,").arg(view.result()->commonPrefix)));
        QCOMPARE(savePng(view.chart(), png), QString());
        QVERIFY(!QImage(png).isNull());
        QCOMPARE(saveSvg(view.chart(), svg, "routing diff"), QString());
        QVERIFY(QSvgRenderer(svg).isValid());
    }

    // The open run is A; B defaults to the newest other run; token selection syncs both ways.
    void defaultsAndSelectionSync() {
        moescope::test::ViewHarness h(demoDb_);
        RunCompareView view(&h.hub);
        view.show();
        QSignalSpy ready(&view, &RunCompareView::resultReady);
        h.context.setRun(moescope::test::loadRunFrom(demoDb_, 1));
        QTRY_VERIFY_WITH_TIMEOUT(view.result() && view.result()->b && view.result()->b->runId == 2, 30000);
        QCOMPARE(view.result()->a, h.context.run());
        QCOMPARE(view.comboB()->currentData().toLongLong(), 2);
        h.context.selectToken(5);
        QCOMPARE(view.tokenTable()->selectionModel()->selectedRows().value(0).row(), 5);
        view.tokenTable()->clicked(view.tokenModel()->index(8, 1));
        QCOMPARE(h.context.selectedToken(), 8);
    }

    void staysResponsive() {
        moescope::test::ViewHarness h(demoDb_);
        RunCompareView view(&h.hub);
        QSignalSpy ready(&view, &RunCompareView::resultReady);
        int ticks = 0;
        QTimer timer;
        timer.setInterval(0);
        connect(&timer, &QTimer::timeout, [&] { ++ticks; });
        timer.start();
        view.setRuns(2, 1);
        QVERIFY(view.runner()->busy());
        QVERIFY(view.result() == nullptr);
        QTRY_VERIFY_WITH_TIMEOUT(view.result() && view.result()->a->runId == 2, 30000);
        QVERIFY(ticks > 0);
    }
};

QTEST_MAIN(TestRunCompareView)
#include "test_run_compare_view.moc"
