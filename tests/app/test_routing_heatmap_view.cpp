// Routing heatmap view (issue 11) on a planted database (token ids 50-59 -> expert 3 at layer 1) and on
// the demo model recorded by moescope-cli: token heatmap, load matrix, drill-down, exports, selection
// sync, UI responsiveness while the analysis runs.
#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QSvgRenderer>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "app/gui/run_context.h"
#include "app/gui/run_store.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/routing_drill_model.h"
#include "app/gui/views/routing_heatmap_view.h"
#include "app/gui/views/view_hub.h"
#include "storage/routing_reader.h"
#include "tests/app/view_test_data.h"

using namespace moescope;
using namespace moescope::gui;

namespace {

RoutingArrays readRun(const QString& db, int64_t run) {
    auto d = storage::Database::open(db.toStdString(), storage::Access::ReadOnly);
    return storage::read_run_routing(*d, run);
}

bool planted(int32_t id) { return id >= 50 && id < 60; }

void clickCell(HeatmapWidget* map, int row, int col) {
    map->ensurePolished();
    const QRect r = map->cellRect(row, col);
    QTest::mouseClick(map->viewport(), Qt::LeftButton, {}, r.center());
}

}  // namespace

class TestRoutingHeatmapView : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private slots:
    // The planted run: the token heatmap shows expert 3 as the top-1 choice at layer 1 exactly for the
    // planted token ids, weight 0.6 when coloured by weight; the load matrix counts them.
    void plantedTokenHeatmap() {
        moescope::test::ViewHarness h(moescope::test::plantedDb(dir_.path()));
        RoutingHeatmapView view(&h.hub);
        QSignalSpy ready(&view, &RoutingHeatmapView::resultReady);
        view.setRunChoice(1);
        QVERIFY(ready.wait(30000));
        const RoutingArrays a = readRun(h.db, 1);
        HeatmapWidget* map = view.tokenMap();
        QCOMPARE(map->rows(), static_cast<int>(a.n_tokens));
        QCOMPARE(map->cols(), 2);
        QCOMPARE(map->scale(), HeatmapWidget::Scale::Categorical);
        int plantedRows = 0;
        for (int t = 0; t < a.n_tokens; ++t) {
            const bool p = planted(a.token_id[static_cast<size_t>(t)]);
            plantedRows += p;
            QCOMPARE(map->value(t, 1) == 3.0f, p);
            QCOMPARE(map->cellImage().pixelColor(1, t).rgb(), map->colorOf(map->value(t, 1)).rgb());
        }
        QCOMPARE(plantedRows, 59);  // sum over the 20 behaviour prompts of 2 + p % 3
        view.setColorByWeight(true);
        QCOMPARE(map->scale(), HeatmapWidget::Scale::Sequential);
        QCOMPARE(map->value(0, 0), 0.6f);
        // Load matrix: layer 1, expert 3 = the planted tokens exactly.
        HeatmapWidget* load = view.loadMap();
        QCOMPARE(load->rows(), 2);
        QCOMPARE(load->cols(), 8);
        QCOMPARE(load->value(1, 3), 59.0f);
        float layerSum = 0;
        for (int e = 0; e < 8; ++e) layerSum += load->value(0, e);
        QCOMPARE(layerSum, float(a.n_tokens * 2));  // k = 2 selections per token
    }

    // The load of a prompt set, and the drill-down behind a cell: behaviour tokens with ids 50-59 only.
    void plantedDrillDown_data() {
        QTest::addColumn<QString>("set");
        QTest::addColumn<int>("expected");
        QTest::newRow("the run") << "" << 59;
        QTest::newRow("behavior set") << "behavior" << 59;
        QTest::newRow("control set") << "control" << 0;
    }
    void plantedDrillDown() {
        QFETCH(QString, set);
        QFETCH(int, expected);
        moescope::test::ViewHarness h(moescope::test::plantedDb(dir_.path()));
        RoutingHeatmapView view(&h.hub);
        QAbstractItemModelTester tester(view.drillModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy catalog(&view, &RoutingHeatmapView::catalogReady);
        QVERIFY(catalog.wait(30000));
        QCOMPARE(view.loadCombo()->count(), 3);  // this run + behavior + control
        QCOMPARE(view.runCombo()->count(), 2);   // open run + run 1
        QSignalSpy ready(&view, &RoutingHeatmapView::resultReady);
        view.setRunChoice(1);
        QVERIFY(ready.wait(30000));
        ready.clear();
        view.setLoadSet(set);
        QVERIFY(ready.wait(30000));
        QCOMPARE(view.loadMap()->value(1, 3), float(expected));
        QSignalSpy drilled(&view, &RoutingHeatmapView::drillReady);
        view.drillDown(1, 3);
        QVERIFY(drilled.wait(30000));
        RoutingDrillModel* m = view.drillModel();
        QCOMPARE(m->rowCount(), expected);
        const RoutingArrays& a = *view.result()->loadArrays;
        for (int i = 0; i < m->rowCount(); ++i) {
            const DrillRow& d = m->rowAt(i);
            const int32_t id = a.token_id[static_cast<size_t>(d.row)];
            QVERIFY2(planted(id), qPrintable(QString("row %1 id %2").arg(d.row).arg(id)));
            QCOMPARE(d.token, QStringLiteral("⟨%1⟩").arg(id));  // the planted db stores no texts
            QCOMPARE(d.rank, 1);
            QCOMPARE(d.weight, double(0.6f));
            QVERIFY(d.context.contains("⟦" + d.token + "⟧"));
        }
        // Every expert of layer 0 drills to exactly its load count.
        for (int e = 0; e < 8; ++e) {
            drilled.clear();
            view.drillDown(0, e);
            QVERIFY(drilled.wait(30000));
            QCOMPARE(float(m->rowCount()), view.loadMap()->value(0, e));
        }
    }

    // Context windows stay inside the token's own sequence (each planted prompt has 12 tokens).
    void drillContextStaysInSequence() {
        const RoutingArrays a = readRun(moescope::test::plantedDb(dir_.path()), 1);
        QStringList texts;
        for (int64_t t = 0; t < a.n_tokens; ++t) texts << QStringLiteral("[%1]").arg(a.position[static_cast<size_t>(t)]);
        for (const DrillRow& d : tokensChoosing(a, texts, 1, 3, 4)) {
            QString expect;
            for (int p = std::max(0, d.position - 4); p <= std::min(11, d.position + 4); ++p)
                expect += p == d.position ? QStringLiteral("⟦[%1]⟧").arg(p) : QStringLiteral("[%1]").arg(p);
            QCOMPARE(d.context, expect);
        }
    }

    // Demo model recorded by the CLI: texts are real, loads sum to k per token, the drill-down of the
    // busiest expert lists as many tokens as its load, and the CSV export has them all.
    void demoModelAndExports() {
        QString err;
        const QString db = moescope::test::demoDb(dir_.path(), {"code", "prose"}, 4, &err);
        QVERIFY2(!db.isEmpty(), qPrintable(err));
        moescope::test::ViewHarness h(db);
        RoutingHeatmapView view(&h.hub);
        QAbstractItemModelTester tester(view.drillModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        view.resize(1200, 800);
        QSignalSpy ready(&view, &RoutingHeatmapView::resultReady);
        h.context.setRun(moescope::test::loadRunFrom(db, 1));  // the open run
        QVERIFY(ready.wait(30000));
        const RunDataPtr run = h.context.run();
        QCOMPARE(view.tokenMap()->rows(), run->tokenCount());
        QCOMPARE(view.tokenMap()->cols(), 4);  // demo: 4 MoE layers
        ready.clear();
        view.setLoadSet("prose");
        QVERIFY(ready.wait(30000));
        const RoutingArrays& a = *view.result()->loadArrays;
        QVERIFY(a.n_tokens > 0);
        QCOMPARE(view.loadMap()->cols(), 16);
        int busiest = 0;
        for (int m = 0; m < 4; ++m) {
            float sum = 0;
            for (int e = 0; e < 16; ++e) sum += view.loadMap()->value(m, e);
            QCOMPARE(sum, float(a.n_tokens * 2));
        }
        for (int e = 1; e < 16; ++e)
            if (view.loadMap()->value(2, e) > view.loadMap()->value(2, busiest)) busiest = e;
        QSignalSpy drilled(&view, &RoutingHeatmapView::drillReady);
        view.drillDown(2, busiest);
        QVERIFY(drilled.wait(30000));
        RoutingDrillModel* m = view.drillModel();
        QCOMPARE(float(m->rowCount()), view.loadMap()->value(2, busiest));
        QVERIFY(!m->rowAt(0).token.startsWith("⟨"));  // real token texts from the database

        const QString csv = dir_.filePath("drill.csv"), png = dir_.filePath("load.png"), svg = dir_.filePath("tokens.svg");
        QCOMPARE(saveCsv(m, csv), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split("\r\n", Qt::SkipEmptyParts);
        QCOMPARE(lines.value(0), QStringLiteral("row,run,position,token,context,rank,weight"));
        QCOMPARE(lines.size(), m->rowCount() + 1);
        QVERIFY(lines.value(1).startsWith(QStringLiteral("%1,%2,%3,").arg(m->rowAt(0).row).arg(m->rowAt(0).run).arg(m->rowAt(0).position)));
        QCOMPARE(savePng(view.loadMap(), png), QString());
        QVERIFY(!QImage(png).isNull());
        QCOMPARE(saveSvg(view.tokenMap(), svg, "routing"), QString());
        QVERIFY(QSvgRenderer(svg).isValid());
    }

    // Selection sync both ways: RunContext -> highlighted cells and drill-down; clicks -> RunContext.
    void selectionSync() {
        moescope::test::ViewHarness h(moescope::test::plantedDb(dir_.path()));
        RoutingHeatmapView view(&h.hub);
        view.resize(1200, 800);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy ready(&view, &RoutingHeatmapView::resultReady);
        h.context.setRun(moescope::test::loadRunFrom(h.db, 1));
        QVERIFY(ready.wait(30000));
        // Elsewhere selects (layer 1, expert 3): the load cell is highlighted and the drill-down follows.
        QSignalSpy drilled(&view, &RoutingHeatmapView::drillReady);
        h.context.selectExpert(1, 3);
        QVERIFY(drilled.wait(30000));
        QCOMPARE(view.loadMap()->selectedCell(), QPoint(3, 1));
        QCOMPARE(view.drillModel()->rowCount(), 59);
        // Elsewhere selects token 7: crosshair on its row.
        h.context.selectToken(7);
        QCOMPARE(view.tokenMap()->selectedCell().y(), 7);
        // Clicks in the view reach the RunContext.
        drilled.clear();
        clickCell(view.loadMap(), 0, 5);
        QCOMPARE(h.context.selectedExpertLayer(), 0);
        QCOMPARE(h.context.selectedExpert(), 5);
        QVERIFY(drilled.wait(30000));
        clickCell(view.tokenMap(), 11, 1);
        QCOMPARE(h.context.selectedToken(), 11);
        const DrillRow third = view.drillModel()->rowAt(2);
        view.drillTable()->clicked(view.drillModel()->index(2, RoutingDrillModel::Token));
        QCOMPARE(h.context.selectedToken(), int(third.row));
        QCOMPARE(view.tokenMap()->selectedCell().y(), int(third.row));
    }

    // The analysis runs off the UI thread: the call returns at once and the event loop keeps turning
    // (a 0 ms timer fires) until the result arrives.
    void staysResponsive() {
        moescope::test::ViewHarness h(moescope::test::plantedDb(dir_.path()));
        RoutingHeatmapView view(&h.hub);
        QSignalSpy ready(&view, &RoutingHeatmapView::resultReady);
        int ticks = 0;
        QTimer timer;
        timer.setInterval(0);
        connect(&timer, &QTimer::timeout, [&] { ++ticks; });
        timer.start();
        view.setLoadSet("behavior");
        view.setRunChoice(1);
        QVERIFY(view.runner()->busy());
        QVERIFY(view.result() == nullptr);  // nothing computed on the UI thread
        QVERIFY(ready.wait(30000));
        QVERIFY(ticks > 0);
        QCOMPARE(ready.count(), 1);  // the superseded first request never showed
        QCOMPARE(view.result()->loadLabel, QStringLiteral("prompt set behavior"));
    }
};

QTEST_MAIN(TestRoutingHeatmapView)
#include "test_routing_heatmap_view.moc"
