// Shared view infrastructure of issue 11: CSV/PNG/SVG export, the QPainter heatmap (colour mapping,
// hit-testing, clicks) and the AnalysisRunner (off the UI thread, newest result wins, errors reported).
#include <QStandardItemModel>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>
#include <cmath>
#include <semaphore>

#include "app/gui/views/analysis_runner.h"
#include "app/gui/views/export_util.h"
#include "app/gui/views/heatmap_widget.h"

using namespace moescope::gui;

class TestViewSupport : public QObject {
    Q_OBJECT
private slots:
    void csvQuoting_data() {
        QTest::addColumn<QString>("cell");
        QTest::addColumn<QString>("field");
        QTest::newRow("plain") << "abc" << "abc";
        QTest::newRow("comma") << "a,b" << "\"a,b\"";
        QTest::newRow("quote") << "say \"hi\"" << "\"say \"\"hi\"\"\"";
        QTest::newRow("newline") << "two\nlines" << "\"two\nlines\"";
        QTest::newRow("empty") << "" << "";
    }
    void csvQuoting() {
        QFETCH(QString, cell);
        QFETCH(QString, field);
        QStandardItemModel m(1, 2);
        m.setHorizontalHeaderLabels({"text", "n"});
        m.setItem(0, 0, new QStandardItem(cell));
        m.setItem(0, 1, new QStandardItem("7"));
        QCOMPARE(toCsv(&m), QString("text,n\r\n%1,7\r\n").arg(field));
    }
    void csvWritesRawValueOverDisplay() {
        // The table shows 0.12; the export keeps the full value stored in Qt::UserRole.
        QStandardItemModel m(1, 1);
        m.setHorizontalHeaderLabels({"q"});
        auto* item = new QStandardItem("0.12");
        item->setData(0.123456789, Qt::UserRole);
        m.setItem(0, 0, item);
        QCOMPARE(toCsv(&m), QString("q\r\n0.123456789\r\n"));
    }
    void saveErrorsNameTheFile() {
        QStandardItemModel m(1, 1);
        const QString bad = "/nonexistent-dir/x.csv";
        const QString err = saveCsv(&m, bad);
        QVERIFY(err.contains(bad));
        QVERIFY(saveCsv(nullptr, "/tmp/x.csv").contains("nothing to export"));
    }
    void pngAndSvgExport() {
        QTemporaryDir dir;
        HeatmapWidget w;
        w.setObjectName("heat");
        w.resize(300, 200);
        w.setData(2, 3, {0, 1, 2, 3, 4, 5});
        const QString png = dir.filePath("h.png"), svg = dir.filePath("h.svg");
        QCOMPARE(savePng(&w, png), QString());
        QCOMPARE(saveSvg(&w, svg, "routing heatmap"), QString());
        const QImage img(png);
        QCOMPARE(img.size(), QSize(300, 200));
        QSvgRenderer r(svg);
        QVERIFY(r.isValid());
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("<svg"));
        QVERIFY(text.contains("routing heatmap"));
        QVERIFY(text.contains("<image") || text.contains("<path") || text.contains("<rect"));
    }

    void heatmapColours_data() {
        QTest::addColumn<int>("scale");
        QTest::newRow("sequential") << int(HeatmapWidget::Scale::Sequential);
        QTest::newRow("diverging") << int(HeatmapWidget::Scale::Diverging);
        QTest::newRow("categorical") << int(HeatmapWidget::Scale::Categorical);
    }
    void heatmapColours() {
        QFETCH(int, scale);
        const auto s = HeatmapWidget::Scale(scale);
        HeatmapWidget w;
        const int rows = 3, cols = 5;
        std::vector<float> v(rows * cols);
        for (int i = 0; i < rows * cols; ++i) v[i] = s == HeatmapWidget::Scale::Diverging ? float(i - 7) : float(i);
        v[4] = NAN;
        w.setData(rows, cols, v, s);
        const QImage& img = w.cellImage();
        QCOMPARE(img.size(), QSize(cols, rows));
        // Every pixel of the cell image is exactly the colour of its value.
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c) QCOMPARE(QColor(img.pixel(c, r)).rgb(), w.colorOf(w.value(r, c)).rgb());
        QCOMPARE(w.colorOf(NAN), w.palette().color(QPalette::Base));
        if (s == HeatmapWidget::Scale::Sequential) {  // larger value -> darker
            for (int i = 1; i < 14; ++i) QVERIFY(w.colorOf(float(i)).lightness() <= w.colorOf(float(i - 1)).lightness());
        } else if (s == HeatmapWidget::Scale::Diverging) {  // 0 is neutral, sign picks the hue
            QCOMPARE(w.colorOf(0.0f).rgb(), QColor(247, 247, 247).rgb());
            QVERIFY(w.colorOf(5.0f).red() > w.colorOf(5.0f).blue());
            QVERIFY(w.colorOf(-5.0f).blue() > w.colorOf(-5.0f).red());
        } else {  // 16 experts: 16 distinct colours
            QSet<QRgb> seen;
            for (int e = 0; e < 16; ++e) seen.insert(w.colorOf(float(e)).rgb());
            QCOMPARE(seen.size(), 16);
        }
    }
    void heatmapHitTestAndClick() {
        HeatmapWidget w;
        w.resize(400, 300);
        w.setData(4, 6, std::vector<float>(24, 1.0f));
        w.setCellSize(10, 12);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 6; ++c) QCOMPARE(w.cellAt(w.cellRect(r, c).center()), QPoint(c, r));
        QCOMPARE(w.cellAt(QPoint(0, 0)), QPoint(-1, -1));  // label margin
        QSignalSpy clicked(&w, &HeatmapWidget::cellClicked);
        QTest::mouseClick(w.viewport(), Qt::LeftButton, {}, w.cellRect(2, 5).center());
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(clicked.at(0).at(0).toInt(), 2);
        QCOMPARE(clicked.at(0).at(1).toInt(), 5);
        QCOMPARE(w.selectedCell(), QPoint(5, 2));
    }
    void heatmapRejectsBadShape() {
        HeatmapWidget w;
        w.setData(3, 3, std::vector<float>(8, 0.0f));  // 8 != 9: treated as no data, never read out of bounds
        QCOMPARE(w.rows(), 0);
        QVERIFY(std::isnan(w.value(0, 0)));
        QVERIFY(!w.renderFull().isNull());
    }

    void runnerDeliversOnUiThreadFromWorker() {
        AnalysisRunner runner;
        QThread* computeThread = nullptr;
        QThread* doneThread = nullptr;
        int got = 0;
        QSignalSpy finished(&runner, &AnalysisRunner::finished);
        runner.run<int>([&](const std::atomic<bool>&) { computeThread = QThread::currentThread(); return 42; },
                        [&](int&& v) { doneThread = QThread::currentThread(); got = v; });
        QVERIFY(runner.busy());
        QVERIFY(finished.wait(10000));
        QCOMPARE(got, 42);
        QVERIFY(computeThread != qApp->thread());
        QCOMPARE(doneThread, qApp->thread());
        QVERIFY(!runner.busy());
    }
    void runnerNewestWins() {
        AnalysisRunner runner;
        std::binary_semaphore gate(0);
        std::atomic<bool> firstSawCancel{false};
        QStringList delivered;
        runner.run<QString>(
            [&](const std::atomic<bool>& cancelled) {
                gate.acquire();  // held until the second job has been started
                firstSawCancel = cancelled.load();
                return QString("old");
            },
            [&](QString&& s) { delivered << s; });
        runner.run<QString>([](const std::atomic<bool>&) { return QString("new"); }, [&](QString&& s) { delivered << s; });
        gate.release();
        QSignalSpy finished(&runner, &AnalysisRunner::finished);
        QVERIFY(finished.wait(10000));
        QVERIFY(AnalysisRunner::waitForIdle());
        QCoreApplication::processEvents();
        QCOMPARE(delivered, QStringList{"new"});
        QVERIFY(firstSawCancel.load());
    }
    void runnerReportsErrors() {
        AnalysisRunner runner;
        QSignalSpy failed(&runner, &AnalysisRunner::failed);
        bool doneCalled = false;
        runner.run<int>([](const std::atomic<bool>&) -> int { throw std::runtime_error("run 7: no routing recorded"); },
                        [&](int&&) { doneCalled = true; });
        QVERIFY(failed.wait(10000));
        QCOMPARE(failed.at(0).at(0).toString(), QString("run 7: no routing recorded"));
        QVERIFY(!doneCalled);
        QVERIFY(!runner.busy());
    }
    void runnerDestroyedBeforeResult() {
        std::binary_semaphore gate(0);
        bool doneCalled = false;
        {
            AnalysisRunner runner;
            runner.run<int>([&](const std::atomic<bool>&) { gate.acquire(); return 1; }, [&](int&&) { doneCalled = true; });
        }
        gate.release();
        QVERIFY(AnalysisRunner::waitForIdle());
        QCoreApplication::processEvents();
        QVERIFY(!doneCalled);
    }
};

QTEST_MAIN(TestViewSupport)
#include "test_view_support.moc"
