// GeneratePanel: prompt editing, mode and the buttons around the transcript.
#include "app/gui/generate_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSplitter>
#include <QVBoxLayout>

#include "app/gui/transcript_view.h"

namespace moescope::gui {

GeneratePanel::GeneratePanel(QWidget* parent) : QWidget(parent) {
    setObjectName("generatePanel");
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    mode_ = new QComboBox(this);
    mode_->setObjectName("promptMode");
    mode_->addItem(tr("Chat"), true);
    mode_->addItem(tr("Raw prompt"), false);
    mode_->setToolTip(tr("Chat wraps your message in the model's chat template; raw feeds the text as is."));
    top->addWidget(mode_);
    top->addWidget(new QLabel(tr("System:"), this));
    system_ = new QLineEdit(this);
    system_->setObjectName("systemPrompt");
    system_->setPlaceholderText(tr("optional system prompt"));
    top->addWidget(system_, 1);
    format_ = new QLabel(this);
    format_->setObjectName("chatFormat");
    top->addWidget(format_);
    layout->addLayout(top);
    connect(mode_, &QComboBox::currentIndexChanged, this, [this] { system_->setEnabled(chatMode()); });

    auto* split = new QSplitter(Qt::Vertical, this);
    transcript_ = new TranscriptView(split);
    auto* bottom = new QWidget(split);
    auto* bl = new QVBoxLayout(bottom);
    bl->setContentsMargins(0, 0, 0, 0);
    prompt_ = new QPlainTextEdit(bottom);
    prompt_->setObjectName("promptEdit");
    prompt_->setPlaceholderText(tr("Type a message — Ctrl+Enter to generate"));
    prompt_->installEventFilter(this);
    bl->addWidget(prompt_);
    auto* buttons = new QHBoxLayout;
    auto button = [&](const QString& text, const QString& tip, const char* name) {
        auto* b = new QPushButton(text, bottom);
        b->setObjectName(QLatin1String(name));
        b->setToolTip(tip);
        buttons->addWidget(b);
        return b;
    };
    generate_ = button(tr("Generate"), tr("Generate (Ctrl+Enter)"), "generateButton");
    stop_ = button(tr("Stop"), tr("Stop generating (Esc)"), "stopButton");
    regenerate_ = button(tr("Regenerate"), tr("Run the last prompt again with the current settings (Ctrl+R)"), "regenerateButton");
    buttons->addStretch(1);
    stepMode_ = button(tr("Step mode"), tr("Pause after every token, so you can inspect it and change experts "
                                           "at an exact token"), "stepModeButton");
    stepMode_->setCheckable(true);
    step_ = button(tr("Next token"), tr("Generate one more token in step mode (F10)"), "stepButton");
    bl->addLayout(buttons);
    split->addWidget(transcript_);
    split->addWidget(bottom);
    split->setStretchFactor(0, 4);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);

    connect(generate_, &QPushButton::clicked, this, &GeneratePanel::generateRequested);
    connect(stop_, &QPushButton::clicked, this, &GeneratePanel::stopRequested);
    connect(regenerate_, &QPushButton::clicked, this, &GeneratePanel::regenerateRequested);
    connect(stepMode_, &QPushButton::toggled, this, [this](bool on) {
        step_->setEnabled(on && running_);
        emit stepModeToggled(on);
    });
    connect(step_, &QPushButton::clicked, this, &GeneratePanel::stepRequested);
    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    esc->setContext(Qt::WindowShortcut);
    connect(esc, &QShortcut::activated, this, [this] {
        if (running_) emit stopRequested();
    });
    auto* regen = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_R), this);
    regen->setContext(Qt::WindowShortcut);
    connect(regen, &QShortcut::activated, this, [this] {
        if (!running_) emit regenerateRequested();
    });
    auto* f10 = new QShortcut(QKeySequence(Qt::Key_F10), this);
    f10->setContext(Qt::WindowShortcut);
    connect(f10, &QShortcut::activated, this, [this] {
        if (stepMode_->isChecked()) emit stepRequested();
    });
    setRunning(false);
}

bool GeneratePanel::eventFilter(QObject* watched, QEvent* event) {
    if (watched == prompt_ && event->type() == QEvent::KeyPress) {
        auto* k = static_cast<QKeyEvent*>(event);
        if ((k->key() == Qt::Key_Return || k->key() == Qt::Key_Enter) && (k->modifiers() & Qt::ControlModifier)) {
            if (!running_) emit generateRequested();
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

QString GeneratePanel::promptText() const { return prompt_->toPlainText(); }
void GeneratePanel::setPromptText(const QString& text) { prompt_->setPlainText(text); }
bool GeneratePanel::chatMode() const { return mode_->currentData().toBool(); }
void GeneratePanel::setChatMode(bool chat) { mode_->setCurrentIndex(chat ? 0 : 1); }
QString GeneratePanel::systemPrompt() const { return system_->text(); }
void GeneratePanel::setSystemPrompt(const QString& s) { system_->setText(s); }

void GeneratePanel::setTokenizerAvailable(bool available, const QString& chatFormat) {
    mode_->setEnabled(available);
    if (!available) {
        setChatMode(false);
        prompt_->setPlaceholderText(tr("This model has no tokenizer.json: type token ids separated by spaces "
                                       "(e.g. 1 17 42 99) — Ctrl+Enter to generate"));
        format_->setText(tr("raw token ids"));
    } else {
        prompt_->setPlaceholderText(tr("Type a message — Ctrl+Enter to generate"));
        format_->setText(tr("template: %1").arg(chatFormat));
    }
}

void GeneratePanel::setRunning(bool running) {
    running_ = running;
    generate_->setEnabled(!running);
    regenerate_->setEnabled(!running);
    stop_->setEnabled(running);
    step_->setEnabled(running && stepMode_->isChecked());
}

}  // namespace moescope::gui
