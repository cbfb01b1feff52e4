// ExpertGridView: QPainter rendering and mouse handling of the live expert grid.
#include "app/gui/expert_grid_view.h"

#include <QContextMenuEvent>
#include <QHelpEvent>
#include <QMenu>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "app/gui/expert_grid_model.h"

namespace moescope::gui {

ExpertGridView::ExpertGridView(QWidget* parent) : QAbstractScrollArea(parent) {
    setObjectName("expertGridView");
    viewport()->setMouseTracking(true);
    viewport()->setAttribute(Qt::WA_OpaquePaintEvent);
    horizontalScrollBar()->setSingleStep(16);
    verticalScrollBar()->setSingleStep(16);
}

void ExpertGridView::setModel(ExpertGridModel* model) {
    if (model_) disconnect(model_, nullptr, this, nullptr);
    model_ = model;
    if (model_) {
        auto repaint = [this] { viewport()->update(); };
        connect(model_, &QAbstractItemModel::modelReset, this, [this] {
            hovered_ = selected_ = QPoint(-1, -1);
            zoomToFit();
        });
        connect(model_, &QAbstractItemModel::dataChanged, this, repaint);
        connect(model_, &QAbstractItemModel::headerDataChanged, this, [this] {
            updateScrollBars();
            viewport()->update();
        });
    }
    zoomToFit();
}

int ExpertGridView::headerLeft() const {
    // Room for "L57 k=16".
    return fontMetrics().horizontalAdvance(QStringLiteral("L00 k=00")) + 8;
}

int ExpertGridView::labelStep() const {
    const int need = fontMetrics().horizontalAdvance(QStringLiteral("000")) + 4;
    int step = 1;
    while (step * cell_ < need) step *= 2;
    return step;
}

void ExpertGridView::setCellSize(int px) {
    px = std::clamp(px, kMinCell, kMaxCell);
    if (px == cell_) return;
    cell_ = px;
    updateScrollBars();
    viewport()->update();
    emit zoomChanged(cell_);
}

void ExpertGridView::zoomToFit() {
    if (!model_ || model_->expertCount() == 0 || model_->layerCount() == 0) {
        updateScrollBars();
        viewport()->update();
        return;
    }
    const int w = viewport()->width() - headerLeft(), h = viewport()->height() - headerTop();
    const int fit = std::min(w / model_->expertCount(), h / model_->layerCount());
    // Never below the legible minimum: beyond that the user scrolls.
    setCellSize(std::max(fit, 6));
    updateScrollBars();
    viewport()->update();
}

void ExpertGridView::setSelectedCell(int row, int col) {
    selected_ = QPoint(col, row);
    viewport()->update();
}

void ExpertGridView::updateScrollBars() {
    const int cols = model_ ? model_->expertCount() : 0, rows = model_ ? model_->layerCount() : 0;
    const int contentW = headerLeft() + cols * cell_ + 1, contentH = headerTop() + rows * cell_ + 1;
    horizontalScrollBar()->setRange(0, std::max(0, contentW - viewport()->width()));
    verticalScrollBar()->setRange(0, std::max(0, contentH - viewport()->height()));
    horizontalScrollBar()->setPageStep(viewport()->width());
    verticalScrollBar()->setPageStep(viewport()->height());
}

QRect ExpertGridView::cellRect(int row, int col) const {
    return QRect(headerLeft() + col * cell_ - horizontalScrollBar()->value(),
                 headerTop() + row * cell_ - verticalScrollBar()->value(), cell_, cell_);
}

QPoint ExpertGridView::cellAt(const QPoint& p) const {
    if (!model_ || p.x() < headerLeft() || p.y() < headerTop()) return {-1, -1};
    const int col = (p.x() - headerLeft() + horizontalScrollBar()->value()) / cell_;
    const int row = (p.y() - headerTop() + verticalScrollBar()->value()) / cell_;
    if (col < 0 || row < 0 || col >= model_->expertCount() || row >= model_->layerCount()) return {-1, -1};
    return {col, row};
}

void ExpertGridView::resizeEvent(QResizeEvent* e) {
    QAbstractScrollArea::resizeEvent(e);
    updateScrollBars();
}

void ExpertGridView::paintEvent(QPaintEvent*) {
    QPainter p(viewport());
    const QPalette& pal = palette();
    p.fillRect(viewport()->rect(), pal.color(QPalette::Base));
    if (!model_ || model_->layerCount() == 0) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(viewport()->rect(), Qt::AlignCenter, tr("Load a model to see its experts"));
        return;
    }
    const int rows = model_->layerCount(), cols = model_->expertCount();
    const int x0 = horizontalScrollBar()->value(), y0 = verticalScrollBar()->value();
    const int firstCol = std::max(0, x0 / cell_), firstRow = std::max(0, y0 / cell_);
    const int lastCol = std::min(cols - 1, (x0 + viewport()->width() - headerLeft()) / cell_);
    const int lastRow = std::min(rows - 1, (y0 + viewport()->height() - headerTop()) / cell_);

    // Usage colour scale relative to the busiest expert, so a short generation is still readable.
    double maxUsage = 0.0;
    for (int r = firstRow; r <= lastRow; ++r)
        for (int c = firstCol; c <= lastCol; ++c) maxUsage = std::max(maxUsage, model_->usage(r, c));
    const QColor base = pal.color(QPalette::Base), hot = pal.color(QPalette::Highlight);
    const QColor pick(255, 140, 0), forced(40, 170, 80), offFill = pal.color(QPalette::Mid);
    const int gap = cell_ >= 6 ? 1 : 0;

    p.save();
    p.setClipRect(QRect(headerLeft(), headerTop(), viewport()->width(), viewport()->height()));
    for (int r = firstRow; r <= lastRow; ++r) {
        for (int c = firstCol; c <= lastCol; ++c) {
            const QRect rc = cellRect(r, c).adjusted(0, 0, -gap, -gap);
            const auto st = model_->state(r, c);
            if (st == ExpertGridModel::State::Disabled) {
                p.fillRect(rc, offFill);
                if (cell_ >= 6) {
                    p.setPen(QPen(QColor(200, 40, 40), 1));
                    p.drawLine(rc.topLeft(), rc.bottomRight());
                    p.drawLine(rc.topRight(), rc.bottomLeft());
                }
            } else {
                const double t = maxUsage > 0 ? std::sqrt(model_->usage(r, c) / maxUsage) : 0.0;
                QColor fill = QColor::fromRgbF(base.redF() + (hot.redF() - base.redF()) * t,
                                               base.greenF() + (hot.greenF() - base.greenF()) * t,
                                               base.blueF() + (hot.blueF() - base.blueF()) * t);
                if (st == ExpertGridModel::State::Forced) fill = forced;
                p.fillRect(rc, fill);
            }
            if (model_->bias(r, c) != 0.0f && cell_ >= 6) {
                const QColor tick = model_->bias(r, c) > 0 ? forced.darker(130) : QColor(200, 40, 40);
                p.fillRect(QRect(rc.topLeft(), QSize(std::max(2, cell_ / 4), std::max(2, cell_ / 4))), tick);
            }
            if (const float w = model_->currentWeight(r, c); w > 0.0f) {
                // Chosen by the current token: orange outline, inner square sized by the weight.
                p.setPen(QPen(pick, std::max(1, cell_ / 8)));
                p.setBrush(Qt::NoBrush);
                p.drawRect(rc.adjusted(0, 0, -1, -1));
                const int s = std::max(1, static_cast<int>(std::round(std::sqrt(std::min(w, 1.0f)) * (rc.width() - 2))));
                p.fillRect(QRect(rc.center() - QPoint(s / 2, s / 2), QSize(s, s)), pick);
                if (cell_ >= 30) {
                    p.setPen(pal.color(QPalette::Text));
                    p.drawText(rc, Qt::AlignBottom | Qt::AlignHCenter, QString::number(w, 'f', 2));
                }
            }
        }
    }
    for (const QPoint& mark : {selected_, hovered_}) {
        if (mark.x() < 0) continue;
        p.setPen(QPen(pal.color(QPalette::Text), mark == selected_ ? 2 : 1, mark == selected_ ? Qt::SolidLine : Qt::DotLine));
        p.setBrush(Qt::NoBrush);
        p.drawRect(cellRect(mark.y(), mark.x()).adjusted(0, 0, -1, -1));
    }
    p.restore();

    // Headers: expert numbers on top, layer labels (with top-k overrides) on the left.
    p.fillRect(QRect(0, 0, viewport()->width(), headerTop()), pal.color(QPalette::Window));
    p.fillRect(QRect(0, 0, headerLeft(), viewport()->height()), pal.color(QPalette::Window));
    p.setPen(pal.color(QPalette::WindowText));
    const int step = labelStep();
    p.setClipRect(QRect(headerLeft(), 0, viewport()->width(), headerTop()));
    for (int c = firstCol - firstCol % step; c <= lastCol; c += step) {
        const QRect rc = cellRect(0, c);
        p.drawText(QRect(rc.left(), 0, cell_ * step, headerTop()), Qt::AlignLeft | Qt::AlignVCenter, QString::number(c));
    }
    p.setClipRect(QRect(0, headerTop(), headerLeft(), viewport()->height()));
    const int rowStep = std::max(1, (fontMetrics().height() + cell_ - 1) / cell_);
    for (int r = firstRow - firstRow % rowStep; r <= lastRow; r += rowStep) {
        const QRect rc = cellRect(r, 0);
        QFont f = font();
        f.setBold(model_->layerTopK(r) > 0);
        p.setFont(f);
        p.drawText(QRect(2, rc.top(), headerLeft() - 4, std::max(cell_, fontMetrics().height())),
                   Qt::AlignRight | Qt::AlignTop, model_->headerData(r, Qt::Vertical).toString());
    }
}

void ExpertGridView::mouseMoveEvent(QMouseEvent* e) {
    const QPoint c = cellAt(e->position().toPoint());
    if (c != hovered_) {
        hovered_ = c;
        viewport()->update();
        emit cellHovered(c.y(), c.x());
    }
}

void ExpertGridView::leaveEvent(QEvent* e) {
    QAbstractScrollArea::leaveEvent(e);
    if (hovered_.x() >= 0) {
        hovered_ = QPoint(-1, -1);
        viewport()->update();
        emit cellHovered(-1, -1);
    }
}

void ExpertGridView::mousePressEvent(QMouseEvent* e) {
    const QPoint c = cellAt(e->position().toPoint());
    if (e->button() != Qt::LeftButton || c.x() < 0 || !model_) return QAbstractScrollArea::mousePressEvent(e);
    model_->cycleState(c.y(), c.x());
    emit cellClicked(c.y(), c.x());
}

void ExpertGridView::wheelEvent(QWheelEvent* e) {
    if (e->modifiers() & Qt::ControlModifier) {
        e->angleDelta().y() > 0 ? zoomIn() : zoomOut();
        e->accept();
        return;
    }
    QAbstractScrollArea::wheelEvent(e);
}

bool ExpertGridView::viewportEvent(QEvent* e) {
    if (e->type() == QEvent::ToolTip && model_) {
        auto* he = static_cast<QHelpEvent*>(e);
        const QPoint c = cellAt(he->pos());
        if (c.x() >= 0) {
            QToolTip::showText(he->globalPos(), model_->cellToolTip(c.y(), c.x()), viewport(), cellRect(c.y(), c.x()));
        } else if (he->pos().x() < headerLeft() && he->pos().y() >= headerTop()) {
            const int row = (he->pos().y() - headerTop() + verticalScrollBar()->value()) / cell_;
            if (row < model_->layerCount()) QToolTip::showText(he->globalPos(), model_->headerData(row, Qt::Vertical, Qt::ToolTipRole).toString(), viewport());
        } else {
            QToolTip::hideText();
        }
        return true;
    }
    return QAbstractScrollArea::viewportEvent(e);
}

void ExpertGridView::contextMenuEvent(QContextMenuEvent* e) {
    if (!model_ || model_->layerCount() == 0) return;
    const QPoint vp = viewport()->mapFrom(this, e->pos());
    if (vp.y() < headerTop()) return;
    const int row = (vp.y() - headerTop() + verticalScrollBar()->value()) / cell_;
    if (row < 0 || row >= model_->layerCount()) return;
    QMenu menu(this);
    QMenu* topk = menu.addMenu(tr("Top-k for layer %1").arg(model_->layerOfRow(row)));
    const int current = model_->layerTopK(row);
    QAction* def = topk->addAction(tr("Model default (%1)").arg(model_->defaultTopK()));
    def->setCheckable(true);
    def->setChecked(current == 0);
    connect(def, &QAction::triggered, this, [this, row] { model_->setLayerTopK(row, 0); });
    const int maxK = std::min(model_->expertCount(), std::max(8, 2 * model_->defaultTopK()));
    for (int k = 1; k <= maxK; ++k) {
        QAction* a = topk->addAction(QString::number(k));
        a->setCheckable(true);
        a->setChecked(current == k);
        connect(a, &QAction::triggered, this, [this, row, k] { model_->setLayerTopK(row, k); });
    }
    menu.addAction(tr("Reset layer %1").arg(model_->layerOfRow(row)), this, [this, row] {
        for (int c = 0; c < model_->expertCount(); ++c) model_->setState(row, c, ExpertGridModel::State::Normal);
        model_->setLayerTopK(row, 0);
    });
    menu.exec(e->globalPos());
}

}  // namespace moescope::gui
