// Chat formats recognised from tokenizer_config.json's chat_template markers.
#include "app/gui/chat_prompt.h"

#include <QRegularExpression>
#include <QStringList>

namespace moescope::gui {

ChatFormat detectChatFormat(const std::string& t) {
    if (t.find("<|im_start|>") != std::string::npos) return ChatFormat::ChatMl;        // Qwen family
    if (t.find("[INST]") != std::string::npos) return ChatFormat::Mistral;             // Mixtral-Instruct
    if (t.find("<\xEF\xBD\x9CUser\xEF\xBD\x9C>") != std::string::npos) return ChatFormat::DeepSeek;  // <｜User｜>
    if (t.find("<|user|>") != std::string::npos) return ChatFormat::Tulu;              // OLMoE-Instruct
    return ChatFormat::Plain;
}

QString chatFormatName(ChatFormat f) {
    switch (f) {
    case ChatFormat::ChatMl: return QStringLiteral("ChatML");
    case ChatFormat::Mistral: return QStringLiteral("Mistral [INST]");
    case ChatFormat::DeepSeek: return QStringLiteral("DeepSeek");
    case ChatFormat::Tulu: return QStringLiteral("Tulu <|user|>");
    case ChatFormat::Plain: break;
    }
    return QStringLiteral("plain");
}

QString buildChatText(ChatFormat f, const QString& sys, const QString& user, const QString& bos) {
    switch (f) {
    case ChatFormat::ChatMl: {
        QString s;
        if (!sys.isEmpty()) s += QStringLiteral("<|im_start|>system\n%1<|im_end|>\n").arg(sys);
        return s + QStringLiteral("<|im_start|>user\n%1<|im_end|>\n<|im_start|>assistant\n").arg(user);
    }
    case ChatFormat::Mistral:
        // Mistral has no system role: the system prompt leads the first user turn.
        return bos + QStringLiteral("[INST] %1[/INST]").arg(sys.isEmpty() ? user : sys + QStringLiteral("\n\n") + user);
    case ChatFormat::DeepSeek:
        return bos + sys + QStringLiteral("<\uFF5CUser\uFF5C>%1<\uFF5CAssistant\uFF5C>").arg(user);
    case ChatFormat::Tulu: {
        QString s = bos;
        if (!sys.isEmpty()) s += QStringLiteral("<|system|>\n%1\n").arg(sys);
        return s + QStringLiteral("<|user|>\n%1\n<|assistant|>\n").arg(user);
    }
    case ChatFormat::Plain: break;
    }
    QString s = bos;
    if (!sys.isEmpty()) s += sys + QStringLiteral("\n\n");
    return s + QStringLiteral("User: %1\nAssistant:").arg(user);
}

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
