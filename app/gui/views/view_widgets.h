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

#include "app/gui/run_context.h"
#include "app/gui/views/heatmap_widget.h"
#include "app/gui/views/view_hub.h"

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

// The other direction: a click on a layers x experts heatmap cell, or a new current row of its ranking
// table, selects that expert in the run context. layers() gives the MoE layers the heatmap rows show
// (nullptr while there is no result), expertOfRow(row) the (layer, expert) pair of a table row.
template <class Layers, class ExpertOfRow>
void selectExpertsFrom(QObject* owner, ViewHub* hub, HeatmapWidget* heatmap, QTableView* table, Layers layers,
                       ExpertOfRow expertOfRow) {
    QObject::connect(heatmap, &HeatmapWidget::cellClicked, owner, [hub, layers](int row, int col) {
        const std::vector<int>* L = layers();
        if (!L || row < 0 || row >= static_cast<int>(L->size()) || !hub->context) return;
        hub->context->selectExpert((*L)[static_cast<size_t>(row)], col);
    });
    QObject::connect(table->selectionModel(), &QItemSelectionModel::currentRowChanged, owner,
                     [hub, expertOfRow](const QModelIndex& cur) {
                         if (!cur.isValid() || !hub->context) return;
                         const auto [layer, expert] = expertOfRow(cur.row());
                         hub->context->selectExpert(layer, expert);
                     });
}

// The progress callback of an engine job: done of total on `bar`.
inline auto progressTo(QProgressBar* bar) {
    return [bar](int done, int total) {
        bar->setRange(0, total);
        bar->setValue(done);
    };
}

}  // namespace moescope::gui
