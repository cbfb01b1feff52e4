#pragma once
// Layout helper the analysis views share: a chart or table with its export bar above it.
#include <QVBoxLayout>
#include <QWidget>

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

}  // namespace moescope::gui
