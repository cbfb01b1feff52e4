#pragma once
// HeatmapWidget: a QPainter heatmap for large matrices (issue 11: 58 layers x 256 experts must render
// in < 100 ms; QtCharts has no heatmap and would need one item per cell). The matrix is mapped to
// colours once into a QImage of rows x cols pixels when the data changes; painting only scales the
// visible part of that image, so a repaint costs the same for 4 x 8 and 58 x 256.
// Zoom (Ctrl+wheel, zoomIn/zoomOut/zoomToFit), scroll, hover tooltip, click -> cellClicked, an outline
// for "marked" cells (e.g. detected super experts) and a crosshair for the selected cell.
#include <QAbstractScrollArea>
#include <QImage>
#include <QStringList>
#include <functional>
#include <vector>

namespace moescope::gui {

class HeatmapWidget : public QAbstractScrollArea {
    Q_OBJECT
public:
    enum class Scale {
        Sequential,   // lo..hi: light -> dark blue
        Diverging,    // -m..0..+m (m = max |value|): blue - white - red
        Categorical,  // value = integer category (e.g. an expert id): one stable hue per category
    };

    explicit HeatmapWidget(QWidget* parent = nullptr);

    // values: [rows * cols] row-major; NaN = no data (drawn as the background).
    void setData(int rows, int cols, std::vector<float> values, Scale scale = Scale::Sequential);
    void setRange(float lo, float hi);  // fixes the colour range (Sequential); default: data min..max
    void clearRange();
    void setRowLabels(const QStringList& labels) { rowLabels_ = labels; viewport()->update(); }
    void setColumnLabels(const QStringList& labels) { colLabels_ = labels; viewport()->update(); }
    void setAxisTitles(const QString& rows, const QString& cols);
    void setMarks(const std::vector<QPoint>& cells);  // QPoint(col, row) outlined
    // Tooltip text for a cell; default "row r · col c · value".
    void setTooltip(std::function<QString(int row, int col, float value)> fn) { tooltip_ = std::move(fn); }

    int rows() const { return rows_; }
    int cols() const { return cols_; }
    float value(int row, int col) const;
    Scale scale() const { return scale_; }
    QColor colorOf(float value) const;  // the colour a value is drawn with (tests, legends)
    const QImage& cellImage() const { return image_; }  // rows x cols, one pixel per cell

    // Auto-fit: the cells follow the viewport (on new data and on resize, capped at kFitMaxCell px) until
    // the user zooms by hand; zoomToFit() turns it back on. Off by default (views whose matrices are
    // long, like tokens x layers, scroll instead).
    void setAutoFit(bool on);
    bool autoFit() const { return autoFit_; }
    static constexpr int kFitMaxCell = 40;

    int cellWidth() const { return cellW_; }
    int cellHeight() const { return cellH_; }
    QPoint cellAt(const QPoint& viewportPos) const;  // (col, row) or (-1, -1)
    QRect cellRect(int row, int col) const;          // viewport coordinates
    QPoint selectedCell() const { return selected_; }

    // Renders the whole heatmap (labels included) into an image of its natural size: the benchmark's
    // and the exporters' path, independent of the window size.
    QImage renderFull() const;

public slots:
    void setCellSize(int w, int h);
    void zoomIn();
    void zoomOut();
    void zoomToFit();
    void setSelectedCell(int row, int col);  // (-1, -1) clears

signals:
    void cellClicked(int row, int col);
    void cellHovered(int row, int col);  // (-1, -1) when leaving

protected:
    void paintEvent(QPaintEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void leaveEvent(QEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    bool viewportEvent(QEvent*) override;
    QSize sizeHint() const override { return {640, 360}; }

private:
    void rebuildImage();
    void applyCellSize(int w, int h);
    void fit();
    void updateScrollBars();
    void paintInto(QPainter& p, const QRect& area, int scrollX, int scrollY) const;
    int leftMargin() const;
    int topMargin() const { return 18; }
    int labelStep(int cellPx) const;

    int rows_ = 0, cols_ = 0;
    std::vector<float> values_;
    Scale scale_ = Scale::Sequential;
    bool fixedRange_ = false;
    float lo_ = 0.0f, hi_ = 1.0f;
    QImage image_;
    QStringList rowLabels_, colLabels_;
    QString rowTitle_, colTitle_;
    std::vector<QPoint> marks_;
    QPoint selected_{-1, -1};
    QPoint hovered_{-1, -1};
    int cellW_ = 8, cellH_ = 8;
    bool autoFit_ = false;
    std::function<QString(int, int, float)> tooltip_;
};

}  // namespace moescope::gui
