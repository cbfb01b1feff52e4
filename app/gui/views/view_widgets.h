#pragma once
// Small helpers the analysis views share: a chart or table with its export bar above it; showing the
// run context's selected expert in a layers x experts heatmap and its ranking table; a progress bar
// callback for engine jobs.
#include <QAbstractItemModel>
#include <QProgressBar>
#include <QSignalBlocker>
#include <QTableView>
#include <QVBoxLayout>
#include <QWidget>
#include <algorithm>
#include <vector>

#include "app/gui/views/heatmap_widget.h"

namespace moescope::gui {

// `content` below its `bar` (an ExportBar), in one widget owned by `parent`.
inline QWidget* withBar(QWidget* parent, QWidget* bar, QWidget* content) {
    auto* w = new QWidget(parent);
    auto* l = new QVBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->addWidget(bar);
    l->addWidget(content, 1);
    return w;
}

// Expert (layer, expert) selected elsewhere: crosshair on its heatmap cell (row = the layer's index in
// moe_layers, none when the layer is not shown) and its table row selected (row = rowOf(layer, expert),
// -1 = not listed), without re-emitting the table's own selection signal.
template <class RowOf>
void showSelectedExpert(HeatmapWidget* heatmap, QTableView* table, const std::vector<int>& moe_layers, int layer,
                        int expert, RowOf rowOf) {
    const auto it = std::find(moe_layers.begin(), moe_layers.end(), layer);
    if (layer < 0 || it == moe_layers.end()) {
        heatmap->setSelectedCell(-1, -1);
        return;
    }
    heatmap->setSelectedCell(static_cast<int>(it - moe_layers.begin()), expert);
    const int r = rowOf(layer, expert);
    if (r >= 0 && table->currentIndex().row() != r) {
        const QSignalBlocker block(table->selectionModel());
        table->selectRow(r);
        table->scrollTo(table->model()->index(r, 0));
    }
}

// The progress callback of an engine job: done of total on `bar`.
inline auto progressTo(QProgressBar* bar) {
    return [bar](int done, int total) {
        bar->setRange(0, total);
        bar->setValue(done);
    };
}

}  // namespace moescope::gui
