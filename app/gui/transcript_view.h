#pragma once
// TranscriptView: a streaming transcript where every token is addressable. Prompt tokens are dimmed,
// generated tokens are normal, intervention changes appear inline as markers ("from token 37: L12 E87
// off"), and tokens can be marked as differing (branch comparison). Hovering a token reports its row
// (the expert grid then shows that token's experts); right-click on a generated token offers
// "Branch here".
#include <QTextBrowser>
#include <vector>

namespace moescope::gui {

class TranscriptView : public QTextBrowser {
    Q_OBJECT
public:
    explicit TranscriptView(QWidget* parent = nullptr);

    void clearTranscript();
    // Starts a transcript with the prompt; the first `shared` generated tokens may follow in `pieces`
    // (a branch's common prefix), rows [promptTokens, pieces.size()) are generated tokens.
    void setPrompt(const QStringList& pieces, int promptTokens);
    void appendToken(int row, const QString& piece, bool highlighted = false);
    void addMarker(const QString& text);
    void addNote(const QString& text);  // "[stopped: eos]"

    int tokenCount() const { return static_cast<int>(pieces_.size()); }
    int promptTokens() const { return promptTokens_; }
    QString pieceAt(int row) const { return pieces_.value(row); }
    QString plainTextOfGenerated() const;
    // Row of the token under a viewport point, or -1.
    int rowAt(const QPoint& viewportPos) const;
    // Viewport rectangle of a token's first character (for tests and tooltips).
    QRect tokenRect(int row) const;
    void setBranchingEnabled(bool on) { branching_ = on; }
    // Writes queued text into the document now (it is otherwise written once per event-loop pass).
    void flush();

signals:
    void tokenHovered(int row);   // -1 when the pointer leaves the tokens
    void tokenClicked(int row);
    void branchRequested(int generatedIndex);

protected:
    void mouseMoveEvent(QMouseEvent* e) override;
    void mouseReleaseEvent(QMouseEvent* e) override;
    void contextMenuEvent(QContextMenuEvent* e) override;
    void leaveEvent(QEvent* e) override;

private:
    void insertPiece(int row, const QString& piece, bool prompt, bool highlighted);
    struct Pending {
        int row;  // -1: paragraph break; -2: marker; -3: note
        QString text;
        bool prompt, highlighted;
    };
    void queue(Pending p);
    void write(const Pending& p, QTextCursor& c);
    std::vector<Pending> pending_;

    QStringList pieces_;
    int promptTokens_ = 0;
    int hovered_ = -1;
    bool branching_ = true;
    bool scrollPending_ = false;
};

}  // namespace moescope::gui
