#pragma once
// Turning what the user typed into prompt text or ids.
//
// Chat mode wraps the system prompt and user message in the model's chat format. The tokenizer exposes
// the raw Jinja chat_template; until the engine renders templates itself, the format is recognised from
// the markers the template uses (ChatML <|im_start|>, Mistral [INST], DeepSeek <｜User｜>, OLMoE
// <|user|>), with a plain "User:/Assistant:" fallback. Raw mode feeds the text unchanged.
#include <QString>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.h"

namespace moescope::gui {

enum class ChatFormat { ChatMl, Mistral, DeepSeek, Tulu, Plain };

ChatFormat detectChatFormat(const std::string& chatTemplate);
QString chatFormatName(ChatFormat f);
QString buildChatText(ChatFormat f, const QString& systemPrompt, const QString& user, const QString& bosToken);

// For models without a tokenizer: "1 17, 42" -> {1, 17, 42}. Error names the bad piece and the range.
Result<std::vector<int32_t>> parseTokenIds(const QString& text, int vocabSize);

}  // namespace moescope::gui
