#include "app/cli/args.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace moescope::cli {

Args& Args::flag(const std::string& name, const std::string& help) {
    specs_.push_back({name, help, false, false});
    return *this;
}

Args& Args::option(const std::string& name, const std::string& help, bool repeatable) {
    specs_.push_back({name, help, true, repeatable});
    return *this;
}

Args& Args::positional(const std::string& name, const std::string& help, bool required) {
    positional_specs_.emplace_back(name, required);
    positional_help_[name] = help;
    return *this;
}

void Args::parse(const std::vector<std::string>& argv) {
    size_t next_pos = 0;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "-h" || a == "--help") {
            help_ = true;
            continue;
        }
        if (a.size() > 2 && a.rfind("--", 0) == 0) {
            std::string name = a.substr(2);
            std::optional<std::string> inline_value;
            if (auto eq = name.find('='); eq != std::string::npos) {
                inline_value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            const Spec* spec = nullptr;
            for (const auto& s : specs_)
                if (s.name == name) spec = &s;
            if (!spec) throw UsageError("unknown option --" + name);
            if (!spec->takes_value) {
                if (inline_value) throw UsageError("option --" + name + " takes no value");
                values_[name].push_back("1");
                continue;
            }
            std::string value;
            if (inline_value) {
                value = *inline_value;
            } else {
                if (i + 1 >= argv.size()) throw UsageError("option --" + name + " needs a value");
                value = argv[++i];
            }
            if (!spec->repeatable && values_.count(name))
                throw UsageError("option --" + name + " given more than once");
            values_[name].push_back(value);
            continue;
        }
        if (next_pos >= positional_specs_.size()) throw UsageError("unexpected argument '" + a + "'");
        positionals_[positional_specs_[next_pos++].first] = a;
    }
    if (help_) return;
    for (size_t p = next_pos; p < positional_specs_.size(); ++p)
        if (positional_specs_[p].second) throw UsageError("missing argument " + positional_specs_[p].first);
}

std::string Args::usage(const std::string& command) const {
    std::ostringstream os;
    os << "usage: moescope-cli " << command;
    for (const auto& [name, required] : positional_specs_) os << (required ? " " : " [") << name << (required ? "" : "]");
    os << (specs_.empty() ? "" : " [options]") << "\n";
    for (const auto& [name, required] : positional_specs_) {
        (void)required;
        os << "  " << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << positional_help_.at(name) << "\n";
    }
    for (const auto& s : specs_) {
        std::string left = "--" + s.name + (s.takes_value ? " VALUE" : "");
        os << "  " << left << std::string(left.size() < 22 ? 22 - left.size() : 1, ' ') << s.help
           << (s.repeatable ? " (repeatable)" : "") << "\n";
    }
    return os.str();
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) throw UsageError("missing required option --" + name);
    return it->second.back();
}

std::string Args::get_or(const std::string& name, const std::string& def) const {
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::get_int(const std::string& name, long long def) const {
    return has(name) ? parse_int(get(name), "--" + name) : def;
}

double Args::get_double(const std::string& name, double def) const {
    return has(name) ? parse_double(get(name), "--" + name) : def;
}

std::optional<std::string> Args::pos(const std::string& name) const {
    auto it = positionals_.find(name);
    if (it == positionals_.end()) return std::nullopt;
    return it->second;
}

long long parse_int(const std::string& text, const std::string& what) {
    if (text.empty()) throw UsageError(what + ": expected an integer, got an empty string");
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || end != text.c_str() + text.size())
        throw UsageError(what + ": expected an integer, got '" + text + "'");
    return v;
}

double parse_double(const std::string& text, const std::string& what) {
    if (text.empty()) throw UsageError(what + ": expected a number, got an empty string");
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (errno != 0 || end != text.c_str() + text.size())
        throw UsageError(what + ": expected a number, got '" + text + "'");
    return v;
}

}  // namespace moescope::cli
