// Token-id prompts for models without a tokenizer.
#include "app/gui/chat_prompt.h"

#include <QRegularExpression>
#include <QStringList>

namespace moescope::gui {

Result<std::vector<int32_t>> parseTokenIds(const QString& text, int vocabSize) {
    std::vector<int32_t> ids;
    const QStringList parts = text.split(QRegularExpression(QStringLiteral("[\\s,]+")), Qt::SkipEmptyParts);
    for (const QString& p : parts) {
        bool ok = false;
        const int v = p.toInt(&ok);
        if (!ok || v < 0 || v >= vocabSize)
            return Error(QStringLiteral("prompt: '%1' is not a token id (this model has no tokenizer.json; "
                                        "type ids 0..%2 separated by spaces)")
                             .arg(p)
                             .arg(vocabSize - 1)
                             .toStdString());
        ids.push_back(v);
    }
    if (ids.empty()) return Error("prompt: empty (type token ids separated by spaces)");
    return ids;
}

}  // namespace moescope::gui
