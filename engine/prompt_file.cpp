#include "engine/prompt_file.h"

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer/chat_template.h"

namespace moescope {

std::vector<PromptLine> read_prompt_file(const std::string& path, const std::string& default_set) {
    std::ifstream f(path);
    if (!f) throw Error(path + ": cannot open the prompts file");
    std::vector<PromptLine> out;
    std::string line;
    int n = 0;
    while (std::getline(f, line)) {
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        auto bad = [&](const std::string& why) { throw Error(path + ": line " + std::to_string(n) + ": " + why); };
        if (j.is_discarded() || !j.is_object()) bad("not a JSON object");
        PromptLine p;
        p.line = n;
        p.set = default_set;
        if (j.contains("set")) {
            if (!j["set"].is_string()) bad("\"set\" must be a string");
            p.set = j["set"].get<std::string>();
        }
        int kinds = j.contains("text") + j.contains("messages") + j.contains("tokens");
        if (kinds != 1) bad("needs exactly one of \"text\", \"messages\" or \"tokens\"");
        if (j.contains("text")) {
            if (!j["text"].is_string() || j["text"].get<std::string>().empty()) bad("\"text\" must be a non-empty string");
            p.text = j["text"].get<std::string>();
            p.needs_tokenizer = true;
        } else if (j.contains("messages")) {
            const auto& m = j["messages"];
            if (!m.is_array() || m.empty()) bad("\"messages\" must be a non-empty array");
            for (const auto& x : m)
                if (!x.is_object() || !x.contains("role") || !x.contains("content") || !x["role"].is_string() ||
                    !x["content"].is_string())
                    bad("each message needs string \"role\" and \"content\"");
            p.messages_json = m.dump();
            p.needs_tokenizer = true;
        } else {
            const auto& t = j["tokens"];
            if (!t.is_array() || t.empty()) bad("\"tokens\" must be a non-empty array of ids");
            for (const auto& x : t) {
                if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) bad("\"tokens\" holds a non-id value");
                p.ids.push_back(x.get<int32_t>());
            }
        }
        out.push_back(std::move(p));
    }
    if (out.empty()) throw Error(path + ": no prompts");
    return out;
}

void tokenize_prompts(std::vector<PromptLine>& prompts, const Tokenizer* tok, int vocab_size, const std::string& path,
                      const std::string& model_dir) {
    for (auto& p : prompts) {
        const std::string where = path + ": line " + std::to_string(p.line) + ": ";
        if (p.needs_tokenizer && !tok)
            throw Error(where + "text prompts need " + model_dir + "/tokenizer.json (use {\"tokens\": [...]} for models without one)");
        if (!p.text.empty()) p.ids = tok->encode(p.text, true);
        if (!p.messages_json.empty()) {
            std::vector<ChatMessage> msgs;
            for (const auto& m : nlohmann::json::parse(p.messages_json))
                msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
            auto r = render_chat(*tok, msgs, true);
            if (!r.ok()) throw Error(where + r.message());
            p.ids = tok->encode(*r, false);
        }
        if (p.ids.empty()) throw Error(where + "the prompt encodes to no tokens");
        for (int32_t id : p.ids)
            if (id >= vocab_size)
                throw Error(where + "token id " + std::to_string(id) + " is outside the model's vocabulary (0.." +
                            std::to_string(vocab_size - 1) + ")");
    }
}

}  // namespace moescope
