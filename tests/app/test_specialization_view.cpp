// Specialization view (issue 11) on the planted database (token ids 50-59 -> expert 3 at layer 1, only
// in prompt set "behavior") and on the demo model recorded by moescope-cli: balance, token
// specialisation, domains, co-activation, transitions, LRC charts, exports, selection sync, responsiveness.
#include <QAbstractItemModelTester>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QLabel>
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
#include "analysis/lrc.h"
#include "analysis/token_contribution.h"
#include "storage/routing_reader.h"
#include "tests/app/view_test_data.h"

using namespace moescope;
using namespace moescope::gui;

namespace {

RoutingArrays readAll(const QString& db, bool activations = false) {
    auto d = storage::Database::open(db.toStdString(), storage::Access::ReadOnly);
    storage::RoutingSelection sel;
    sel.activations = activations;
    return storage::read_routing(*d, sel);
}

// The planted database recorded at capture level Activations (s_t = 0.25 at layer 0, 0.5 at layer 1).
QString plantedActivationsDb(const QString& dir) {
    const QString path = QDir(dir).filePath("planted_act.moescope.db");
    if (!QFile::exists(path)) moescope::test::write_planted_db(path.toStdString(), CaptureLevel::Activations);
    return path;
}

QLineSeries* seriesNamed(QChartView* v, const QString& name) {
    for (QAbstractSeries* s : v->chart()->series())
        if (s->name() == name) return qobject_cast<QLineSeries*>(s);
    return nullptr;
}

// Cross-layer SCH series of the chart ("m = X, all layers") against analysis::local_routing_consistency run
// here on the same arrays (segment lengths as the view: 2..256).
void checkCrossLayerSch(QChartView* chart, const RoutingArrays& a) {
    analysis::LrcOptions lo;
    lo.seg_lengths = {2, 4, 8, 16, 32, 64, 128, 256};
    const auto l = analysis::local_routing_consistency(a, lo);
    QVERIFY2(l.ok(), qPrintable(QString::fromStdString(l.message())));
    QVERIFY(!l.value().sch_model.empty());
    std::map<int, std::vector<QPointF>> want;
    for (const auto& v : l.value().sch_model) want[v.m].push_back({v.ratio, v.hit_rate});
    int cross = 0;
    for (QAbstractSeries* s : chart->chart()->series())
        if (s->name().endsWith(QStringLiteral(", all layers"))) ++cross;
    QCOMPARE(cross, static_cast<int>(want.size()));
    for (const auto& [m, pts] : want) {
        QLineSeries* s = seriesNamed(chart, QStringLiteral("m = %1, all layers").arg(m));
        QVERIFY2(s, qPrintable(QString::number(m)));
        QCOMPARE(s->pen().style(), Qt::DashLine);
        QCOMPARE(s->count(), static_cast<int>(pts.size()));
        for (int i = 0; i < s->count(); ++i) {
            QCOMPARE(s->at(i).x(), pts[static_cast<size_t>(i)].x());
            QCOMPARE(s->at(i).y(), pts[static_cast<size_t>(i)].y());
        }
        // The per-layer series of the same m is still there, solid.
        QLineSeries* layer = seriesNamed(chart, QStringLiteral("m = %1").arg(m));
        QVERIFY(layer && layer->pen().style() == Qt::SolidLine);
    }
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
        checkCrossLayerSch(view.schChart(), a);
        if (QTest::currentTestFailed()) return;
        // A routing-level recording has no token contribution: the tab says what is needed, no rows, no series.
        QVERIFY(!view.contributionMessage()->isHidden());
        QVERIFY2(view.contributionMessage()->text().contains(QStringLiteral("Activations level")),
                 qPrintable(view.contributionMessage()->text()));
        QCOMPARE(view.contributionModel()->rowCount(), 0);
        QVERIFY(view.contributionChart()->chart()->series().isEmpty());
        QVERIFY(!view.result()->contribution.has_value());
    }

    // EASY-EP s_t per layer on the planted activation database, from every source kind that reads it.
    void tokenContribution_data() {
        QTest::addColumn<QString>("source");
        QTest::newRow("all runs") << QStringLiteral("all");
        QTest::newRow("prompt set") << QStringLiteral("set:behavior");
        QTest::newRow("open run") << QStringLiteral("open");
    }
    void tokenContribution() {
        QFETCH(QString, source);
        moescope::test::ViewHarness h(plantedActivationsDb(dir_.path()));
        SpecializationView view(&h.hub);
        view.resize(1200, 800);
        QAbstractItemModelTester tester(view.contributionModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy ready(&view, &SpecializationView::resultReady);
        if (source == QLatin1String("open")) h.context.setRun(moescope::test::loadRunFrom(h.db, 1));
        else view.setSource(source);
        QVERIFY(ready.wait(60000));
        QVERIFY2(view.result()->contribution.has_value(), qPrintable(view.result()->contributionMissing));
        QVERIFY(view.contributionMessage()->isHidden());

        // Independent expectation: the mean of the stored s_t of the same rows, counted here; planted 0.25 / 0.5.
        auto d = storage::Database::open(h.db.toStdString(), storage::Access::ReadOnly);
        storage::RoutingSelection sel;
        sel.activations = true;
        if (source.startsWith(QLatin1String("set:"))) sel.prompt_set = source.mid(4).toStdString();
        if (source == QLatin1String("open")) sel.run_ids = {1};
        const RoutingArrays a = storage::read_routing(*d, sel);
        QCOMPARE(view.result()->arrays->n_tokens, a.n_tokens);
        QVERIFY(a.has_token_contribution());
        const double planted[] = {0.25, 0.5};
        QLineSeries* mean = seriesNamed(view.contributionChart(), QStringLiteral("mean"));
        QLineSeries* q1 = seriesNamed(view.contributionChart(), QStringLiteral("q1"));
        QLineSeries* mx = seriesNamed(view.contributionChart(), QStringLiteral("max"));
        QVERIFY(mean && q1 && mx);
        QCOMPARE(mean->count(), a.n_moe);
        QCOMPARE(view.contributionModel()->rowCount(), a.n_moe);
        for (int m = 0; m < a.n_moe; ++m) {
            double sum = 0, lo = 1e9, hi = -1e9;
            int64_t n = 0;
            for (int64_t t = 0; t < a.n_tokens; ++t) {
                const float x = a.token_contribution[static_cast<size_t>(t) * a.n_moe + m];
                if (std::isnan(x)) continue;
                sum += x;
                lo = std::min(lo, double(x));
                hi = std::max(hi, double(x));
                ++n;
            }
            QCOMPARE(n, a.n_tokens);  // every token-layer of the planted run stores s_t
            QVERIFY(near(sum / n, planted[m]));
            QCOMPARE(mean->at(m).x(), double(a.moe_layers[static_cast<size_t>(m)]));
            QVERIFY(near(mean->at(m).y(), sum / n));
            QVERIFY(near(q1->at(m).y(), planted[m]));  // constant per layer: every quantile is the value
            QVERIFY(near(mx->at(m).y(), hi));
            SpecTableModel* t = view.contributionModel();
            QCOMPARE(t->cell(m, 0).raw.toInt(), a.moe_layers[static_cast<size_t>(m)]);
            QCOMPARE(t->cell(m, 1).raw.toLongLong(), n);
            QVERIFY(near(t->cell(m, 2).raw.toDouble(), sum / n));
            QVERIFY(near(t->cell(m, 3).raw.toDouble(), lo));
        }
        // Cross-layer SCH on this source too.
        checkCrossLayerSch(view.schChart(), a);
        if (QTest::currentTestFailed()) return;

        // Exports: the table as CSV (header + one row per layer), both charts as PNG and SVG.
        const QString csv = dir_.filePath("contribution.csv");
        QCOMPARE(saveCsv(view.contributionModel(), csv), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split("\r\n", Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), a.n_moe + 1);
        QCOMPARE(lines.value(0), QStringLiteral("layer,count,mean,min,q1,median,q3,max"));
        QVERIFY2(lines.value(1).startsWith(QStringLiteral("0,%1,0.25,0.25,").arg(a.n_tokens)), qPrintable(lines.value(1)));
        QVERIFY2(lines.value(2).startsWith(QStringLiteral("1,%1,0.5,0.5,").arg(a.n_tokens)), qPrintable(lines.value(2)));
        for (QChartView* c : {view.contributionChart(), view.schChart()}) {
            const QString png = dir_.filePath(c->objectName() + ".png"), svg = dir_.filePath(c->objectName() + ".svg");
            QCOMPARE(savePng(c, png), QString());
            QVERIFY(!QImage(png).isNull());
            QCOMPARE(saveSvg(c, svg, c->objectName()), QString());
            QVERIFY(QSvgRenderer(svg).isValid());
        }
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
