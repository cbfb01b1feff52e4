// Values of the chat-template renderer: conversions, Python-like printing, equality.
#include <cmath>
#include <cstdio>

#include "engine/tokenizer/jinja.h"

namespace moescope::jinja {

Value Value::list(jinja::List x) {
    Value v;
    v.t = T::List;
    v.l = std::make_shared<jinja::List>(std::move(x));
    return v;
}

Value Value::dict(bool is_namespace) {
    Value v;
    v.t = T::Dict;
    v.d = std::make_shared<jinja::Dict>();
    v.d->is_namespace = is_namespace;
    return v;
}

Value Value::from_json(const nlohmann::json& j) {
    switch (j.type()) {
        case nlohmann::json::value_t::null: return none();
        case nlohmann::json::value_t::boolean: return boolean(j.get<bool>());
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned: return integer(j.get<int64_t>());
        case nlohmann::json::value_t::number_float: return number(j.get<double>());
        case nlohmann::json::value_t::string: return str(j.get<std::string>());
        case nlohmann::json::value_t::array: {
            Value v = list();
            for (const auto& x : j) v.l->push_back(from_json(x));
            return v;
        }
        case nlohmann::json::value_t::object: {
            Value v = dict();
            for (auto it = j.begin(); it != j.end(); ++it) v.d->set(it.key(), from_json(it.value()));
            return v;
        }
        default: return Value();
    }
}

bool Value::truthy() const {
    switch (t) {
        case T::Undefined:
        case T::None: return false;
        case T::Bool: return b;
        case T::Int: return i != 0;
        case T::Float: return f != 0.0;
        case T::Str: return !s.empty();
        case T::List: return !l->empty();
        case T::Dict: return d->is_namespace || !d->items.empty();
        case T::Func: return true;
    }
    return false;
}

std::string Value::type_name() const {
    switch (t) {
        case T::Undefined: return "undefined";
        case T::None: return "none";
        case T::Bool: return "bool";
        case T::Int: return "int";
        case T::Float: return "float";
        case T::Str: return "string";
        case T::List: return "list";
        case T::Dict: return d->is_namespace ? "namespace" : "dict";
        case T::Func: return "function";
    }
    return "?";
}

namespace {
std::string float_repr(double f) {
    if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
    if (std::isnan(f)) return "nan";
    char buf[64];
    for (int prec = 1; prec <= 17; ++prec) {   // shortest round-trip form, like Python's repr
        std::snprintf(buf, sizeof buf, "%.*g", prec, f);
        if (std::strtod(buf, nullptr) == f) break;
    }
    std::string s = buf;
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s;
}

std::string quote_py(const std::string& s) {
    const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = use_double ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
        if (c == q || c == '\\') { out.push_back('\\'); out.push_back(c); }
        else if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else out.push_back(c);
    }
    out.push_back(q);
    return out;
}
}  // namespace

std::string repr(const Value& v) {
    switch (v.t) {
        case Value::T::Str: return quote_py(v.s);
        case Value::T::List: {
            std::string out = "[";
            for (std::size_t k = 0; k < v.l->size(); ++k) out += (k ? ", " : "") + repr((*v.l)[k]);
            return out + "]";
        }
        case Value::T::Dict: {
            if (v.d->is_namespace) return "<Namespace>";
            std::string out = "{";
            for (std::size_t k = 0; k < v.d->items.size(); ++k)
                out += (k ? ", " : "") + quote_py(v.d->items[k].first) + ": " + repr(v.d->items[k].second);
            return out + "}";
        }
        default: return to_output(v);
    }
}

std::string to_output(const Value& v) {
    switch (v.t) {
        case Value::T::Undefined: return "";
        case Value::T::None: return "None";
        case Value::T::Bool: return v.b ? "True" : "False";
        case Value::T::Int: return std::to_string(v.i);
        case Value::T::Float: return float_repr(v.f);
        case Value::T::Str: return v.s;
        case Value::T::Func: return "<function>";
        default: return repr(v);
    }
}

namespace {
void json_string(std::string& out, const std::string& s) {
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    out.push_back('"');
}

void json_value(std::string& out, const Value& v, int indent, int depth, int line) {
    const auto newline = [&](int d) {
        if (indent < 0) return;
        out.push_back('\n');
        out.append(static_cast<std::size_t>(indent * d), ' ');
    };
    switch (v.t) {
        case Value::T::None: out += "null"; return;
        case Value::T::Bool: out += v.b ? "true" : "false"; return;
        case Value::T::Int: out += std::to_string(v.i); return;
        case Value::T::Float: out += float_repr(v.f); return;
        case Value::T::Str: json_string(out, v.s); return;
        case Value::T::List:
            if (v.l->empty()) { out += "[]"; return; }
            out.push_back('[');
            for (std::size_t k = 0; k < v.l->size(); ++k) {
                if (k) out += indent < 0 ? ", " : ",";
                newline(depth + 1);
                json_value(out, (*v.l)[k], indent, depth + 1, line);
            }
            newline(depth);
            out.push_back(']');
            return;
        case Value::T::Dict:
            if (v.d->items.empty()) { out += "{}"; return; }
            out.push_back('{');
            for (std::size_t k = 0; k < v.d->items.size(); ++k) {
                if (k) out += indent < 0 ? ", " : ",";
                newline(depth + 1);
                json_string(out, v.d->items[k].first);
                out += ": ";
                json_value(out, v.d->items[k].second, indent, depth + 1, line);
            }
            newline(depth);
            out.push_back('}');
            return;
        default:
            throw Error("chat template line " + std::to_string(line) + ": cannot convert " + v.type_name() + " to JSON");
    }
}
}  // namespace

// Python's json.dumps(x, ensure_ascii=False[, indent]) as used by transformers' tojson filter.
std::string to_json_text(const Value& v, int indent, int line) {
    std::string out;
    json_value(out, v, indent, 0, line);
    return out;
}

bool equals(const Value& a, const Value& b) {
    using T = Value::T;
    const auto numeric = [](const Value& v) { return v.t == T::Int || v.t == T::Float || v.t == T::Bool; };
    if (numeric(a) && numeric(b)) {
        const double x = a.t == T::Float ? a.f : a.t == T::Int ? double(a.i) : double(a.b);
        const double y = b.t == T::Float ? b.f : b.t == T::Int ? double(b.i) : double(b.b);
        if (a.t == T::Int && b.t == T::Int) return a.i == b.i;
        return x == y;
    }
    if (a.t != b.t) return false;
    switch (a.t) {
        case T::Undefined:
        case T::None: return true;
        case T::Str: return a.s == b.s;
        case T::List:
            if (a.l->size() != b.l->size()) return false;
            for (std::size_t k = 0; k < a.l->size(); ++k)
                if (!equals((*a.l)[k], (*b.l)[k])) return false;
            return true;
        case T::Dict:
            if (a.d == b.d) return true;
            if (a.d->items.size() != b.d->items.size()) return false;
            for (const auto& [k, x] : a.d->items) {
                const Value* y = b.d->find(k);
                if (!y || !equals(x, *y)) return false;
            }
            return true;
        default: return false;
    }
}

}  // namespace moescope::jinja
