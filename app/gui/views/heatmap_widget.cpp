#include "app/gui/views/heatmap_widget.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>
#include <limits>

namespace moescope::gui {

namespace {

constexpr int kMinCell = 1;
constexpr int kMaxCell = 64;

QColor mix(const QColor& a, const QColor& b, double t) {
    t = std::clamp(t, 0.0, 1.0);
    return QColor::fromRgbF(static_cast<float>(a.redF() + (b.redF() - a.redF()) * t),
                            static_cast<float>(a.greenF() + (b.greenF() - a.greenF()) * t),
                            static_cast<float>(a.blueF() + (b.blueF() - a.blueF()) * t));
}

}  // namespace

HeatmapWidget::HeatmapWidget(QWidget* parent) : QAbstractScrollArea(parent) {
    setMouseTracking(true);
    viewport()->setMouseTracking(true);
    viewport()->setAttribute(Qt::WA_OpaquePaintEvent);
}

void HeatmapWidget::setData(int rows, int cols, std::vector<float> values, Scale scale) {
    if (rows < 0 || cols < 0 || values.size() != static_cast<size_t>(rows) * static_cast<size_t>(cols)) {
        rows = cols = 0;
        values.clear();
    }
    rows_ = rows;
    cols_ = cols;
    values_ = std::move(values);
    scale_ = scale;
    if (selected_.x() >= cols_ || selected_.y() >= rows_) selected_ = {-1, -1};
    rebuildImage();
    if (autoFit_) fit();
    updateScrollBars();
    viewport()->update();
}

void HeatmapWidget::setRange(float lo, float hi) {
    fixedRange_ = true;
    lo_ = lo;
    hi_ = hi > lo ? hi : lo + 1.0f;
    rebuildImage();
    viewport()->update();
}

void HeatmapWidget::clearRange() {
    fixedRange_ = false;
    rebuildImage();
    viewport()->update();
}

void HeatmapWidget::setAxisTitles(const QString& rows, const QString& cols) {
    rowTitle_ = rows;
    colTitle_ = cols;
    viewport()->update();
}

void HeatmapWidget::setMarks(const std::vector<QPoint>& cells) {
    marks_ = cells;
    viewport()->update();
}

float HeatmapWidget::value(int row, int col) const {
    if (row < 0 || col < 0 || row >= rows_ || col >= cols_) return std::numeric_limits<float>::quiet_NaN();
    return values_[static_cast<size_t>(row) * static_cast<size_t>(cols_) + static_cast<size_t>(col)];
}

QColor HeatmapWidget::colorOf(float v) const {
    if (std::isnan(v)) return palette().color(QPalette::Base);
    switch (scale_) {
        case Scale::Categorical: {
            // Golden-ratio hue steps keep neighbouring ids (experts 3 and 4) far apart in colour.
            const long id = std::lround(v);
            if (id < 0) return palette().color(QPalette::Base);
            const double hue = std::fmod(0.11 + static_cast<double>(id) * 0.618033988749895, 1.0);
            return QColor::fromHsvF(static_cast<float>(hue), 0.65f, 0.92f);
        }
        case Scale::Diverging: {
            const float m = std::max(std::fabs(lo_), std::fabs(hi_));
            const double t = m > 0 ? static_cast<double>(v) / m : 0.0;
            const QColor white(247, 247, 247), blue(33, 102, 172), red(178, 24, 43);
            return t < 0 ? mix(white, blue, -t) : mix(white, red, t);
        }
        case Scale::Sequential:
        default: {
            const double t = hi_ > lo_ ? (static_cast<double>(v) - lo_) / (hi_ - lo_) : 0.0;
            return mix(QColor(247, 251, 255), QColor(8, 48, 107), t);
        }
    }
}

void HeatmapWidget::rebuildImage() {
    if (!fixedRange_) {
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        for (float v : values_)
            if (!std::isnan(v)) lo = std::min(lo, v), hi = std::max(hi, v);
        if (!(lo <= hi)) lo = 0.0f, hi = 1.0f;
        if (hi == lo) hi = lo + 1.0f;
        lo_ = lo;
        hi_ = hi;
    }
    if (rows_ == 0 || cols_ == 0) {
        image_ = QImage();
        return;
    }
    image_ = QImage(cols_, rows_, QImage::Format_RGB32);
    for (int r = 0; r < rows_; ++r) {
        auto* line = reinterpret_cast<QRgb*>(image_.scanLine(r));
        const float* row = values_.data() + static_cast<size_t>(r) * static_cast<size_t>(cols_);
        for (int c = 0; c < cols_; ++c) line[c] = colorOf(row[c]).rgb();
    }
}

int HeatmapWidget::leftMargin() const {
    const QFontMetrics fm(font());
    int w = fm.horizontalAdvance(QString::number(std::max(rows_ - 1, 0)));
    const int step = std::max(1, static_cast<int>(rowLabels_.size() / 64));
    for (int i = 0; i < rowLabels_.size(); i += step) w = std::max(w, fm.horizontalAdvance(rowLabels_[i]));
    return std::min(w, 160) + 8;
}

int HeatmapWidget::labelStep(int cellPx) const {
    const int need = QFontMetrics(font()).height() + 2;
    int step = 1;
    while (step * std::max(cellPx, 1) < need) step *= 2;
    return step;
}

QRect HeatmapWidget::cellRect(int row, int col) const {
    return {leftMargin() + col * cellW_ - horizontalScrollBar()->value(), topMargin() + row * cellH_ - verticalScrollBar()->value(),
            cellW_, cellH_};
}

QPoint HeatmapWidget::cellAt(const QPoint& pos) const {
    const int x = pos.x() - leftMargin() + horizontalScrollBar()->value();
    const int y = pos.y() - topMargin() + verticalScrollBar()->value();
    if (x < 0 || y < 0 || pos.x() < leftMargin() || pos.y() < topMargin()) return {-1, -1};
    const int c = x / cellW_, r = y / cellH_;
    if (c >= cols_ || r >= rows_) return {-1, -1};
    return {c, r};
}

void HeatmapWidget::paintInto(QPainter& p, const QRect& area, int sx, int sy) const {
    p.fillRect(area, palette().color(QPalette::Window));
    if (image_.isNull()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(area, Qt::AlignCenter, tr("no data"));
        return;
    }
    const int left = leftMargin(), top = topMargin();
    const QRect plot(left, top, area.width() - left, area.height() - top);
    // Visible cell range, then one scaled blit of that sub-image.
    const int c0 = std::max(0, sx / cellW_), r0 = std::max(0, sy / cellH_);
    const int c1 = std::min(cols_, (sx + plot.width()) / cellW_ + 1), r1 = std::min(rows_, (sy + plot.height()) / cellH_ + 1);
    if (c1 > c0 && r1 > r0) {
        p.save();
        p.setClipRect(plot);
        p.setRenderHint(QPainter::SmoothPixmapTransform, false);
        const QRect target(left + c0 * cellW_ - sx, top + r0 * cellH_ - sy, (c1 - c0) * cellW_, (r1 - r0) * cellH_);
        p.drawImage(target, image_, QRect(c0, r0, c1 - c0, r1 - r0));
        auto rectOf = [&](int r, int c) { return QRect(left + c * cellW_ - sx, top + r * cellH_ - sy, cellW_, cellH_); };
        if (!marks_.empty()) {
            p.setPen(QPen(QColor(230, 120, 0), std::max(1, std::min(cellW_, cellH_) / 4)));
            p.setBrush(Qt::NoBrush);
            for (const QPoint& m : marks_)
                if (m.x() >= c0 && m.x() < c1 && m.y() >= r0 && m.y() < r1) p.drawRect(rectOf(m.y(), m.x()).adjusted(0, 0, -1, -1));
        }
        if (selected_.x() >= 0) {
            const QRect s = rectOf(selected_.y(), selected_.x());
            p.setPen(QPen(palette().color(QPalette::Highlight), 1, Qt::DashLine));
            p.drawLine(plot.left(), s.center().y(), plot.right(), s.center().y());
            p.drawLine(s.center().x(), plot.top(), s.center().x(), plot.bottom());
            p.setPen(QPen(palette().color(QPalette::Highlight), 2));
            p.drawRect(s.adjusted(0, 0, -1, -1));
        }
        p.restore();
    }
    // Labels: every n-th row/column so they never overlap.
    p.setPen(palette().color(QPalette::WindowText));
    const QFontMetrics fm(p.font());
    const int rs = labelStep(cellH_);
    for (int r = (r0 / rs) * rs; r < r1; r += rs) {
        const QString t = r < rowLabels_.size() ? rowLabels_[r] : QString::number(r);
        const int y = top + r * cellH_ - sy + cellH_ / 2 + fm.ascent() / 2;
        if (y > top) p.drawText(2, y, fm.elidedText(t, Qt::ElideRight, left - 6));
    }
    const int cs = std::max(labelStep(cellW_), (fm.horizontalAdvance(QStringLiteral("000")) + cellW_ - 1) / std::max(cellW_, 1));
    for (int c = (c0 / cs) * cs; c < c1; c += cs) {
        const QString t = c < colLabels_.size() ? colLabels_[c] : QString::number(c);
        const int x = left + c * cellW_ - sx;
        if (x >= left) p.drawText(x, top - 4, t);
    }
    if (!rowTitle_.isEmpty() || !colTitle_.isEmpty())
        p.drawText(QRect(0, 0, left, top), Qt::AlignLeft | Qt::AlignVCenter, colTitle_.isEmpty() ? rowTitle_ : rowTitle_ + QStringLiteral(" \\ ") + colTitle_);
}

void HeatmapWidget::paintEvent(QPaintEvent*) {
    QPainter p(viewport());
    paintInto(p, viewport()->rect(), horizontalScrollBar()->value(), verticalScrollBar()->value());
}

QImage HeatmapWidget::renderFull() const {
    const QSize size(leftMargin() + cols_ * cellW_ + 2, topMargin() + rows_ * cellH_ + 2);
    QImage img(size, QImage::Format_ARGB32_Premultiplied);
    QPainter p(&img);
    p.setFont(font());
    paintInto(p, QRect(QPoint(0, 0), size), 0, 0);
    return img;
}

void HeatmapWidget::updateScrollBars() {
    const QSize vp = viewport()->size();
    const int w = leftMargin() + cols_ * cellW_, h = topMargin() + rows_ * cellH_;
    horizontalScrollBar()->setRange(0, std::max(0, w - vp.width()));
    verticalScrollBar()->setRange(0, std::max(0, h - vp.height()));
    horizontalScrollBar()->setPageStep(vp.width());
    verticalScrollBar()->setPageStep(vp.height());
    horizontalScrollBar()->setSingleStep(std::max(1, cellW_));
    verticalScrollBar()->setSingleStep(std::max(1, cellH_));
}

void HeatmapWidget::resizeEvent(QResizeEvent* e) {
    QAbstractScrollArea::resizeEvent(e);
    if (autoFit_) fit();
    updateScrollBars();
}

void HeatmapWidget::applyCellSize(int w, int h) {
    cellW_ = std::clamp(w, kMinCell, kMaxCell);
    cellH_ = std::clamp(h, kMinCell, kMaxCell);
    updateScrollBars();
    viewport()->update();
}

// A size set by hand (or by the zoom buttons / Ctrl+wheel) ends auto-fit.
void HeatmapWidget::setCellSize(int w, int h) {
    autoFit_ = false;
    applyCellSize(w, h);
}

void HeatmapWidget::zoomIn() { setCellSize(cellW_ + std::max(1, cellW_ / 4), cellH_ + std::max(1, cellH_ / 4)); }
void HeatmapWidget::zoomOut() { setCellSize(cellW_ - std::max(1, cellW_ / 5), cellH_ - std::max(1, cellH_ / 5)); }

void HeatmapWidget::zoomToFit() {
    autoFit_ = true;
    fit();
}

void HeatmapWidget::setAutoFit(bool on) {
    autoFit_ = on;
    if (on) fit();
}

void HeatmapWidget::fit() {
    if (rows_ == 0 || cols_ == 0) return;
    const QSize vp = viewport()->size();
    applyCellSize(std::min(kFitMaxCell, std::max(kMinCell, (vp.width() - leftMargin()) / cols_)),
                  std::min(kFitMaxCell, std::max(kMinCell, (vp.height() - topMargin()) / rows_)));
}

void HeatmapWidget::setSelectedCell(int row, int col) {
    const QPoint s = (row >= 0 && col >= 0 && row < rows_ && col < cols_) ? QPoint(col, row) : QPoint(-1, -1);
    if (s == selected_) return;
    selected_ = s;
    viewport()->update();
}

void HeatmapWidget::mouseMoveEvent(QMouseEvent* e) {
    const QPoint c = cellAt(e->position().toPoint());
    if (c != hovered_) {
        hovered_ = c;
        emit cellHovered(c.y(), c.x());
    }
    QAbstractScrollArea::mouseMoveEvent(e);
}

void HeatmapWidget::mousePressEvent(QMouseEvent* e) {
    const QPoint c = cellAt(e->position().toPoint());
    if (e->button() == Qt::LeftButton && c.x() >= 0) {
        setSelectedCell(c.y(), c.x());
        emit cellClicked(c.y(), c.x());
    }
    QAbstractScrollArea::mousePressEvent(e);
}

void HeatmapWidget::leaveEvent(QEvent* e) {
    if (hovered_.x() >= 0) {
        hovered_ = {-1, -1};
        emit cellHovered(-1, -1);
    }
    QAbstractScrollArea::leaveEvent(e);
}

void HeatmapWidget::wheelEvent(QWheelEvent* e) {
    if (e->modifiers() & Qt::ControlModifier) {
        e->angleDelta().y() > 0 ? zoomIn() : zoomOut();
        e->accept();
        return;
    }
    QAbstractScrollArea::wheelEvent(e);
}

bool HeatmapWidget::viewportEvent(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        const QPoint c = cellAt(he->pos());
        if (c.x() < 0) {
            QToolTip::hideText();
            return true;
        }
        const float v = value(c.y(), c.x());
        const QString text = tooltip_ ? tooltip_(c.y(), c.x(), v)
                                      : tr("row %1 · col %2 · %3").arg(c.y()).arg(c.x()).arg(static_cast<double>(v), 0, 'g', 4);
        QToolTip::showText(he->globalPos(), text, viewport(), cellRect(c.y(), c.x()));
        return true;
    }
    return QAbstractScrollArea::viewportEvent(e);
}

}  // namespace moescope::gui
