#pragma once
// Prompt input for models without a tokenizer: the user types token ids. (Chat text is rendered by the
// engine's chat template renderer, engine/tokenizer/chat_template.h.)
#include <QString>
#include <cstdint>
#include <vector>

#include "engine/error.h"

namespace moescope::gui {

// "1 17, 42" -> {1, 17, 42}. Error names the bad piece and the valid range.
Result<std::vector<int32_t>> parseTokenIds(const QString& text, int vocabSize);

}  // namespace moescope::gui
