#pragma once
// Chat templates: renders tokenizer_config.json's `chat_template` (a Jinja2 template) the way
// transformers' apply_chat_template does (Environment(trim_blocks=True, lstrip_blocks=True) with
// loop controls; `raise_exception`, `strftime_now`, `namespace` available).
//
// The Jinja subset implemented is what the Qwen2/Qwen3, Mixtral/Mistral-Instruct, OLMoE/Tulu and
// DeepSeek-V3/R1 templates use: {{ }}, {% if/elif/else %}, {% for x in xs [if c] %} with loop.*,
// {% set %} (also ns.attr and tuple targets), {% break/continue %}, comments, whitespace control,
// expressions (arithmetic, comparisons, in/not in, and/or/not, ~, ternary, slicing, literals),
// filters (length, trim, tojson, join, default, upper/lower, first/last, list, items, string, ...),
// tests (defined, none, string, false, ...) and string/dict methods. Anything outside the subset
// (macros, includes, unknown filters or methods) fails with an Error that names the construct and
// line, never a silently different prompt.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace moescope {

class Tokenizer;

struct ChatMessage {
    std::string role;
    std::string content;
};

class ChatTemplate {
public:
    // Parses the template; syntax errors and unsupported statements are reported here.
    static Result<ChatTemplate> parse(const std::string& source);

    // Renders for `messages`. `extra` (a JSON object) adds or overrides variables, e.g.
    // {"enable_thinking": false, "bos_token": "<s>", "eos_token": "</s>", "tools": [...]}.
    Result<std::string> render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                               const nlohmann::json& extra = nlohmann::json::object()) const;
    // Full control: `context` is the variable set (messages may carry tool_calls, reasoning_content...).
    Result<std::string> render_context(const nlohmann::json& context) const;

    struct Program;

private:
    std::shared_ptr<const Program> program_;
};

// Renders a conversation with the tokenizer's own template (bos_token/eos_token filled in from
// tokenizer_config.json). When the model has no template the messages are joined as plain text
// ("role: content" lines, plus "assistant:" for the generation prompt) and *notice is set to say
// so; otherwise *notice is cleared.
Result<std::string> render_chat(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const nlohmann::json& extra = nlohmann::json::object(),
                                std::string* notice = nullptr);

}  // namespace moescope
