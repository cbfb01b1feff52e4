#pragma once
// ExpertGridView: paints the layers x experts grid of an ExpertGridModel with QPainter, only the
// visible cells, so 58 x 256 stays cheap. Zoom (Ctrl+wheel, zoomIn/zoomOut/fit), scroll, hover tooltip,
// click cycles normal -> disabled -> forced, right-click sets the layer's top-k.
// Colour: cell fill = share of tokens that chose the expert; outline + dot = weight for the current or
// hovered token; grey with a cross = disabled; green = forced; a small corner tick = router bias.
#include <QAbstractScrollArea>
#include <QPointer>

namespace moescope::gui {

class ExpertGridModel;

class ExpertGridView : public QAbstractScrollArea {
    Q_OBJECT
public:
    explicit ExpertGridView(QWidget* parent = nullptr);

    void setModel(ExpertGridModel* model);
    ExpertGridModel* model() const { return model_; }

    int cellSize() const { return cell_; }
    static constexpr int kMinCell = 3;
    static constexpr int kMaxCell = 48;
    // (row, col) of the cell under a viewport point, or (-1, -1).
    QPoint cellAt(const QPoint& viewportPos) const;
    // Viewport rectangle of a cell (may lie outside the visible area).
    QRect cellRect(int row, int col) const;
    QPoint hoveredCell() const { return hovered_; }

public slots:
    void setCellSize(int px);
    void zoomIn() { setCellSize(cell_ + std::max(1, cell_ / 4)); }
    void zoomOut() { setCellSize(cell_ - std::max(1, cell_ / 5)); }
    void zoomToFit();
    void setSelectedCell(int row, int col);  // from RunContext: outlined

signals:
    void cellHovered(int row, int col);  // (-1, -1) when the pointer leaves the grid
    void cellClicked(int row, int col);  // after the state was cycled
    void zoomChanged(int cellSize);

protected:
    void paintEvent(QPaintEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void leaveEvent(QEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    bool viewportEvent(QEvent*) override;
    void contextMenuEvent(QContextMenuEvent*) override;
    QSize sizeHint() const override { return {640, 420}; }

private:
    void updateScrollBars();
    int headerLeft() const;
    int headerTop() const { return 16; }
    int labelStep() const;  // label every n-th expert/layer so labels never overlap

    QPointer<ExpertGridModel> model_;
    int cell_ = 12;
    QPoint hovered_{-1, -1};
    QPoint selected_{-1, -1};
};

}  // namespace moescope::gui
