#pragma once
// Export of what a view shows (issue 11): every chart to PNG and SVG, every table to CSV.
// The save functions return "" on success, else a message naming the file and the reason; they never
// throw. ExportBar is the row of "PNG… / SVG… / CSV…" buttons a view puts above its chart or table.
#include <QString>
#include <QWidget>
#include <QPointer>

class QAbstractItemModel;

namespace moescope::gui {

// Renders `widget` (a chart view, a heatmap, any QWidget) at its current size.
QString savePng(QWidget* widget, const QString& path);
QString saveSvg(QWidget* widget, const QString& path, const QString& title = QString());

// RFC 4180 CSV of the model's DisplayRole: a header row from headerData(Horizontal), then one line per
// row; numbers as displayed unless the item has Qt::UserRole data (then that raw value is written, so
// exports keep full precision while the table shows rounded numbers).
QString toCsv(const QAbstractItemModel* model);
QString saveCsv(const QAbstractItemModel* model, const QString& path);

class ExportBar : public QWidget {
    Q_OBJECT
public:
    // `baseName` seeds the file dialog ("ftri_ranking"); chart and/or model may be null (buttons hidden).
    ExportBar(const QString& baseName, QWidget* chart, const QAbstractItemModel* model, QWidget* parent = nullptr);
    void setChart(QWidget* chart);
    void setModel(const QAbstractItemModel* model);

signals:
    void exported(const QString& path);
    void exportFailed(const QString& message);

private:
    void ask(const QString& kind);
    QString base_;
    QPointer<QWidget> chart_;
    const QAbstractItemModel* model_;
    QWidget* png_;
    QWidget* svg_;
    QWidget* csv_;
};

}  // namespace moescope::gui
