// Jinja2-subset parser for chat templates; see jinja.h / chat_template.h.
#include <cctype>
#include <set>

#include "engine/tokenizer/jinja.h"
#include "engine/tokenizer/unicode.h"

namespace moescope::jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& what) {
    throw Error("chat template line " + std::to_string(line) + ": " + what);
}

// ------------------------------------------------------------------ template-level lexing

struct Part {
    bool is_tag = false;
    char kind = 0;          // 'e' {{ }}, 's' {% %}, 'c' {# #}
    std::string text;       // raw text, or tag content without delimiters/modifiers
    bool lminus = false, rminus = false, lplus = false;
    int line = 1;
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<Part> split_template(const std::string& src) {
    std::vector<Part> parts;
    std::size_t pos = 0;
    int line = 1;
    const auto count_lines = [&](std::size_t a, std::size_t b) {
        for (std::size_t k = a; k < b; ++k) line += src[k] == '\n';
    };
    while (pos < src.size()) {
        std::size_t open = std::string::npos;
        for (std::size_t k = src.find('{', pos); k != std::string::npos && k + 1 < src.size(); k = src.find('{', k + 1)) {
            if (src[k + 1] == '{' || src[k + 1] == '%' || src[k + 1] == '#') { open = k; break; }
        }
        if (open == std::string::npos) {
            parts.push_back({false, 0, src.substr(pos), false, false, false, line});
            break;
        }
        if (open > pos) parts.push_back({false, 0, src.substr(pos, open - pos), false, false, false, line});
        count_lines(pos, open);
        Part tag;
        tag.is_tag = true;
        tag.line = line;
        const char kind = src[open + 1];
        tag.kind = kind == '{' ? 'e' : kind == '%' ? 's' : 'c';
        std::size_t b = open + 2;
        if (b < src.size() && src[b] == '-') { tag.lminus = true; ++b; }
        else if (b < src.size() && src[b] == '+') { tag.lplus = true; ++b; }
        const char close = kind == '{' ? '}' : kind == '%' ? '%' : '#';
        std::size_t k = b;
        char quote = 0;
        for (; k + 1 < src.size(); ++k) {
            const char c = src[k];
            if (tag.kind != 'c') {
                if (quote) {
                    if (c == '\\') { ++k; continue; }
                    if (c == quote) quote = 0;
                    continue;
                }
                if (c == '\'' || c == '"') { quote = c; continue; }
            }
            if (c == close && src[k + 1] == '}') break;
        }
        if (k + 1 >= src.size()) fail(tag.line, std::string("unterminated ") + (tag.kind == 'e' ? "{{" : tag.kind == 's' ? "{%" : "{#"));
        std::size_t e = k;
        if (e > b && src[e - 1] == '-') { tag.rminus = true; --e; }
        tag.text = src.substr(b, e - b);
        count_lines(open, k + 2);
        pos = k + 2;
        parts.push_back(std::move(tag));
    }
    // Whitespace control: '-' modifiers, then lstrip_blocks / trim_blocks for {% %} and {# #}.
    for (std::size_t i = 0; i < parts.size(); ++i) {
        Part& p = parts[i];
        if (!p.is_tag) continue;
        const bool block = p.kind != 'e';
        if (i > 0 && !parts[i - 1].is_tag) {
            std::string& t = parts[i - 1].text;
            if (p.lminus) {
                while (!t.empty() && is_ws(t.back())) t.pop_back();
            } else if (block && !p.lplus) {
                std::size_t k = t.size();
                while (k > 0 && (t[k - 1] == ' ' || t[k - 1] == '\t')) --k;
                if ((k > 0 && t[k - 1] == '\n') || (k == 0 && i == 1)) t.resize(k);
            }
        }
        if (i + 1 < parts.size() && !parts[i + 1].is_tag) {
            std::string& t = parts[i + 1].text;
            if (p.rminus) {
                std::size_t k = 0;
                while (k < t.size() && is_ws(t[k])) ++k;
                t.erase(0, k);
            } else if (block && !t.empty() && t[0] == '\n') {
                t.erase(0, 1);
            }
        }
    }
    return parts;
}

// ------------------------------------------------------------------ expression lexing

struct Tok {
    enum class K { Name, Str, Int, Float, Op, End } k;
    std::string s;
    int64_t i = 0;
    double f = 0;
};

std::vector<Tok> lex_expr(const std::string& s, int line) {
    std::vector<Tok> out;
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (is_ws(c)) { ++i; continue; }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t j = i;
            while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
            out.push_back({Tok::K::Name, s.substr(i, j - i), 0, 0.0});
            i = j;
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            std::size_t j = i;
            while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
            bool is_float = false;
            if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
                is_float = true;
                ++j;
                while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
            }
            std::string num;
            for (std::size_t k = i; k < j; ++k)
                if (s[k] != '_') num.push_back(s[k]);
            Tok t{is_float ? Tok::K::Float : Tok::K::Int, num, 0, 0.0};
            if (is_float) t.f = std::stod(num); else t.i = std::stoll(num);
            out.push_back(t);
            i = j;
            continue;
        }
        if (c == '\'' || c == '"') {
            std::string v;
            std::size_t j = i + 1;
            for (; j < s.size() && s[j] != c; ++j) {
                if (s[j] != '\\') { v.push_back(s[j]); continue; }
                if (++j >= s.size()) break;
                const char e = s[j];
                switch (e) {
                    case 'n': v.push_back('\n'); break;
                    case 't': v.push_back('\t'); break;
                    case 'r': v.push_back('\r'); break;
                    case '0': v.push_back('\0'); break;
                    case '\\': v.push_back('\\'); break;
                    case '\'': v.push_back('\''); break;
                    case '"': v.push_back('"'); break;
                    case '\n': break;
                    case 'x': case 'u': case 'U': {
                        const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                        if (j + n >= s.size()) fail(line, "bad escape in string literal");
                        const uint32_t cp = static_cast<uint32_t>(std::stoul(s.substr(j + 1, n), nullptr, 16));
                        tok::utf8_append(v, cp);
                        j += n;
                        break;
                    }
                    default: v.push_back('\\'); v.push_back(e); break;   // Python keeps unknown escapes
                }
            }
            if (j >= s.size()) fail(line, "unterminated string literal");
            out.push_back({Tok::K::Str, v, 0, 0.0});
            i = j + 1;
            continue;
        }
        static const char* const ops[] = {"==", "!=", "<=", ">=", "//", "**", "<", ">", "+", "-", "*", "/", "%", "~",
                                          "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "="};
        bool matched = false;
        for (const char* op : ops) {
            const std::size_t n = std::char_traits<char>::length(op);
            if (s.compare(i, n, op) == 0) {
                out.push_back({Tok::K::Op, op, 0, 0.0});
                i += n;
                matched = true;
                break;
            }
        }
        if (!matched) fail(line, std::string("unexpected character '") + c + "' in expression");
    }
    out.push_back({Tok::K::End, "", 0, 0.0});
    return out;
}

// ------------------------------------------------------------------ expression parsing

class ExprParser {
public:
    ExprParser(std::vector<Tok> toks, int line) : t_(std::move(toks)), line_(line) {}

    bool at_end() const { return t_[p_].k == Tok::K::End; }
    bool is_op(const char* op) const { return t_[p_].k == Tok::K::Op && t_[p_].s == op; }
    bool is_name(const char* n) const { return t_[p_].k == Tok::K::Name && t_[p_].s == n; }
    void expect_op(const char* op) {
        if (!is_op(op)) fail(line_, std::string("expected '") + op + "' but found '" + t_[p_].s + "'");
        ++p_;
    }
    std::string expect_name() {
        if (t_[p_].k != Tok::K::Name) fail(line_, "expected a name but found '" + t_[p_].s + "'");
        return t_[p_++].s;
    }
    bool accept_name(const char* n) {
        if (!is_name(n)) return false;
        ++p_;
        return true;
    }
    void expect_end() {
        if (!at_end()) fail(line_, "unexpected '" + t_[p_].s + "'");
    }

    ExprPtr node(Expr::K k) {
        auto e = std::make_unique<Expr>();
        e->k = k;
        e->line = line_;
        return e;
    }

    // Full expression, including the conditional `a if c else b`.
    ExprPtr expression() {
        struct Guard {
            int& d;
            explicit Guard(int& x, int line) : d(x) {
                if (++d > 100) fail(line, "expression nested too deeply");
            }
            ~Guard() { --d; }
        } guard(depth_, line_);
        ExprPtr e = or_expr();
        while (is_name("if")) {
            ++p_;
            auto t = node(Expr::K::Ternary);
            t->a = or_expr();
            t->b = std::move(e);
            if (accept_name("else")) t->c = or_expr();
            e = std::move(t);
        }
        return e;
    }
    ExprPtr or_expr() {
        ExprPtr e = and_expr();
        while (accept_name("or")) {
            auto n = node(Expr::K::Or);
            n->a = std::move(e);
            n->b = and_expr();
            e = std::move(n);
        }
        return e;
    }
    ExprPtr and_expr() {
        ExprPtr e = not_expr();
        while (accept_name("and")) {
            auto n = node(Expr::K::And);
            n->a = std::move(e);
            n->b = not_expr();
            e = std::move(n);
        }
        return e;
    }
    ExprPtr not_expr() {
        if (++not_depth_ > 100) fail(line_, "expression nested too deeply");
        struct Dec { int& d; ~Dec() { --d; } } dec{not_depth_};
        if (accept_name("not")) {
            auto n = node(Expr::K::Not);
            n->a = not_expr();
            return n;
        }
        return compare();
    }
    ExprPtr compare() {
        ExprPtr e = math1();
        for (;;) {
            std::string op;
            if (t_[p_].k == Tok::K::Op && (t_[p_].s == "==" || t_[p_].s == "!=" || t_[p_].s == "<" || t_[p_].s == ">" ||
                                           t_[p_].s == "<=" || t_[p_].s == ">=")) {
                op = t_[p_++].s;
            } else if (is_name("in")) {
                ++p_;
                op = "in";
            } else if (is_name("not") && t_[p_ + 1].k == Tok::K::Name && t_[p_ + 1].s == "in") {
                p_ += 2;
                op = "not in";
            } else {
                return e;
            }
            auto n = node(Expr::K::Binary);
            n->name = op;
            n->a = std::move(e);
            n->b = math1();
            e = std::move(n);
        }
    }
    ExprPtr binary_chain(ExprPtr (ExprParser::*next)(), std::initializer_list<const char*> ops) {
        ExprPtr e = (this->*next)();
        for (;;) {
            const char* found = nullptr;
            for (const char* op : ops)
                if (is_op(op)) found = op;
            if (!found) return e;
            ++p_;
            auto n = node(Expr::K::Binary);
            n->name = found;
            n->a = std::move(e);
            n->b = (this->*next)();
            e = std::move(n);
        }
    }
    ExprPtr math1() { return binary_chain(&ExprParser::concat, {"+", "-"}); }
    ExprPtr concat() { return binary_chain(&ExprParser::math2, {"~"}); }
    ExprPtr math2() { return binary_chain(&ExprParser::power, {"*", "/", "//", "%"}); }
    ExprPtr power() { return binary_chain(&ExprParser::unary, {"**"}); }
    ExprPtr unary() {
        if (++unary_depth_ > 100) fail(line_, "expression nested too deeply");
        struct Dec { int& d; ~Dec() { --d; } } dec{unary_depth_};
        if (is_op("-")) {
            ++p_;
            auto n = node(Expr::K::Neg);
            n->a = unary();
            return n;
        }
        if (is_op("+")) { ++p_; return unary(); }
        return filters(postfix(primary()));
    }

    void call_args(Expr& e) {
        expect_op("(");
        while (!is_op(")")) {
            if (t_[p_].k == Tok::K::Name && t_[p_ + 1].k == Tok::K::Op && t_[p_ + 1].s == "=") {
                e.keys.push_back(t_[p_].s);
                p_ += 2;
                e.kwargs.push_back(expression());
            } else {
                if (!e.kwargs.empty()) fail(line_, "positional argument after keyword argument");
                e.args.push_back(expression());
            }
            if (!is_op(")")) expect_op(",");
        }
        ++p_;
    }

    ExprPtr filters(ExprPtr e) {
        for (;;) {
            if (is_op("|")) {
                ++p_;
                auto f = node(Expr::K::Filter);
                f->name = expect_name();
                f->a = std::move(e);
                if (is_op("(")) call_args(*f);
                e = postfix(std::move(f));
            } else if (is_name("is")) {
                ++p_;
                auto t = node(Expr::K::Test);
                t->negate = accept_name("not");
                t->name = expect_name();
                t->a = std::move(e);
                if (is_op("(")) {
                    call_args(*t);
                } else if (!at_end() && (t_[p_].k == Tok::K::Str || t_[p_].k == Tok::K::Int || t_[p_].k == Tok::K::Float ||
                                         (t_[p_].k == Tok::K::Name && t_[p_].s != "and" && t_[p_].s != "or" &&
                                          t_[p_].s != "else" && t_[p_].s != "if" && t_[p_].s != "is" && t_[p_].s != "in" &&
                                          t_[p_].s != "not"))) {
                    t->args.push_back(primary());   // `is divisibleby 3`, `is sameas none`
                }
                e = std::move(t);
            } else {
                return e;
            }
        }
    }

    ExprPtr postfix(ExprPtr e) {
        for (;;) {
            if (is_op(".")) {
                ++p_;
                auto n = node(Expr::K::Attr);
                if (t_[p_].k == Tok::K::Int) n->name = std::to_string(t_[p_++].i);
                else n->name = expect_name();
                n->a = std::move(e);
                e = std::move(n);
            } else if (is_op("[")) {
                ++p_;
                ExprPtr lo, hi, step;
                bool slice = false;
                if (!is_op(":")) lo = expression();
                if (is_op(":")) {
                    slice = true;
                    ++p_;
                    if (!is_op(":") && !is_op("]")) hi = expression();
                    if (is_op(":")) {
                        ++p_;
                        if (!is_op("]")) step = expression();
                    }
                }
                expect_op("]");
                auto n = node(slice ? Expr::K::Slice : Expr::K::Index);
                n->a = std::move(e);
                n->b = std::move(lo);
                n->c = std::move(hi);
                if (slice) n->args.push_back(std::move(step));
                e = std::move(n);
            } else if (is_op("(")) {
                auto n = node(Expr::K::Call);
                n->a = std::move(e);
                call_args(*n);
                e = std::move(n);
            } else {
                return e;
            }
        }
    }

    ExprPtr primary() {
        const Tok& t = t_[p_];
        if (t.k == Tok::K::Str) {
            auto n = node(Expr::K::Literal);
            std::string s;
            while (t_[p_].k == Tok::K::Str) s += t_[p_++].s;   // adjacent literals concatenate
            n->literal = Value::str(s);
            return n;
        }
        if (t.k == Tok::K::Int || t.k == Tok::K::Float) {
            ++p_;
            auto n = node(Expr::K::Literal);
            n->literal = t.k == Tok::K::Int ? Value::integer(t.i) : Value::number(t.f);
            return n;
        }
        if (t.k == Tok::K::Name) {
            ++p_;
            auto n = node(Expr::K::Literal);
            if (t.s == "true" || t.s == "True") { n->literal = Value::boolean(true); return n; }
            if (t.s == "false" || t.s == "False") { n->literal = Value::boolean(false); return n; }
            if (t.s == "none" || t.s == "None") { n->literal = Value::none(); return n; }
            n->k = Expr::K::Name;
            n->name = t.s;
            return n;
        }
        if (is_op("(")) {
            ++p_;
            ExprPtr first = expression();
            if (is_op(",")) {   // tuple -> list
                auto n = node(Expr::K::List);
                n->args.push_back(std::move(first));
                while (is_op(",")) {
                    ++p_;
                    if (is_op(")")) break;
                    n->args.push_back(expression());
                }
                expect_op(")");
                return n;
            }
            expect_op(")");
            return first;
        }
        if (is_op("[")) {
            ++p_;
            auto n = node(Expr::K::List);
            while (!is_op("]")) {
                n->args.push_back(expression());
                if (!is_op("]")) expect_op(",");
            }
            ++p_;
            return n;
        }
        if (is_op("{")) {
            ++p_;
            auto n = node(Expr::K::Dict);
            while (!is_op("}")) {
                ExprPtr key = expression();
                if (key->k != Expr::K::Literal || key->literal.t != Value::T::Str)
                    fail(line_, "only string keys are supported in dict literals");
                n->keys.push_back(key->literal.s);
                expect_op(":");
                n->args.push_back(expression());
                if (!is_op("}")) expect_op(",");
            }
            ++p_;
            return n;
        }
        fail(line_, "unexpected '" + t.s + "' in expression");
    }

private:
    std::vector<Tok> t_;
    std::size_t p_ = 0;
    int line_;
    int depth_ = 0, not_depth_ = 0, unary_depth_ = 0;
};

// ------------------------------------------------------------------ statements

Stmt make_stmt(Stmt::K k) {
    Stmt s;
    s.k = k;
    return s;
}

class TemplateParser {
public:
    explicit TemplateParser(std::vector<Part> parts) : parts_(std::move(parts)) {}

    Body parse_all() {
        std::string end;
        Body b = parse_body({}, end);
        return b;
    }

private:
    // Parses until one of `ends` (a statement keyword) and reports which one in `found`.
    Body parse_body(const std::set<std::string>& ends, std::string& found) {
        if (++depth_ > 100) fail(i_ < parts_.size() ? parts_[i_].line : 0, "statements nested too deeply");
        struct Dec { int& d; ~Dec() { --d; } } dec{depth_};
        Body body;
        while (i_ < parts_.size()) {
            Part& p = parts_[i_];
            if (!p.is_tag) {
                if (!p.text.empty()) {
                    Stmt s = make_stmt(Stmt::K::Text);
                    s.text = p.text;
                    s.line = p.line;
                    body.push_back(std::move(s));
                }
                ++i_;
                continue;
            }
            if (p.kind == 'c') { ++i_; continue; }
            if (p.kind == 'e') {
                ExprParser ep(lex_expr(p.text, p.line), p.line);
                Stmt s = make_stmt(Stmt::K::Output);
                s.line = p.line;
                s.expr = ep.expression();
                ep.expect_end();
                body.push_back(std::move(s));
                ++i_;
                continue;
            }
            ExprParser ep(lex_expr(p.text, p.line), p.line);
            if (ep.at_end()) fail(p.line, "empty {% %} statement");
            const std::string kw = ep.expect_name();
            if (ends.count(kw)) {
                found = kw;
                return body;
            }
            if (kw == "endif" || kw == "endfor" || kw == "elif" || kw == "else" || kw == "endgeneration")
                fail(p.line, "unexpected {% " + kw + " %}");
            ++i_;
            const int line = p.line;
            if (kw == "if") {
                Stmt s = make_stmt(Stmt::K::If);
                s.line = line;
                ExprPtr cond = ep.expression();
                ep.expect_end();
                for (;;) {
                    std::string f;
                    Body b = parse_body({"elif", "else", "endif"}, f);
                    if (f.empty()) fail(line, "missing {% endif %}");
                    s.branches.emplace_back(std::move(cond), std::move(b));
                    ExprParser ep2(lex_expr(parts_[i_].text, parts_[i_].line), parts_[i_].line);
                    ep2.expect_name();
                    ++i_;
                    if (f == "endif") { ep2.expect_end(); break; }
                    if (f == "else") {
                        ep2.expect_end();
                        std::string f2;
                        Body eb = parse_body({"endif"}, f2);
                        if (f2.empty()) fail(line, "missing {% endif %}");
                        ++i_;
                        s.branches.emplace_back(nullptr, std::move(eb));
                        break;
                    }
                    cond = ep2.expression();   // elif
                    ep2.expect_end();
                }
                body.push_back(std::move(s));
            } else if (kw == "for") {
                Stmt s = make_stmt(Stmt::K::For);
                s.line = line;
                s.targets.push_back(ep.expect_name());
                while (ep.is_op(",")) {
                    ep.expect_op(",");
                    s.targets.push_back(ep.expect_name());
                }
                if (!ep.accept_name("in")) fail(line, "expected 'in' in for loop");
                s.expr = ep.or_expr();
                if (ep.accept_name("if")) s.filter = ep.expression();
                if (ep.accept_name("recursive")) fail(line, "unsupported construct 'recursive' loop");
                ep.expect_end();
                std::string f;
                s.body = parse_body({"else", "endfor"}, f);
                if (f.empty()) fail(line, "missing {% endfor %}");
                ++i_;
                if (f == "else") {
                    std::string f2;
                    s.else_body = parse_body({"endfor"}, f2);
                    if (f2.empty()) fail(line, "missing {% endfor %}");
                    ++i_;
                }
                body.push_back(std::move(s));
            } else if (kw == "set") {
                Stmt s = make_stmt(Stmt::K::Set);
                s.line = line;
                s.targets.push_back(ep.expect_name());
                if (ep.is_op(".")) {
                    ep.expect_op(".");
                    s.attr = ep.expect_name();
                }
                while (ep.is_op(",")) {
                    ep.expect_op(",");
                    s.targets.push_back(ep.expect_name());
                }
                if (!ep.is_op("=")) fail(line, "unsupported construct: block {% set %} (only '{% set x = ... %}')");
                ep.expect_op("=");
                s.expr = ep.expression();
                if (ep.is_op(",")) {   // set a, b = x, y
                    auto list = std::make_unique<Expr>();
                    list->k = Expr::K::List;
                    list->line = line;
                    list->args.push_back(std::move(s.expr));
                    while (ep.is_op(",")) {
                        ep.expect_op(",");
                        list->args.push_back(ep.expression());
                    }
                    s.expr = std::move(list);
                }
                ep.expect_end();
                body.push_back(std::move(s));
            } else if (kw == "break" || kw == "continue") {
                ep.expect_end();
                Stmt s = make_stmt(kw == "break" ? Stmt::K::Break : Stmt::K::Continue);
                s.line = line;
                body.push_back(std::move(s));
            } else if (kw == "generation") {
                // transformers' AssistantTracker extension: marks assistant text; renders its body.
                std::string f;
                Body b = parse_body({"endgeneration"}, f);
                if (f.empty()) fail(line, "missing {% endgeneration %}");
                ++i_;
                Stmt s = make_stmt(Stmt::K::If);
                s.line = line;
                s.branches.emplace_back(nullptr, std::move(b));
                body.push_back(std::move(s));
            } else {
                fail(line, "unsupported construct '{% " + kw + " %}'");
            }
        }
        return body;
    }

    std::vector<Part> parts_;
    std::size_t i_ = 0;
    int depth_ = 0;
};

}  // namespace

Template parse(const std::string& source) {
    std::string src;
    src.reserve(source.size());
    for (std::size_t k = 0; k < source.size(); ++k) {   // Jinja normalizes newlines to "\n"
        if (source[k] == '\r') {
            src.push_back('\n');
            if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
        } else {
            src.push_back(source[k]);
        }
    }
    if (!src.empty() && src.back() == '\n') src.pop_back();   // keep_trailing_newline=False
    Template t;
    TemplateParser p(split_template(src));
    t.body = p.parse_all();
    return t;
}

}  // namespace moescope::jinja
