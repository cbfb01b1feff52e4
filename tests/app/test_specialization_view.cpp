// Specialization view (issue 11) on the planted database (token ids 50-59 -> expert 3 at layer 1, only
// in prompt set "behavior") and on the demo model recorded by moescope-cli: balance, token
// specialisation, domains, co-activation, transitions, LRC charts, exports, selection sync, responsiveness.
#include <QAbstractItemModelTester>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QLineSeries>
#include <QSvgRenderer>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <cmath>

#include "app/gui/run_context.h"
#include "app/gui/run_store.h"
#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/specialization_view.h"
#include "app/gui/views/view_hub.h"
#include "storage/routing_reader.h"
#include "tests/app/view_test_data.h"

using namespace moescope;
using namespace moescope::gui;

namespace {

RoutingArrays readAll(const QString& db) {
    auto d = storage::Database::open(db.toStdString(), storage::Access::ReadOnly);
    return storage::read_routing(*d, {});
}

bool near(double a, double b) { return std::abs(a - b) < 1e-6; }

}  // namespace

class TestSpecializationView : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private slots:
    void plantedAnswers() {
        moescope::test::ViewHarness h(moescope::test::plantedDb(dir_.path()));
        SpecializationView view(&h.hub);
        QAbstractItemModelTester t1(view.tokenModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t2(view.balanceModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy ready(&view, &SpecializationView::resultReady);
        view.setSource("all");
        QVERIFY(ready.wait(60000));
        QVERIFY2(view.result()->notes.isEmpty(), qPrintable(view.result()->notes.join("; ")));
        const RoutingArrays a = readAll(h.db);
        QCOMPARE(view.result()->arrays->n_tokens, a.n_tokens);

        // Balance: normalised entropy of each layer's selection counts, counted here from the stored routing.
        for (int m = 0; m < 2; ++m) {
            std::vector<double> c(8, 0.0);
            for (int64_t t = 0; t < a.n_tokens; ++t)
                for (int j = 0; j < a.k_max; ++j) c[a.experts[a.slot(t, m, j)]] += 1;
            double total = 0, H = 0;
            for (double x : c) total += x;
            for (double x : c)
                if (x > 0) H -= x / total * std::log(x / total);
            QVERIFY(near(view.balanceModel()->index(m, 1).data(Qt::UserRole).toDouble(), H / std::log(8.0)));
        }
        const auto* entropy = qobject_cast<QLineSeries*>(view.balanceChart()->chart()->series().value(0));
        QVERIFY(entropy && entropy->count() == 2);

        // Tokens, layer 1: expert 3's top tokens are planted ids with share 1; no other expert lists them.
        view.setMinCount(2);  // the default is 3: a change recomputes
        QVERIFY(ready.wait(60000));
        view.setLayerSlot(1);
        SpecTableModel* tok = view.tokenModel();
        int expert3 = 0;
        for (int i = 0; i < tok->rowCount(); ++i) {
            const int e = tok->cell(i, 1).raw.toInt();
            const int id = tok->cell(i, 4).raw.toInt();
            QCOMPARE(tok->cell(i, 0).raw.toInt(), 1);
            if (e == 3) {
                ++expert3;
                QVERIFY2(id >= 50 && id < 60, qPrintable(QString::number(id)));
                QCOMPARE(tok->cell(i, 5).raw.toDouble(), 1.0);
                QVERIFY(tok->cell(i, 7).text.contains(QStringLiteral("⟦⟨%1⟩⟧").arg(id)));
            } else {
                QVERIFY2(id < 50 || id >= 60, qPrintable(QString("expert %1 lists %2").arg(e).arg(id)));
            }
        }
        QCOMPARE(expert3, 5);  // top_tokens_per_expert

        // Domains, layer 1: control never selects expert 3; behavior selects it on 59 of its 240 tokens.
        HeatmapWidget* dom = view.domainMap();
        QCOMPARE(dom->rows(), 2);
        QCOMPARE(dom->cols(), 8);
        const auto& sets = view.result()->domains->sets;
        const int behavior = sets[0] == "behavior" ? 0 : 1;
        QCOMPARE(dom->value(behavior, 3), float(59.0 / 240.0));
        QCOMPARE(dom->value(1 - behavior, 3), 0.0f);

        // Co-activation, layer 1: P(b | 3) counted from the stored routing.
        std::vector<double> with3(8, 0.0);
        double n3 = 0;
        for (int64_t t = 0; t < a.n_tokens; ++t) {
            const int x = a.experts[a.slot(t, 1, 0)], y = a.experts[a.slot(t, 1, 1)];
            if (x != 3 && y != 3) continue;
            n3 += 1;
            with3[x == 3 ? y : x] += 1;
        }
        QCOMPARE(n3, 59.0);
        for (int b = 0; b < 8; ++b) QVERIFY(near(view.coactMap()->value(3, b), float(with3[b] / n3)));
        // Transitions L0 -> L1: each non-empty row is a distribution.
        view.setLayerSlot(0);
        HeatmapWidget* tr = view.transitionMap();
        QCOMPARE(tr->rows(), 8);
        for (int r = 0; r < 8; ++r) {
            double sum = 0;
            for (int c = 0; c < 8; ++c) sum += tr->value(r, c);
            QVERIFY(near(sum, 1.0) || near(sum, 0.0));
        }
        // Consistency charts: SRP for every segment length short enough for a 12-token prompt.
        const auto* srp = qobject_cast<QLineSeries*>(view.srpChart()->chart()->series().value(0));
        QVERIFY(srp);
        QCOMPARE(srp->count(), 3);  // m = 2, 4, 8 (12-token sequences)
        for (const QPointF& p : srp->points()) QVERIFY(p.y() > 0 && p.y() <= 1);
        QVERIFY(!view.schChart()->chart()->series().isEmpty());
    }

    void demoModelAndExports() {
        QString err;
        const QString db = moescope::test::demoDb(dir_.path(), {"code", "prose"}, 4, &err);
        QVERIFY2(!db.isEmpty(), qPrintable(err));
        moescope::test::ViewHarness h(db);
        SpecializationView view(&h.hub);
        view.resize(1200, 800);
        QSignalSpy ready(&view, &SpecializationView::resultReady);
        view.setSource("set:code");
        QVERIFY(ready.wait(60000));
        QCOMPARE(view.result()->sourceLabel, QStringLiteral("prompt set code"));
        QCOMPARE(view.layerCombo()->count(), 4);
        QCOMPARE(view.balanceModel()->rowCount(), 4);
        QVERIFY(view.tokenModel()->rowCount() > 0);
        QVERIFY(!view.tokenModel()->cell(0, 3).text.startsWith(QStringLiteral("⟨")));  // real token text
        // Domains across both sets: each row sums to k = 2 (share of tokens selecting e, over e).
        HeatmapWidget* dom = view.domainMap();
        QCOMPARE(dom->rows(), 2);
        for (int s = 0; s < 2; ++s) {
            double sum = 0;
            for (int e = 0; e < 16; ++e) sum += dom->value(s, e);
            QVERIFY(near(sum, 2.0));
        }
        const QString csv = dir_.filePath("tokens.csv"), png = dir_.filePath("balance.png"), svg = dir_.filePath("domains.svg");
        QCOMPARE(saveCsv(view.tokenModel(), csv), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split("\r\n", Qt::SkipEmptyParts);
        QCOMPARE(lines.value(0), QStringLiteral("layer,expert,rank,token,token_id,share,occurrences,example"));
        QCOMPARE(lines.size(), view.tokenModel()->rowCount() + 1);
        QVERIFY(lines.value(1).startsWith(QStringLiteral("0,%1,1,").arg(view.tokenModel()->cell(0, 1).raw.toInt())));
        QCOMPARE(saveCsv(view.balanceModel(), dir_.filePath("balance.csv")), QString());
        QCOMPARE(savePng(view.balanceChart(), png), QString());
        QVERIFY(!QImage(png).isNull());
        QCOMPARE(saveSvg(view.domainMap(), svg, "domains"), QString());
        QVERIFY(QSvgRenderer(svg).isValid());
    }

    void selectionSync() {
        moescope::test::ViewHarness h(moescope::test::plantedDb(dir_.path()));
        SpecializationView view(&h.hub);
        view.resize(1000, 700);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy ready(&view, &SpecializationView::resultReady);
        auto d = storage::Database::open(h.db.toStdString(), storage::Access::ReadOnly);
        h.context.setRun(loadRun(*d, 1));  // source "open"
        QVERIFY(ready.wait(60000));
        QCOMPARE(view.layerSlot(), 0);
        h.context.selectExpert(1, 3);  // elsewhere: layer 1 expert 3
        QCOMPARE(view.layerSlot(), 1);
        QCOMPARE(view.layerCombo()->currentIndex(), 1);
        // A click in the co-activation matrix selects expert b of the shown layer everywhere.
        view.tabs()->setCurrentIndex(3);
        HeatmapWidget* co = view.coactMap();
        QTRY_VERIFY(co->isVisible());
        QTest::mouseClick(co->viewport(), Qt::LeftButton, {}, co->cellRect(2, 6).center());
        QCOMPARE(h.context.selectedExpertLayer(), 1);
        QCOMPARE(h.context.selectedExpert(), 6);
    }

    void staysResponsive() {
        moescope::test::ViewHarness h(moescope::test::plantedDb(dir_.path()));
        SpecializationView view(&h.hub);
        QSignalSpy ready(&view, &SpecializationView::resultReady);
        int ticks = 0;
        QTimer timer;
        timer.setInterval(0);
        connect(&timer, &QTimer::timeout, [&] { ++ticks; });
        timer.start();
        view.setSource("all");
        QVERIFY(view.runner()->busy());
        QVERIFY(view.result() == nullptr);
        QVERIFY(ready.wait(60000));
        QVERIFY(ticks > 0);
    }
};

QTEST_MAIN(TestSpecializationView)
#include "test_specialization_view.moc"
