// TranscriptView: tokens as anchors ("t<row>") in a rich-text document, appended at the end while
// streaming (no re-layout of what is already there).
#include "app/gui/transcript_view.h"

#include <QContextMenuEvent>
#include <QMenu>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QTimer>

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
    pending_.clear();
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
    queue({row, piece, prompt, highlighted});
}

void TranscriptView::addMarker(const QString& text) { queue({-2, text, false, false}); }
void TranscriptView::addNote(const QString& text) { queue({-3, text, false, false}); }

// Streaming appends are queued and written once per event-loop pass: all generated tokens share one
// paragraph, and laying it out again per token would make a fast model stall the UI.
void TranscriptView::queue(Pending p) {
    pending_.push_back(std::move(p));
    if (pending_.size() == 1) QTimer::singleShot(0, this, &TranscriptView::flush);
}

void TranscriptView::flush() {
    if (pending_.empty()) return;
    const bool follow = verticalScrollBar()->value() >= verticalScrollBar()->maximum() - 4;
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    c.beginEditBlock();
    for (const Pending& p : pending_) write(p, c);
    c.endEditBlock();
    pending_.clear();
    if (follow) verticalScrollBar()->setValue(verticalScrollBar()->maximum());
}

void TranscriptView::write(const Pending& p, QTextCursor& c) {
    if (p.row == -1) {
        c.insertBlock();
        return;
    }
    QTextCharFormat f;
    if (p.row == -2) {
        f.setForeground(QColor(200, 90, 0));
        f.setFontItalic(true);
        f.setToolTip(p.text);
        c.insertText(QStringLiteral(" ⟦%1⟧ ").arg(p.text), f);
        return;
    }
    if (p.row == -3) {
        f.setForeground(palette().color(QPalette::PlaceholderText));
        c.insertText(QStringLiteral("  [%1]").arg(p.text), f);
        return;
    }
    f.setAnchor(true);
    f.setAnchorHref(QStringLiteral("t%1").arg(p.row));
    f.setToolTip(QStringLiteral("token %1%2").arg(p.row - promptTokens_).arg(p.prompt ? tr(" (prompt)") : QString()));
    if (p.prompt) f.setForeground(palette().color(QPalette::PlaceholderText));
    if (p.highlighted) {
        f.setBackground(QColor(255, 200, 80, 150));
        f.setFontWeight(QFont::DemiBold);
    }
    // Make empty pieces visible enough to hover.
    c.insertText(p.text.isEmpty() ? QStringLiteral("∅") : p.text, f);
}

QString TranscriptView::plainTextOfGenerated() const {
    const_cast<TranscriptView*>(this)->flush();
    return pieces_.mid(promptTokens_).join(QString());
}

int TranscriptView::rowAt(const QPoint& p) const {
    const_cast<TranscriptView*>(this)->flush();
    const QString href = anchorAt(p);
    if (!href.startsWith('t')) return -1;
    bool ok = false;
    const int row = href.mid(1).toInt(&ok);
    return ok ? row : -1;
}

QRect TranscriptView::tokenRect(int row) const {
    const_cast<TranscriptView*>(this)->flush();
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
