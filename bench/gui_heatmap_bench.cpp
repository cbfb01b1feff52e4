// Heatmap render time (issue 11: "Heatmap for 58 layers x 256 experts renders in < 100 ms").
// Measures, for a layers x experts matrix, (a) setData: colour mapping into the cell image and
// (b) a full render of the widget (labels, marks, selection) into an image at 4 px cells, and
// (c) a viewport repaint of a 1280 x 800 widget. Median and max over repeats, in milliseconds.
//   gui_heatmap_bench [ROWS] [COLS] [REPEATS]      (defaults 58 256 30; runs offscreen)
#include <QApplication>
#include <QElapsedTimer>
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "app/gui/views/heatmap_widget.h"

using moescope::gui::HeatmapWidget;

namespace {
struct Stat {
    double median, max;
};
Stat stat(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.back()};
}
}  // namespace

int main(int argc, char** argv) {
    qputenv("QT_QPA_PLATFORM", qgetenv("QT_QPA_PLATFORM").isEmpty() ? QByteArray("offscreen") : qgetenv("QT_QPA_PLATFORM"));
    QApplication app(argc, argv);
    const int rows = argc > 1 ? std::atoi(argv[1]) : 58;
    const int cols = argc > 2 ? std::atoi(argv[2]) : 256;
    const int reps = argc > 3 ? std::max(1, std::atoi(argv[3])) : 30;
    std::mt19937 rng(7);
    std::gamma_distribution<float> load(0.7f, 1.0f);
    std::vector<float> values(static_cast<size_t>(rows) * cols);
    for (float& v : values) v = load(rng);

    HeatmapWidget w;
    w.resize(1280, 800);
    w.setCellSize(4, 4);
    w.setMarks({{3, 2}, {100, 40}});
    w.setSelectedCell(10, 20);
    std::vector<double> tData, tFull, tView;
    for (int i = 0; i < reps; ++i) {
        QElapsedTimer t;
        t.start();
        w.setData(rows, cols, values);
        tData.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        const QImage img = w.renderFull();
        tFull.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        const QPixmap shot = w.viewport()->grab();
        tView.push_back(t.nsecsElapsed() / 1e6);
        if (img.isNull() || shot.isNull()) return 1;
    }
    const Stat a = stat(tData), b = stat(tFull), c = stat(tView);
    std::printf("heatmap %d x %d, %d repeats (ms: median / max)\n", rows, cols, reps);
    std::printf("  setData (colour mapping)      %7.2f / %7.2f\n", a.median, a.max);
    std::printf("  full render at 4 px cells     %7.2f / %7.2f\n", b.median, b.max);
    std::printf("  viewport repaint 1280x800     %7.2f / %7.2f\n", c.median, c.max);
    std::printf("  setData + full render         %7.2f (target < 100 ms)\n", a.median + b.median);
    return 0;
}
