// Filters, tests and methods of the chat-template Jinja subset (Jinja2 builtins and the Python
// str/dict methods templates call). Unknown names raise an Error naming them.
#include <algorithm>
#include <cmath>

#include "engine/tokenizer/jinja.h"
#include "engine/tokenizer/unicode.h"

namespace moescope::jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& what) {
    throw Error("chat template line " + std::to_string(line) + ": " + what);
}

const Value* kwarg(Kwargs& kw, const char* name) {
    for (auto& [k, v] : kw)
        if (k == name) return &v;
    return nullptr;
}

// Positional argument k, or keyword `name`, or nullptr.
const Value* arg(Args& a, Kwargs& kw, std::size_t k, const char* name) {
    if (k < a.size()) return &a[k];
    return kwarg(kw, name);
}

std::string need_str(const Value& v, int line, const char* what) {
    if (v.t != Value::T::Str) fail(line, std::string(what) + " expects a string, got " + v.type_name());
    return v.s;
}

bool py_space(uint32_t cp) { return tok::is_white_space(cp) || (cp >= 0x1C && cp <= 0x1F); }

// Python str.strip/lstrip/rstrip: `chars` as a set of code points, or whitespace when absent.
std::string strip(const std::string& s, const Value* chars, bool left, bool right) {
    const std::vector<uint32_t> cps = tok::utf8_to_codepoints(s);
    std::vector<uint32_t> set;
    const bool ws = !chars || chars->t == Value::T::None;
    if (!ws) set = tok::utf8_to_codepoints(chars->s);
    const auto drop = [&](uint32_t c) { return ws ? py_space(c) : std::find(set.begin(), set.end(), c) != set.end(); };
    std::size_t b = 0, e = cps.size();
    if (left) while (b < e && drop(cps[b])) ++b;
    if (right) while (e > b && drop(cps[e - 1])) --e;
    std::string out;
    for (std::size_t k = b; k < e; ++k) tok::utf8_append(out, cps[k]);
    return out;
}

Value split(const std::string& s, const Value* sep, int64_t maxsplit, int line) {
    Value out = Value::list();
    if (!sep || sep->t == Value::T::None) {   // whitespace runs, no empty strings
        const std::vector<uint32_t> cps = tok::utf8_to_codepoints(s);
        std::size_t k = 0;
        int64_t splits = 0;
        while (k < cps.size()) {
            while (k < cps.size() && py_space(cps[k])) ++k;
            if (k >= cps.size()) break;
            std::string word;
            if (maxsplit >= 0 && splits >= maxsplit) {
                for (; k < cps.size(); ++k) tok::utf8_append(word, cps[k]);
                out.l->push_back(Value::str(word));   // the remainder is kept as is
                break;
            }
            while (k < cps.size() && !py_space(cps[k])) tok::utf8_append(word, cps[k++]);
            out.l->push_back(Value::str(word));
            ++splits;
        }
        return out;
    }
    const std::string sp = need_str(*sep, line, "split");
    if (sp.empty()) fail(line, "split: empty separator");
    std::size_t pos = 0;
    int64_t splits = 0;
    for (;;) {
        const std::size_t at = (maxsplit >= 0 && splits >= maxsplit) ? std::string::npos : s.find(sp, pos);
        if (at == std::string::npos) {
            out.l->push_back(Value::str(s.substr(pos)));
            return out;
        }
        out.l->push_back(Value::str(s.substr(pos, at - pos)));
        pos = at + sp.size();
        ++splits;
    }
}

std::string case_map(const std::string& s, bool upper) {
    std::string r = s;
    for (char& c : r) {
        if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return r;
}

std::string replace_all(const std::string& s, const std::string& a, const std::string& b, int64_t count) {
    if (a.empty()) return s;
    std::string out;
    std::size_t pos = 0;
    int64_t n = 0;
    for (std::size_t at; (count < 0 || n < count) && (at = s.find(a, pos)) != std::string::npos; pos = at + a.size(), ++n)
        out += s.substr(pos, at - pos) + b;
    return out + s.substr(pos);
}

int64_t length_of(const Value& v, int line) {
    switch (v.t) {
        case Value::T::Str: return static_cast<int64_t>(tok::utf8_to_codepoints(v.s).size());
        case Value::T::List: return static_cast<int64_t>(v.l->size());
        case Value::T::Dict: return static_cast<int64_t>(v.d->items.size());
        case Value::T::Undefined: return 0;
        default: fail(line, "object of type " + v.type_name() + " has no length");
    }
}

Value items_of(const Value& v, int line) {
    if (v.t == Value::T::Undefined) return Value::list();
    if (v.t != Value::T::Dict) fail(line, "items() needs a mapping, got " + v.type_name());
    Value out = Value::list();
    for (const auto& [k, x] : v.d->items) out.l->push_back(Value::list({Value::str(k), x}));
    return out;
}

Value to_list(const Value& v, int line) {
    switch (v.t) {
        case Value::T::List: return Value::list(*v.l);
        case Value::T::Undefined: return Value::list();
        case Value::T::Dict: {
            Value out = Value::list();
            for (const auto& kv : v.d->items) out.l->push_back(Value::str(kv.first));
            return out;
        }
        case Value::T::Str: {
            Value out = Value::list();
            for (uint32_t cp : tok::utf8_to_codepoints(v.s)) {
                std::string c;
                tok::utf8_append(c, cp);
                out.l->push_back(Value::str(c));
            }
            return out;
        }
        default: fail(line, "'" + v.type_name() + "' object is not iterable");
    }
}

Value attribute_of(const Value& v, const std::string& name) {
    if (v.t != Value::T::Dict) return Value();
    const Value* x = v.d->find(name);
    return x ? *x : Value();
}

}  // namespace

bool call_test(const std::string& name, const Value& v, Args& args, int line) {
    using T = Value::T;
    const auto need_arg = [&]() -> const Value& {
        if (args.empty()) fail(line, "test '" + name + "' needs an argument");
        return args[0];
    };
    if (name == "defined") return v.t != T::Undefined;
    if (name == "undefined") return v.t == T::Undefined;
    if (name == "none") return v.t == T::None;
    if (name == "string") return v.t == T::Str;
    if (name == "number") return v.t == T::Int || v.t == T::Float;
    if (name == "integer") return v.t == T::Int;
    if (name == "float") return v.t == T::Float;
    if (name == "boolean") return v.t == T::Bool;
    if (name == "true") return v.t == T::Bool && v.b;
    if (name == "false") return v.t == T::Bool && !v.b;
    if (name == "mapping") return v.t == T::Dict;
    if (name == "sequence" || name == "iterable") return v.t == T::List || v.t == T::Str || v.t == T::Dict;
    if (name == "callable") return v.t == T::Func;
    if (name == "odd" || name == "even") {
        if (v.t != T::Int) fail(line, "test '" + name + "' needs an integer");
        return (v.i % 2 != 0) == (name == "odd");
    }
    if (name == "divisibleby") {
        const Value& n = need_arg();
        if (v.t != T::Int || n.t != T::Int || n.i == 0) fail(line, "divisibleby needs non-zero integers");
        return v.i % n.i == 0;
    }
    if (name == "eq" || name == "equalto" || name == "==") return equals(v, need_arg());
    if (name == "ne" || name == "!=") return !equals(v, need_arg());
    if (name == "sameas") return equals(v, need_arg()) && v.t == need_arg().t;
    if (name == "in") {
        const Value& c = need_arg();
        if (c.t == T::List) return std::any_of(c.l->begin(), c.l->end(), [&](const Value& x) { return equals(v, x); });
        if (c.t == T::Str && v.t == T::Str) return c.s.find(v.s) != std::string::npos;
        if (c.t == T::Dict && v.t == T::Str) return c.d->find(v.s) != nullptr;
        return false;
    }
    if (name == "lower") return v.t == T::Str && case_map(v.s, false) == v.s;
    if (name == "upper") return v.t == T::Str && case_map(v.s, true) == v.s;
    if (name == "lt" || name == "gt" || name == "le" || name == "ge" || name == "<" || name == ">" || name == "<=" || name == ">=") {
        const Value& o = need_arg();
        const auto num = [&](const Value& x) {
            if (x.t == T::Int) return double(x.i);
            if (x.t == T::Float) return x.f;
            fail(line, "test '" + name + "' needs numbers");
        };
        const double a = num(v), b = num(o);
        if (name == "lt" || name == "<") return a < b;
        if (name == "gt" || name == ">") return a > b;
        if (name == "le" || name == "<=") return a <= b;
        return a >= b;
    }
    fail(line, "unsupported test 'is " + name + "'");
}

Value call_filter(const std::string& name, Value v, Args& args, Kwargs& kw, int line) {
    using T = Value::T;
    if (name == "length" || name == "count") return Value::integer(length_of(v, line));
    if (name == "trim") {
        const Value* chars = arg(args, kw, 0, "chars");
        return Value::str(strip(to_output(v), chars, true, true));
    }
    if (name == "string") return Value::str(to_output(v));
    if (name == "safe") return v;
    if (name == "upper" || name == "lower") return Value::str(case_map(to_output(v), name == "upper"));
    if (name == "capitalize" || name == "title") {
        std::string s = case_map(to_output(v), false);
        bool start = true;
        for (char& c : s) {
            if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
            start = name == "title" ? !(std::isalnum(static_cast<unsigned char>(c))) : false;
        }
        return Value::str(s);
    }
    if (name == "default" || name == "d") {
        const Value* def = arg(args, kw, 0, "default_value");
        const Value* boolean = arg(args, kw, 1, "boolean");
        const bool use = v.t == T::Undefined || (boolean && boolean->truthy() && !v.truthy());
        return use ? (def ? *def : Value::str("")) : v;
    }
    if (name == "tojson") {
        const Value* indent = arg(args, kw, 0, "indent");
        return Value::str(to_json_text(v, indent && indent->t == T::Int ? static_cast<int>(indent->i) : -1, line));
    }
    if (name == "join") {
        const Value* sep = arg(args, kw, 0, "d");
        const Value* attr = arg(args, kw, 1, "attribute");
        std::string out;
        const Value items = to_list(v, line);
        for (std::size_t k = 0; k < items.l->size(); ++k) {
            if (k && sep) out += to_output(*sep);
            const Value& x = (*items.l)[k];
            out += to_output(attr ? attribute_of(x, to_output(*attr)) : x);
        }
        return Value::str(out);
    }
    if (name == "first" || name == "last") {
        const Value items = to_list(v, line);
        if (items.l->empty()) return Value();
        return name == "first" ? items.l->front() : items.l->back();
    }
    if (name == "list") return to_list(v, line);
    if (name == "items") return items_of(v, line);
    if (name == "reverse") {
        if (v.t == T::Str) {
            auto cps = tok::utf8_to_codepoints(v.s);
            std::reverse(cps.begin(), cps.end());
            std::string out;
            for (uint32_t c : cps) tok::utf8_append(out, c);
            return Value::str(out);
        }
        Value items = to_list(v, line);
        std::reverse(items.l->begin(), items.l->end());
        return items;
    }
    if (name == "replace") {
        if (args.size() < 2) fail(line, "replace needs two arguments");
        const Value* count = arg(args, kw, 2, "count");
        return Value::str(replace_all(to_output(v), to_output(args[0]), to_output(args[1]), count && count->t == T::Int ? count->i : -1));
    }
    if (name == "int") {
        if (v.t == T::Int) return v;
        if (v.t == T::Float) return Value::integer(static_cast<int64_t>(v.f));
        if (v.t == T::Bool) return Value::integer(v.b);
        if (v.t == T::Str) { try { return Value::integer(std::stoll(v.s)); } catch (...) {} }
        return Value::integer(0);
    }
    if (name == "float") {
        if (v.t == T::Int) return Value::number(double(v.i));
        if (v.t == T::Float) return v;
        if (v.t == T::Str) { try { return Value::number(std::stod(v.s)); } catch (...) {} }
        return Value::number(0.0);
    }
    if (name == "abs") {
        if (v.t == T::Int) return Value::integer(v.i < 0 ? -v.i : v.i);
        if (v.t == T::Float) return Value::number(std::fabs(v.f));
        fail(line, "abs needs a number");
    }
    if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
        const bool by_attr = name == "selectattr" || name == "rejectattr";
        const bool keep_if = name == "selectattr" || name == "select";
        const std::size_t first = by_attr ? 1 : 0;
        if (by_attr && args.empty()) fail(line, name + " needs an attribute name");
        Value out = Value::list();
        const Value items = to_list(v, line);
        for (const Value& x : *items.l) {
            const Value subject = by_attr ? attribute_of(x, to_output(args[0])) : x;
            bool r;
            if (args.size() > first) {
                Args targs(args.begin() + static_cast<long>(first) + 1, args.end());
                r = call_test(to_output(args[first]), subject, targs, line);
            } else {
                r = subject.truthy();
            }
            if (r == keep_if) out.l->push_back(x);
        }
        return out;
    }
    if (name == "map") {
        const Value* attr = kwarg(kw, "attribute");
        Value out = Value::list();
        const Value items = to_list(v, line);
        for (const Value& x : *items.l) {
            if (attr) {
                out.l->push_back(attribute_of(x, to_output(*attr)));
            } else {
                if (args.empty()) fail(line, "map needs a filter name or attribute=");
                Args fargs(args.begin() + 1, args.end());
                Kwargs fkw;
                out.l->push_back(call_filter(to_output(args[0]), x, fargs, fkw, line));
            }
        }
        return out;
    }
    if (name == "unique") {
        Value out = Value::list();
        const Value items = to_list(v, line);
        for (const Value& x : *items.l)
            if (std::none_of(out.l->begin(), out.l->end(), [&](const Value& y) { return equals(x, y); })) out.l->push_back(x);
        return out;
    }
    fail(line, "unsupported filter '|" + name + "'");
}

Value call_method(Value& obj, const std::string& name, Args& args, Kwargs& kw, int line) {
    using T = Value::T;
    if (obj.t == T::Str) {
        const std::string& s = obj.s;
        if (name == "startswith" || name == "endswith") {
            if (args.empty()) fail(line, name + " needs an argument");
            std::vector<std::string> cands;
            if (args[0].t == T::List) for (const auto& x : *args[0].l) cands.push_back(need_str(x, line, name.c_str()));
            else cands.push_back(need_str(args[0], line, name.c_str()));
            for (const auto& c : cands) {
                if (name == "startswith" ? s.compare(0, c.size(), c) == 0
                                         : (s.size() >= c.size() && s.compare(s.size() - c.size(), c.size(), c) == 0))
                    return Value::boolean(true);
            }
            return Value::boolean(false);
        }
        if (name == "strip" || name == "lstrip" || name == "rstrip") {
            const Value* chars = arg(args, kw, 0, "chars");
            return Value::str(strip(s, chars, name != "rstrip", name != "lstrip"));
        }
        if (name == "split") {
            const Value* sep = arg(args, kw, 0, "sep");
            const Value* maxsplit = arg(args, kw, 1, "maxsplit");
            return split(s, sep, maxsplit && maxsplit->t == T::Int ? maxsplit->i : -1, line);
        }
        if (name == "upper" || name == "lower") return Value::str(case_map(s, name == "upper"));
        if (name == "title" || name == "capitalize") {
            Args a;
            Kwargs k;
            return call_filter(name, obj, a, k, line);
        }
        if (name == "replace") {
            if (args.size() < 2) fail(line, "replace needs two arguments");
            return Value::str(replace_all(s, need_str(args[0], line, "replace"), need_str(args[1], line, "replace"),
                                          args.size() > 2 && args[2].t == T::Int ? args[2].i : -1));
        }
        if (name == "find") {
            if (args.empty()) fail(line, "find needs an argument");
            const auto at = s.find(need_str(args[0], line, "find"));
            if (at == std::string::npos) return Value::integer(-1);
            return Value::integer(static_cast<int64_t>(tok::utf8_to_codepoints(s.substr(0, at)).size()));
        }
        if (name == "count") {
            if (args.empty()) fail(line, "count needs an argument");
            const std::string sub = need_str(args[0], line, "count");
            int64_t n = 0;
            if (sub.empty()) return Value::integer(length_of(obj, line) + 1);
            for (std::size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
            return Value::integer(n);
        }
        if (name == "join") {
            if (args.empty()) fail(line, "join needs an argument");
            const Value items = to_list(args[0], line);
            std::string out;
            for (std::size_t k = 0; k < items.l->size(); ++k) out += (k ? s : "") + need_str((*items.l)[k], line, "join");
            return Value::str(out);
        }
        if (name == "isdigit" || name == "isspace" || name == "isalpha") {
            if (s.empty()) return Value::boolean(false);
            for (uint32_t c : tok::utf8_to_codepoints(s)) {
                const tok::Gc g = tok::general_category(c);
                const bool ok = name == "isdigit" ? g == tok::Gc::Nd : name == "isspace" ? py_space(c)
                                                                     : (tok::gc_bit(g) & tok::kGcLetter) != 0;
                if (!ok) return Value::boolean(false);
            }
            return Value::boolean(true);
        }
    } else if (obj.t == T::Dict && !obj.d->is_namespace) {
        if (name == "items") return items_of(obj, line);
        if (name == "keys") return to_list(obj, line);
        if (name == "values") {
            Value out = Value::list();
            for (const auto& kv : obj.d->items) out.l->push_back(kv.second);
            return out;
        }
        if (name == "get") {
            if (args.empty()) fail(line, "get needs a key");
            const Value* x = args[0].t == T::Str ? obj.d->find(args[0].s) : nullptr;
            return x ? *x : (args.size() > 1 ? args[1] : Value::none());
        }
    }
    fail(line, "unsupported method '" + name + "' on " + obj.type_name());
}

}  // namespace moescope::jinja
