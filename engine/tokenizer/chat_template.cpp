// ChatTemplate: parse once, render per conversation; see chat_template.h.
#include "engine/tokenizer/chat_template.h"

#include <ctime>

#include "engine/tokenizer/jinja.h"
#include "engine/tokenizer/tokenizer.h"

namespace moescope {

struct ChatTemplate::Program {
    jinja::Template tmpl;
};

Result<ChatTemplate> ChatTemplate::parse(const std::string& source) {
    return try_result([&]() -> ChatTemplate {
        auto p = std::make_shared<Program>();
        p->tmpl = jinja::parse(source);
        ChatTemplate t;
        t.program_ = std::move(p);
        return t;
    });
}

namespace {

// The globals transformers' apply_chat_template provides besides the caller's variables.
std::map<std::string, jinja::Value> base_globals() {
    using jinja::Value;
    std::map<std::string, Value> g;
    g["raise_exception"] = Value::func([](jinja::Args& a, jinja::Kwargs&) -> Value {
        throw Error("chat template raised an exception: " + (a.empty() ? std::string() : jinja::to_output(a[0])));
    });
    g["namespace"] = Value::func([](jinja::Args&, jinja::Kwargs& kw) {
        Value ns = Value::dict(true);
        for (auto& [k, v] : kw) ns.d->set(k, v);
        return ns;
    });
    g["dict"] = Value::func([](jinja::Args&, jinja::Kwargs& kw) {
        Value d = Value::dict();
        for (auto& [k, v] : kw) d.d->set(k, v);
        return d;
    });
    g["range"] = Value::func([](jinja::Args& a, jinja::Kwargs&) {
        int64_t start = 0, stop = 0, step = 1;
        const auto num = [](const Value& v) { return v.t == Value::T::Int ? v.i : int64_t(0); };
        if (a.size() == 1) stop = num(a[0]);
        if (a.size() >= 2) { start = num(a[0]); stop = num(a[1]); }
        if (a.size() >= 3) step = num(a[2]);
        if (step == 0) throw Error("chat template: range() step must not be zero");
        Value out = Value::list();
        for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
            if (out.l->size() > 1000000) throw Error("chat template: range() too large");
            out.l->push_back(Value::integer(k));
        }
        return out;
    });
    g["strftime_now"] = Value::func([](jinja::Args& a, jinja::Kwargs&) {
        const std::string fmt = a.empty() ? std::string("%Y-%m-%d") : jinja::to_output(a[0]);
        const std::time_t now = std::time(nullptr);
        std::tm tm{};
        gmtime_r(&now, &tm);
        char buf[256];
        const std::size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
        return Value::str(std::string(buf, n));
    });
    return g;
}

}  // namespace

Result<std::string> ChatTemplate::render_context(const nlohmann::json& context) const {
    return try_result([&]() -> std::string {
        if (!program_) throw Error("chat template not parsed");
        if (!context.is_object()) throw Error("chat template context must be a JSON object");
        auto g = base_globals();
        for (auto it = context.begin(); it != context.end(); ++it) g[it.key()] = jinja::Value::from_json(it.value());
        return jinja::render(program_->tmpl, g);
    });
}

Result<std::string> ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                         const nlohmann::json& extra) const {
    nlohmann::json ctx = nlohmann::json::object();
    ctx["messages"] = nlohmann::json::array();
    for (const auto& m : messages) ctx["messages"].push_back({{"role", m.role}, {"content", m.content}});
    ctx["add_generation_prompt"] = add_generation_prompt;
    if (extra.is_object())
        for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
    return render_context(ctx);
}

Result<std::string> render_chat(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const nlohmann::json& extra, std::string* notice) {
    if (notice) notice->clear();
    if (tokenizer.chat_template().empty()) {
        if (notice)
            *notice = tokenizer.source() + ": the model has no chat template; the conversation is rendered as plain "
                      "'role: content' lines";
        std::string out;
        for (const auto& m : messages) out += m.role + ": " + m.content + "\n";
        if (add_generation_prompt) out += "assistant:";
        return out;
    }
    auto t = ChatTemplate::parse(tokenizer.chat_template());
    if (!t) return Error(tokenizer.source() + ": chat_template: " + t.message());
    nlohmann::json ctx = nlohmann::json::object();
    ctx["bos_token"] = tokenizer.bos_token();
    ctx["eos_token"] = tokenizer.eos_token();
    if (extra.is_object())
        for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
    auto r = t.value().render(messages, add_generation_prompt, ctx);
    if (!r) return Error(tokenizer.source() + ": chat_template: " + r.message());
    return r;
}

}  // namespace moescope
