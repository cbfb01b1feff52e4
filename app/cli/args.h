#pragma once
// A small, strict command-line parser shared by every moescope-cli subcommand. Unknown flags, missing
// values and malformed numbers raise UsageError, which main() turns into a message and exit code 2.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace moescope::cli {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Args {
public:
    // Declare the flags a subcommand accepts before calling parse().
    Args& flag(const std::string& name, const std::string& help);                    // --name (boolean)
    Args& option(const std::string& name, const std::string& help, bool repeatable = false);  // --name VALUE
    Args& positional(const std::string& name, const std::string& help, bool required = true);

    void parse(const std::vector<std::string>& argv);  // throws UsageError
    std::string usage(const std::string& command) const;

    bool has(const std::string& name) const;
    std::string get(const std::string& name) const;                        // throws UsageError if absent
    std::string get_or(const std::string& name, const std::string& def) const;
    std::vector<std::string> all(const std::string& name) const;           // repeatable options
    long long get_int(const std::string& name, long long def) const;       // throws on malformed
    double get_double(const std::string& name, double def) const;
    std::optional<std::string> pos(const std::string& name) const;
    bool help_requested() const { return help_; }

private:
    struct Spec {
        std::string name, help;
        bool takes_value = false, repeatable = false;
    };
    std::vector<Spec> specs_;
    std::vector<std::pair<std::string, bool>> positional_specs_;
    std::map<std::string, std::string> positional_help_;
    std::map<std::string, std::vector<std::string>> values_;
    std::map<std::string, std::string> positionals_;
    bool help_ = false;
};

long long parse_int(const std::string& text, const std::string& what);   // throws UsageError
double parse_double(const std::string& text, const std::string& what);   // throws UsageError

}  // namespace moescope::cli
