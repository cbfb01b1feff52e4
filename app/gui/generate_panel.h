#pragma once
// GeneratePanel: the chat / raw-prompt workspace. Mode and editable system prompt on top, the streaming
// transcript in the middle, the prompt editor with Generate (Ctrl+Enter), Stop (Esc), Regenerate and
// Step below. It only emits requests; the main window wires them to the GenerationController.
#include <QWidget>

class QComboBox;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QLabel;

namespace moescope::gui {

class TranscriptView;

class GeneratePanel : public QWidget {
    Q_OBJECT
public:
    explicit GeneratePanel(QWidget* parent = nullptr);

    TranscriptView* transcript() const { return transcript_; }
    QString promptText() const;
    void setPromptText(const QString& text);
    bool chatMode() const;
    void setChatMode(bool chat);
    QString systemPrompt() const;
    void setSystemPrompt(const QString& s);
    // Raw ids (no tokenizer): placeholder text and chat mode off.
    void setTokenizerAvailable(bool available, const QString& chatFormat);
    void setRunning(bool running);
    bool isRunning() const { return running_; }
    QPushButton* generateButton() const { return generate_; }
    QPushButton* stopButton() const { return stop_; }

signals:
    void generateRequested();
    void stopRequested();
    void regenerateRequested();
    void stepModeToggled(bool on);
    void stepRequested();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    TranscriptView* transcript_;
    QComboBox* mode_;
    QLineEdit* system_;
    QLabel* format_;
    QPlainTextEdit* prompt_;
    QPushButton* generate_;
    QPushButton* stop_;
    QPushButton* regenerate_;
    QPushButton* stepMode_;
    QPushButton* step_;
    bool running_ = false;
};

}  // namespace moescope::gui
