#include <cstdlib>
#include <cmath>
#include <cstdio>

#include "analysis/serialize.h"

namespace moescope::analysis {

nlohmann::json preset_json(const std::string& name, const std::vector<ExpertRef>& disable) {
    nlohmann::json d = nlohmann::json::array();
    for (const auto& r : disable) d.push_back({r.layer, r.expert});
    return {{"name", name}, {"disable", d}};
}

std::string csv_row(const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i) out += ',';
        const std::string& c = cells[i];
        if (c.find_first_of(",\"\n\r") == std::string::npos) {
            out += c;
        } else {
            out += '"';
            for (char ch : c) {
                if (ch == '"') out += '"';
                out += ch;
            }
            out += '"';
        }
    }
    out += '\n';
    return out;
}

std::string csv_num(double v) {
    if (!std::isfinite(v)) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    // Shorten when a shorter form round-trips (keeps CSVs readable).
    for (int prec = 6; prec < 17; ++prec) {
        char s[32];
        std::snprintf(s, sizeof s, "%.*g", prec, v);
        if (std::strtod(s, nullptr) == v) return s;
    }
    return buf;
}

}  // namespace moescope::analysis
