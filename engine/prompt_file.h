#pragma once
// Prompt sets as JSONL files (resources/prompts/*.jsonl, `moescope-cli record --prompts`): one JSON object
// per line, {"text": "..."} | {"messages": [{"role": ..., "content": ...}, ...]} | {"tokens": [ids]}, each
// with an optional "set" (the prompt set's name). Shared by the CLI (`record`) and the app ("Record now",
// "Evaluate" in the fTRI view), so both read and tokenize a file the same way.
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace moescope {

struct PromptLine {
    int line = 0;               // 1-based line in the file (for messages)
    std::string text;           // as given ("text"), or empty
    std::string messages_json;  // as given ("messages", a JSON array), or empty
    std::vector<int32_t> ids;   // "tokens", or filled by tokenize_prompts
    std::string set;            // "set", else the default set
    bool needs_tokenizer = false;
};

// Reads and validates the file. Throws Error "<path>: line N: <reason>" (or "cannot open", "no prompts").
std::vector<PromptLine> read_prompt_file(const std::string& path, const std::string& default_set);

// Fills `ids`: text -> encode(text, add_special = true); messages -> the tokenizer's chat template with
// add_generation_prompt (transformers' apply_chat_template), encoded without added specials; tokens as
// given. Checks ids against the vocabulary. Throws Error naming the file and line. `tok` may be null
// when every line is {"tokens": ...}.
void tokenize_prompts(std::vector<PromptLine>& prompts, const Tokenizer* tok, int vocab_size, const std::string& path,
                      const std::string& model_dir);

}  // namespace moescope
