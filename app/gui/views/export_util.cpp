#include "app/gui/views/export_util.h"

#include <QAbstractItemModel>
#include <QBuffer>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QImage>
#include <QPainter>
#include <QPushButton>
#include <QSaveFile>
#include <QSvgGenerator>

namespace moescope::gui {

namespace {

QString csvField(const QString& s) {
    if (!s.contains(QLatin1Char(',')) && !s.contains(QLatin1Char('"')) && !s.contains(QLatin1Char('\n')) &&
        !s.contains(QLatin1Char('\r')))
        return s;
    QString q = s;
    q.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + q + QLatin1Char('"');
}

QString cellText(const QAbstractItemModel* m, const QModelIndex& idx) {
    const QVariant raw = m->data(idx, Qt::UserRole);
    const QVariant v = raw.isValid() ? raw : m->data(idx, Qt::DisplayRole);
    if (v.typeId() == QMetaType::Double || v.typeId() == QMetaType::Float)
        return QString::number(v.toDouble(), 'g', 9);
    return v.toString();
}

QString writeAll(const QString& path, const QByteArray& bytes) {
    QSaveFile f(path);  // atomic: a failed export never leaves a truncated file behind
    if (!f.open(QIODevice::WriteOnly)) return QStringLiteral("%1: cannot write: %2").arg(path, f.errorString());
    if (f.write(bytes) != bytes.size()) return QStringLiteral("%1: write failed: %2").arg(path, f.errorString());
    if (!f.commit()) return QStringLiteral("%1: cannot save: %2").arg(path, f.errorString());
    return {};
}

}  // namespace

QString savePng(QWidget* widget, const QString& path) {
    if (!widget) return QStringLiteral("%1: nothing to export").arg(path);
    const QSize size = widget->size().expandedTo(QSize(16, 16));
    QImage image(size, QImage::Format_ARGB32_Premultiplied);
    image.fill(widget->palette().color(QPalette::Window));
    {
        QPainter p(&image);
        widget->render(&p);
    }
    QByteArray bytes;
    {
        QBuffer buf(&bytes);
        buf.open(QIODevice::WriteOnly);
        if (!image.save(&buf, "PNG")) return QStringLiteral("%1: PNG encoding failed").arg(path);
    }
    return writeAll(path, bytes);
}

QString saveSvg(QWidget* widget, const QString& path, const QString& title) {
    if (!widget) return QStringLiteral("%1: nothing to export").arg(path);
    QByteArray bytes;
    {
        QBuffer buf(&bytes);
        buf.open(QIODevice::WriteOnly);
        QSvgGenerator gen;
        gen.setOutputDevice(&buf);
        gen.setSize(widget->size());
        gen.setViewBox(QRect(QPoint(0, 0), widget->size()));
        gen.setTitle(title.isEmpty() ? widget->objectName() : title);
        gen.setDescription(QStringLiteral("exported by moescope"));
        QPainter p(&gen);
        widget->render(&p);
    }
    if (bytes.isEmpty()) return QStringLiteral("%1: SVG rendering produced nothing").arg(path);
    return writeAll(path, bytes);
}

QString toCsv(const QAbstractItemModel* model) {
    if (!model) return {};
    QString out;
    const int cols = model->columnCount();
    for (int c = 0; c < cols; ++c) {
        if (c) out += QLatin1Char(',');
        out += csvField(model->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString());
    }
    out += QLatin1String("\r\n");
    for (int r = 0; r < model->rowCount(); ++r) {
        for (int c = 0; c < cols; ++c) {
            if (c) out += QLatin1Char(',');
            out += csvField(cellText(model, model->index(r, c)));
        }
        out += QLatin1String("\r\n");
    }
    return out;
}

QString saveCsv(const QAbstractItemModel* model, const QString& path) {
    if (!model) return QStringLiteral("%1: nothing to export").arg(path);
    return writeAll(path, toCsv(model).toUtf8());
}

ExportBar::ExportBar(const QString& baseName, QWidget* chart, const QAbstractItemModel* model, QWidget* parent)
    : QWidget(parent), base_(baseName), chart_(chart), model_(model) {
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addStretch(1);
    auto make = [&](const QString& text, const QString& kind) {
        auto* b = new QPushButton(text, this);
        b->setObjectName(QStringLiteral("export") + kind);
        b->setToolTip(tr("Export as %1").arg(kind));
        connect(b, &QPushButton::clicked, this, [this, kind] { ask(kind); });
        layout->addWidget(b);
        return b;
    };
    png_ = make(tr("PNG…"), QStringLiteral("PNG"));
    svg_ = make(tr("SVG…"), QStringLiteral("SVG"));
    csv_ = make(tr("CSV…"), QStringLiteral("CSV"));
    setChart(chart);
    setModel(model);
}

void ExportBar::setChart(QWidget* chart) {
    chart_ = chart;
    png_->setVisible(chart != nullptr);
    svg_->setVisible(chart != nullptr);
}

void ExportBar::setModel(const QAbstractItemModel* model) {
    model_ = model;
    csv_->setVisible(model != nullptr);
}

void ExportBar::ask(const QString& kind) {
    const QString ext = kind.toLower();
    const QString path = QFileDialog::getSaveFileName(this, tr("Export %1").arg(kind), base_ + QLatin1Char('.') + ext,
                                                      tr("%1 files (*.%2)").arg(kind, ext));
    if (path.isEmpty()) return;
    QString err;
    if (kind == QLatin1String("PNG")) err = savePng(chart_, path);
    else if (kind == QLatin1String("SVG")) err = saveSvg(chart_, path, base_);
    else err = saveCsv(model_, path);
    if (err.isEmpty()) emit exported(path);
    else emit exportFailed(err);
}

}  // namespace moescope::gui
