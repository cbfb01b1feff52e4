// HeatmapWidget auto-fit (the layers x experts heatmaps of the fTRI, Super experts and Importance
// views): the whole matrix stays in view as data and window size change, until the user zooms by hand;
// zoomToFit() brings it back.
#include <QScrollBar>
#include <QtTest>

#include "app/gui/views/heatmap_widget.h"

using moescope::gui::HeatmapWidget;

namespace {

std::vector<float> ramp(int rows, int cols) {
    std::vector<float> v(static_cast<size_t>(rows) * static_cast<size_t>(cols));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    return v;
}

// Every cell is inside the viewport: nothing to scroll to.
bool allVisible(HeatmapWidget& w) {
    const QRect last = w.cellRect(w.rows() - 1, w.cols() - 1);
    return w.horizontalScrollBar()->maximum() == 0 && w.verticalScrollBar()->maximum() == 0 &&
           w.viewport()->rect().contains(last);
}

}  // namespace

class TestHeatmapWidget : public QObject {
    Q_OBJECT
private slots:
    void autoFit_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<QSize>("size");
        QTest::newRow("demo 4 x 16") << 4 << 16 << QSize(700, 400);
        QTest::newRow("olmoe 16 x 64") << 16 << 64 << QSize(900, 500);
        QTest::newRow("deepseek 58 x 256") << 58 << 256 << QSize(1100, 600);
    }
    void autoFit() {
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(QSize, size);
        HeatmapWidget w;
        w.resize(size);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(!w.autoFit());  // off by default: long matrices scroll
        w.setAutoFit(true);
        w.setData(rows, cols, ramp(rows, cols));
        QVERIFY(allVisible(w));
        QVERIFY(w.cellWidth() <= HeatmapWidget::kFitMaxCell && w.cellHeight() <= HeatmapWidget::kFitMaxCell);
        // It uses the room (at least half of each direction, beside the labels), up to the cap.
        QVERIFY(w.cellWidth() == HeatmapWidget::kFitMaxCell || w.cellWidth() * cols >= w.viewport()->width() / 2);
        QVERIFY(w.cellHeight() == HeatmapWidget::kFitMaxCell || w.cellHeight() * rows >= w.viewport()->height() / 2);
        const int before = w.cellWidth();
        w.resize(size / 2);
        QCoreApplication::processEvents();
        QVERIFY(allVisible(w));
        QVERIFY(w.cellWidth() <= before);
        // A hand zoom ends auto-fit: resizing keeps the user's cell size.
        w.zoomIn();
        QVERIFY(!w.autoFit());
        const int zoomed = w.cellWidth();
        w.resize(size);
        QCoreApplication::processEvents();
        QCOMPARE(w.cellWidth(), zoomed);
        w.zoomToFit();
        QVERIFY(w.autoFit());
        QVERIFY(allVisible(w));
    }
};

QTEST_MAIN(TestHeatmapWidget)
#include "test_heatmap_widget.moc"
