#pragma once
// Internals of the chat-template renderer (see chat_template.h): values, syntax tree, parser and
// evaluator for the Jinja2 subset used by Hugging Face chat templates.
// Reference for semantics: the Jinja2 documentation (Template Designer Documentation) and
// transformers' chat_template_utils (environment options and extra globals).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace moescope::jinja {

struct Value;
using List = std::vector<Value>;
struct Dict;
using Args = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;
using Function = std::function<Value(Args&, Kwargs&)>;

struct Value {
    enum class T { Undefined, None, Bool, Int, Float, Str, List, Dict, Func } t = T::Undefined;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;
    std::shared_ptr<jinja::List> l;
    std::shared_ptr<jinja::Dict> d;
    std::shared_ptr<Function> fn;

    static Value none() { Value v; v.t = T::None; return v; }
    static Value boolean(bool x) { Value v; v.t = T::Bool; v.b = x; return v; }
    static Value integer(int64_t x) { Value v; v.t = T::Int; v.i = x; return v; }
    static Value number(double x) { Value v; v.t = T::Float; v.f = x; return v; }
    static Value str(std::string x) { Value v; v.t = T::Str; v.s = std::move(x); return v; }
    static Value list(jinja::List x = {});
    static Value dict(bool is_namespace = false);
    static Value func(Function f) { Value v; v.t = T::Func; v.fn = std::make_shared<Function>(std::move(f)); return v; }
    static Value from_json(const nlohmann::json& j);

    bool is_undefined() const { return t == T::Undefined; }
    bool truthy() const;
    std::string type_name() const;
};

struct Dict {
    std::vector<std::pair<std::string, Value>> items;   // insertion order, like a Python dict
    bool is_namespace = false;
    const Value* find(const std::string& k) const {
        for (const auto& kv : items)
            if (kv.first == k) return &kv.second;
        return nullptr;
    }
    void set(const std::string& k, Value v) {
        for (auto& kv : items)
            if (kv.first == k) { kv.second = std::move(v); return; }
        items.emplace_back(k, std::move(v));
    }
};

// Python-like rendering of a value ({{ x }} and the |string filter).
std::string to_output(const Value& v);
std::string repr(const Value& v);
// Python json.dumps(v, ensure_ascii=False, indent=indent (<0: none)), keys in insertion order.
std::string to_json_text(const Value& v, int indent, int line);
bool equals(const Value& a, const Value& b);

// ----------------------------------------------------------------------------- syntax tree

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class K { Literal, Name, List, Dict, Attr, Index, Slice, Call, Filter, Test, Not, Neg, Binary, And, Or, Ternary } k = K::Literal;
    int line = 0;
    Value literal;
    std::string name;                 // Name, Attr, Filter, Test, Binary operator
    ExprPtr a, b, c;                  // operands (Index: a[b]; Slice: a[b:c:d->args[0]]; Ternary: b if a else c)
    std::vector<ExprPtr> args;        // List items, call/filter/test args, Dict values, slice step
    std::vector<std::string> keys;    // Dict keys / kwarg names (parallel to kwargs)
    std::vector<ExprPtr> kwargs;
    bool negate = false;              // Test: `is not`
};

struct Stmt;
using Body = std::vector<Stmt>;

struct Stmt {
    enum class K { Text, Output, If, For, Set, Break, Continue } k = K::Text;
    int line = 0;
    std::string text;
    ExprPtr expr;                                     // Output value, Set value, For iterable
    std::vector<std::pair<ExprPtr, Body>> branches;   // If: (condition or null for else, body)
    std::vector<std::string> targets;                 // For/Set target names
    std::string attr;                                 // Set: ns.attr
    ExprPtr filter;                                   // For ... if filter
    Body body, else_body;
};

struct Template {
    Body body;
};

// Parses a template; throws moescope::Error("chat template line N: ...").
Template parse(const std::string& source);
// Renders with the given globals; throws moescope::Error on raise_exception or unsupported use.
std::string render(const Template& t, const std::map<std::string, Value>& globals);

}  // namespace moescope::jinja
