// TranscriptView: tokens as anchors ("t<row>") in a rich-text document, appended at the end while
// streaming (no re-layout of what is already there).
#include "app/gui/transcript_view.h"

#include <QContextMenuEvent>
#include <QMenu>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>

namespace moescope::gui {

TranscriptView::TranscriptView(QWidget* parent) : QTextBrowser(parent) {
    setObjectName("transcriptView");
    setOpenLinks(false);
    setOpenExternalLinks(false);
    setMouseTracking(true);
    viewport()->setMouseTracking(true);
    setPlaceholderText(tr("The model's output streams here. Hover a token to see its experts in the grid; "
                          "right-click a generated token to branch."));
}

void TranscriptView::clearTranscript() {
    clear();
    pieces_.clear();
    promptTokens_ = 0;
    hovered_ = -1;
}

void TranscriptView::setPrompt(const QStringList& pieces, int promptTokens) {
    clearTranscript();
    promptTokens_ = promptTokens;
    for (int i = 0; i < pieces.size(); ++i) {
        if (i == promptTokens) insertPiece(-1, QString(), false, false);  // paragraph break after the prompt
        insertPiece(i, pieces[i], i < promptTokens, false);
        pieces_ << pieces[i];
    }
    if (pieces.size() == promptTokens) insertPiece(-1, QString(), false, false);
}

void TranscriptView::appendToken(int row, const QString& piece, bool highlighted) {
    while (pieces_.size() < row) pieces_ << QString();
    pieces_ << piece;
    insertPiece(row, piece, row < promptTokens_, highlighted);
}

void TranscriptView::insertPiece(int row, const QString& piece, bool prompt, bool highlighted) {
    const bool atEnd = verticalScrollBar()->value() >= verticalScrollBar()->maximum() - 4;
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    if (row < 0) {
        c.insertBlock();
        return;
    }
    QTextCharFormat f;
    f.setAnchor(true);
    f.setAnchorHref(QStringLiteral("t%1").arg(row));
    f.setToolTip(QStringLiteral("token %1%2").arg(row - promptTokens_).arg(prompt ? tr(" (prompt)") : QString()));
    if (prompt) f.setForeground(palette().color(QPalette::PlaceholderText));
    if (highlighted) {
        f.setBackground(QColor(255, 200, 80, 150));
        f.setFontWeight(QFont::DemiBold);
    }
    // Make whitespace-only and empty pieces visible enough to hover.
    QString text = piece;
    if (text.isEmpty()) text = QStringLiteral("∅");
    c.insertText(text, f);
    if (atEnd) verticalScrollBar()->setValue(verticalScrollBar()->maximum());
}

void TranscriptView::addMarker(const QString& text) {
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    QTextCharFormat f;
    f.setForeground(QColor(200, 90, 0));
    f.setFontItalic(true);
    f.setToolTip(text);
    c.insertText(QStringLiteral(" ⟦%1⟧ ").arg(text), f);
}

void TranscriptView::addNote(const QString& text) {
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    QTextCharFormat f;
    f.setForeground(palette().color(QPalette::PlaceholderText));
    c.insertText(QStringLiteral("  [%1]").arg(text), f);
}

QString TranscriptView::plainTextOfGenerated() const {
    return pieces_.mid(promptTokens_).join(QString());
}

int TranscriptView::rowAt(const QPoint& p) const {
    const QString href = anchorAt(p);
    if (!href.startsWith('t')) return -1;
    bool ok = false;
    const int row = href.mid(1).toInt(&ok);
    return ok ? row : -1;
}

QRect TranscriptView::tokenRect(int row) const {
    const QString href = QStringLiteral("t%1").arg(row);
    for (QTextBlock b = document()->begin(); b.isValid(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextFragment frag = it.fragment();
            if (frag.charFormat().anchorHref() != href) continue;
            QTextCursor c(document());
            c.setPosition(frag.position() + (frag.length() > 1 ? 1 : 0));
            return cursorRect(c);
        }
    return {};
}

void TranscriptView::mouseMoveEvent(QMouseEvent* e) {
    QTextBrowser::mouseMoveEvent(e);
    const int row = rowAt(e->position().toPoint());
    if (row != hovered_) {
        hovered_ = row;
        emit tokenHovered(row);
    }
}

void TranscriptView::leaveEvent(QEvent* e) {
    QTextBrowser::leaveEvent(e);
    if (hovered_ != -1) {
        hovered_ = -1;
        emit tokenHovered(-1);
    }
}

void TranscriptView::mouseReleaseEvent(QMouseEvent* e) {
    QTextBrowser::mouseReleaseEvent(e);
    if (e->button() == Qt::LeftButton) {
        const int row = rowAt(e->position().toPoint());
        if (row >= 0) emit tokenClicked(row);
    }
}

void TranscriptView::contextMenuEvent(QContextMenuEvent* e) {
    const int row = rowAt(e->pos());
    QMenu* menu = createStandardContextMenu(e->pos());
    if (row >= promptTokens_ && row >= 0 && branching_) {
        menu->addSeparator();
        const int index = row - promptTokens_;
        menu->addAction(tr("Branch here (token %1) with the current grid").arg(index), this,
                        [this, index] { emit branchRequested(index); });
    }
    menu->exec(e->globalPos());
    delete menu;
}

}  // namespace moescope::gui
