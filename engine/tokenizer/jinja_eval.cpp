// Evaluator for the chat-template Jinja subset; see jinja.h. Semantics follow Jinja2's defaults
// with transformers' environment: undefined values print as "" and are falsy, attribute access on
// an undefined value is an error, `set` inside a loop does not leak out of the iteration.
#include <algorithm>
#include <cmath>
#include <ctime>

#include "engine/tokenizer/jinja.h"
#include "engine/tokenizer/unicode.h"

namespace moescope::jinja {

// Filters, tests and methods (jinja_builtins.cpp).
Value call_filter(const std::string& name, Value v, Args& args, Kwargs& kwargs, int line);
bool call_test(const std::string& name, const Value& v, Args& args, int line);
Value call_method(Value& obj, const std::string& name, Args& args, Kwargs& kwargs, int line);

namespace {

[[noreturn]] void fail(int line, const std::string& what) {
    throw Error("chat template line " + std::to_string(line) + ": " + what);
}

enum class Flow { Normal, Break, Continue };

double as_number(const Value& v, int line, const char* op) {
    if (v.t == Value::T::Int) return double(v.i);
    if (v.t == Value::T::Float) return v.f;
    if (v.t == Value::T::Bool) return v.b ? 1.0 : 0.0;
    fail(line, std::string("unsupported operand type ") + v.type_name() + " for '" + op + "'");
}

bool is_int_like(const Value& v) { return v.t == Value::T::Int || v.t == Value::T::Bool; }
int64_t as_int(const Value& v) { return v.t == Value::T::Bool ? (v.b ? 1 : 0) : v.i; }

// Python-style floor division and modulo.
int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

class Renderer {
public:
    explicit Renderer(const std::map<std::string, Value>& globals) {
        scopes_.emplace_back(globals);
        scopes_.emplace_back();
    }

    std::string run(const Body& body) {
        exec(body);
        return std::move(out_);
    }

private:
    Value lookup(const std::string& name) const {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
            auto f = it->find(name);
            if (f != it->end()) return f->second;
        }
        return Value();
    }

    Flow exec(const Body& body) {
        for (const Stmt& s : body) {
            const Flow f = exec(s);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

    void bind(const std::vector<std::string>& targets, const Value& v, int line) {
        if (targets.size() == 1) {
            scopes_.back()[targets[0]] = v;
            return;
        }
        if (v.t != Value::T::List || v.l->size() != targets.size())
            fail(line, "cannot unpack " + v.type_name() + " into " + std::to_string(targets.size()) + " names");
        for (std::size_t k = 0; k < targets.size(); ++k) scopes_.back()[targets[k]] = (*v.l)[k];
    }

    std::vector<Value> iterate(const Value& v, int line) {
        switch (v.t) {
            case Value::T::Undefined: return {};
            case Value::T::List: return *v.l;
            case Value::T::Dict: {
                std::vector<Value> keys;
                for (const auto& kv : v.d->items) keys.push_back(Value::str(kv.first));
                return keys;
            }
            case Value::T::Str: {
                std::vector<Value> chars;
                std::size_t i = 0;
                while (i < v.s.size()) {
                    std::string c;
                    tok::utf8_append(c, tok::utf8_next(v.s, i));
                    chars.push_back(Value::str(c));
                }
                return chars;
            }
            default: fail(line, "'" + v.type_name() + "' object is not iterable");
        }
    }

    Flow exec(const Stmt& s) {
        switch (s.k) {
            case Stmt::K::Text: out_ += s.text; return Flow::Normal;
            case Stmt::K::Output: out_ += to_output(eval(*s.expr)); return Flow::Normal;
            case Stmt::K::If:
                for (const auto& [cond, body] : s.branches)
                    if (!cond || eval(*cond).truthy()) return exec(body);
                return Flow::Normal;
            case Stmt::K::Set: {
                Value v = eval(*s.expr);
                if (!s.attr.empty()) {
                    Value ns = lookup(s.targets[0]);
                    if (ns.t != Value::T::Dict || !ns.d->is_namespace)
                        fail(s.line, "cannot set attribute '" + s.attr + "' on " + ns.type_name() + " '" + s.targets[0] + "' (only namespace() objects)");
                    ns.d->set(s.attr, std::move(v));
                } else {
                    bind(s.targets, v, s.line);
                }
                return Flow::Normal;
            }
            case Stmt::K::Break: return Flow::Break;
            case Stmt::K::Continue: return Flow::Continue;
            case Stmt::K::For: return exec_for(s);
        }
        return Flow::Normal;
    }

    Flow exec_for(const Stmt& s) {
        std::vector<Value> items = iterate(eval(*s.expr), s.line);
        if (s.filter) {
            std::vector<Value> kept;
            for (const Value& it : items) {
                scopes_.emplace_back();
                bind(s.targets, it, s.line);
                const bool keep = eval(*s.filter).truthy();
                scopes_.pop_back();
                if (keep) kept.push_back(it);
            }
            items.swap(kept);
        }
        if (items.empty()) return exec(s.else_body);
        const int64_t n = static_cast<int64_t>(items.size());
        for (int64_t k = 0; k < n; ++k) {
            scopes_.emplace_back();
            bind(s.targets, items[static_cast<std::size_t>(k)], s.line);
            Value loop = Value::dict();
            loop.d->set("index", Value::integer(k + 1));
            loop.d->set("index0", Value::integer(k));
            loop.d->set("revindex", Value::integer(n - k));
            loop.d->set("revindex0", Value::integer(n - k - 1));
            loop.d->set("first", Value::boolean(k == 0));
            loop.d->set("last", Value::boolean(k == n - 1));
            loop.d->set("length", Value::integer(n));
            loop.d->set("previtem", k > 0 ? items[static_cast<std::size_t>(k - 1)] : Value());
            loop.d->set("nextitem", k + 1 < n ? items[static_cast<std::size_t>(k + 1)] : Value());
            loop.d->set("cycle", Value::func([k](Args& a, Kwargs&) { return a.empty() ? Value() : a[static_cast<std::size_t>(k) % a.size()]; }));
            scopes_.back()["loop"] = loop;
            const Flow f = exec(s.body);
            scopes_.pop_back();
            if (f == Flow::Break) break;
        }
        return Flow::Normal;
    }

    void eval_args(const Expr& e, Args& args, Kwargs& kwargs) {
        for (const auto& a : e.args) args.push_back(eval(*a));
        for (std::size_t k = 0; k < e.kwargs.size(); ++k) kwargs.emplace_back(e.keys[k], eval(*e.kwargs[k]));
    }

    Value get_attr(const Value& obj, const std::string& name, int line) {
        if (obj.t == Value::T::Undefined) fail(line, "attribute '" + name + "' of an undefined value");
        if (obj.t == Value::T::Dict) {
            const Value* v = obj.d->find(name);
            return v ? *v : Value();
        }
        return Value();   // Jinja returns undefined for missing attributes of other objects
    }

    Value get_item(const Value& obj, const Value& key, int line) {
        if (obj.t == Value::T::Undefined) fail(line, "indexing an undefined value");
        if (obj.t == Value::T::Dict) {
            if (key.t != Value::T::Str) return Value();
            const Value* v = obj.d->find(key.s);
            return v ? *v : Value();
        }
        if (obj.t == Value::T::List || obj.t == Value::T::Str) {
            if (!is_int_like(key)) return obj.t == Value::T::List ? Value() : Value();
            if (obj.t == Value::T::List) {
                int64_t k = as_int(key), n = static_cast<int64_t>(obj.l->size());
                if (k < 0) k += n;
                if (k < 0 || k >= n) return Value();
                return (*obj.l)[static_cast<std::size_t>(k)];
            }
            const auto cps = tok::utf8_to_codepoints(obj.s);
            int64_t k = as_int(key), n = static_cast<int64_t>(cps.size());
            if (k < 0) k += n;
            if (k < 0 || k >= n) return Value();
            std::string c;
            tok::utf8_append(c, cps[static_cast<std::size_t>(k)]);
            return Value::str(c);
        }
        return Value();
    }

    Value slice(const Value& obj, const Expr& e) {
        const auto opt = [&](const ExprPtr& p) -> std::optional<int64_t> {
            if (!p) return std::nullopt;
            Value v = eval(*p);
            if (v.t == Value::T::None || v.t == Value::T::Undefined) return std::nullopt;
            if (!is_int_like(v)) fail(e.line, "slice indices must be integers");
            return as_int(v);
        };
        const auto lo = opt(e.b), hi = opt(e.c), st = opt(e.args[0]);
        const int64_t step = st.value_or(1);
        if (step == 0) fail(e.line, "slice step cannot be zero");
        std::vector<Value> items;
        std::vector<uint32_t> cps;
        int64_t n;
        if (obj.t == Value::T::List) n = static_cast<int64_t>(obj.l->size());
        else if (obj.t == Value::T::Str) { cps = tok::utf8_to_codepoints(obj.s); n = static_cast<int64_t>(cps.size()); }
        else fail(e.line, "cannot slice " + obj.type_name());
        // Python's slice.indices().
        const auto clamp = [&](std::optional<int64_t> v, int64_t def) {
            if (!v) return def;
            int64_t x = *v;
            if (x < 0) x += n;
            if (step > 0) return std::clamp<int64_t>(x, 0, n);
            return std::clamp<int64_t>(x, -1, n - 1);
        };
        const int64_t start = clamp(lo, step > 0 ? 0 : n - 1);
        const int64_t stop = clamp(hi, step > 0 ? n : -1);
        Value out = obj.t == Value::T::List ? Value::list() : Value::str("");
        for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
            if (obj.t == Value::T::List) out.l->push_back((*obj.l)[static_cast<std::size_t>(k)]);
            else tok::utf8_append(out.s, cps[static_cast<std::size_t>(k)]);
        }
        return out;
    }

    Value binary(const std::string& op, const Value& a, const Value& b, int line) {
        using T = Value::T;
        if (op == "==") return Value::boolean(equals(a, b));
        if (op == "!=") return Value::boolean(!equals(a, b));
        if (op == "in" || op == "not in") {
            bool r = false;
            if (b.t == T::Str) {
                if (a.t != T::Str) fail(line, "'in <string>' requires a string on the left, not " + a.type_name());
                r = b.s.find(a.s) != std::string::npos;
            } else if (b.t == T::List) {
                r = std::any_of(b.l->begin(), b.l->end(), [&](const Value& x) { return equals(a, x); });
            } else if (b.t == T::Dict) {
                r = a.t == T::Str && b.d->find(a.s) != nullptr;
            } else if (b.t == T::Undefined) {
                r = false;
            } else {
                fail(line, "argument of type " + b.type_name() + " is not iterable");
            }
            return Value::boolean(op == "in" ? r : !r);
        }
        if (op == "~") return Value::str(to_output(a) + to_output(b));
        if (op == "<" || op == ">" || op == "<=" || op == ">=") {
            int c;
            if (a.t == T::Str && b.t == T::Str) c = a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
            else {
                const double x = as_number(a, line, op.c_str()), y = as_number(b, line, op.c_str());
                c = x < y ? -1 : x > y ? 1 : 0;
            }
            if (op == "<") return Value::boolean(c < 0);
            if (op == ">") return Value::boolean(c > 0);
            if (op == "<=") return Value::boolean(c <= 0);
            return Value::boolean(c >= 0);
        }
        if (op == "+") {
            if (a.t == T::Str && b.t == T::Str) return Value::str(a.s + b.s);
            if (a.t == T::List && b.t == T::List) {
                Value r = Value::list(*a.l);
                r.l->insert(r.l->end(), b.l->begin(), b.l->end());
                return r;
            }
            if (a.t == T::Str || b.t == T::Str)
                fail(line, "cannot add " + a.type_name() + " and " + b.type_name() + " (use ~ to concatenate as text)");
        }
        if (op == "*" && ((a.t == T::Str && is_int_like(b)) || (b.t == T::Str && is_int_like(a)))) {
            const std::string& s = a.t == T::Str ? a.s : b.s;
            const int64_t n = a.t == T::Str ? as_int(b) : as_int(a);
            std::string r;
            for (int64_t k = 0; k < n; ++k) r += s;
            return Value::str(r);
        }
        const bool ints = is_int_like(a) && is_int_like(b);
        if (ints && op != "/" && op != "**") {
            const int64_t x = as_int(a), y = as_int(b);
            if (op == "+") return Value::integer(x + y);
            if (op == "-") return Value::integer(x - y);
            if (op == "*") return Value::integer(x * y);
            if (y == 0) fail(line, "division by zero");
            if (op == "//") return Value::integer(floor_div(x, y));
            if (op == "%") return Value::integer(x - floor_div(x, y) * y);
        }
        const double x = as_number(a, line, op.c_str()), y = as_number(b, line, op.c_str());
        if (op == "+") return Value::number(x + y);
        if (op == "-") return Value::number(x - y);
        if (op == "*") return Value::number(x * y);
        if (op == "**") {
            if (ints && as_int(b) >= 0) return Value::integer(static_cast<int64_t>(std::llround(std::pow(x, y))));
            return Value::number(std::pow(x, y));
        }
        if (y == 0) fail(line, "division by zero");
        if (op == "/") return Value::number(x / y);
        if (op == "//") return Value::number(std::floor(x / y));
        if (op == "%") return Value::number(x - std::floor(x / y) * y);
        fail(line, "unsupported operator '" + op + "'");
    }

    Value eval(const Expr& e) {
        switch (e.k) {
            case Expr::K::Literal: return e.literal;
            case Expr::K::Name: return lookup(e.name);
            case Expr::K::List: {
                Value v = Value::list();
                for (const auto& a : e.args) v.l->push_back(eval(*a));
                return v;
            }
            case Expr::K::Dict: {
                Value v = Value::dict();
                for (std::size_t k = 0; k < e.args.size(); ++k) v.d->set(e.keys[k], eval(*e.args[k]));
                return v;
            }
            case Expr::K::Attr: return get_attr(eval(*e.a), e.name, e.line);
            case Expr::K::Index: return get_item(eval(*e.a), eval(*e.b), e.line);
            case Expr::K::Slice: return slice(eval(*e.a), e);
            case Expr::K::Call: {
                Args args;
                Kwargs kwargs;
                if (e.a->k == Expr::K::Attr) {
                    Value obj = eval(*e.a->a);
                    if (obj.t == Value::T::Undefined) fail(e.line, "calling '" + e.a->name + "' on an undefined value");
                    const Value* member = obj.t == Value::T::Dict ? obj.d->find(e.a->name) : nullptr;
                    eval_args(e, args, kwargs);
                    if (member && member->t == Value::T::Func) return (*member->fn)(args, kwargs);
                    return call_method(obj, e.a->name, args, kwargs, e.line);
                }
                Value f = eval(*e.a);
                if (f.t != Value::T::Func) {
                    const std::string what = e.a->k == Expr::K::Name ? "'" + e.a->name + "'" : "value";
                    fail(e.line, f.t == Value::T::Undefined ? "unknown function " + what : what + " is not callable");
                }
                eval_args(e, args, kwargs);
                return (*f.fn)(args, kwargs);
            }
            case Expr::K::Filter: {
                Args args;
                Kwargs kwargs;
                Value v = eval(*e.a);
                eval_args(e, args, kwargs);
                return call_filter(e.name, std::move(v), args, kwargs, e.line);
            }
            case Expr::K::Test: {
                Args args;
                Kwargs kwargs;
                Value v = eval(*e.a);
                eval_args(e, args, kwargs);
                const bool r = call_test(e.name, v, args, e.line);
                return Value::boolean(e.negate ? !r : r);
            }
            case Expr::K::Not: return Value::boolean(!eval(*e.a).truthy());
            case Expr::K::Neg: {
                Value v = eval(*e.a);
                if (v.t == Value::T::Int) return Value::integer(-v.i);
                return Value::number(-as_number(v, e.line, "-"));
            }
            case Expr::K::And: {
                Value a = eval(*e.a);
                return a.truthy() ? eval(*e.b) : a;
            }
            case Expr::K::Or: {
                Value a = eval(*e.a);
                return a.truthy() ? a : eval(*e.b);
            }
            case Expr::K::Binary: return binary(e.name, eval(*e.a), eval(*e.b), e.line);
            case Expr::K::Ternary:
                if (eval(*e.a).truthy()) return eval(*e.b);
                return e.c ? eval(*e.c) : Value();
        }
        return Value();
    }

    std::vector<std::map<std::string, Value>> scopes_;
    std::string out_;
};

}  // namespace

std::string render(const Template& t, const std::map<std::string, Value>& globals) {
    Renderer r(globals);
    return r.run(t.body);
}

}  // namespace moescope::jinja
