#include "engine/presets.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace moescope {

using nlohmann::json;

namespace {

int as_int(const json& v, const std::string& where) {
    if (!v.is_number_integer()) throw Error(where + ": expected an integer, got " + v.dump());
    const int64_t x = v.get<int64_t>();
    if (x < INT32_MIN || x > INT32_MAX) throw Error(where + ": " + v.dump() + " is out of range");
    return static_cast<int>(x);
}

const json& pairs(const json& j, const char* key, const std::string& src) {
    if (!j[key].is_array()) throw Error(src + ": '" + key + "' must be an array");
    return j[key];
}

}  // namespace

Result<Preset> parse_preset(const std::string& text, const std::string& src) {
    return try_result([&]() -> Preset {
        json j;
        try {
            j = json::parse(text);
        } catch (const json::parse_error& e) {
            throw Error(src + ": malformed JSON: " + e.what());
        }
        if (!j.is_object()) throw Error(src + ": a preset must be a JSON object");
        static const char* known[] = {"name", "disable", "force", "bias", "top_k", "top_k_per_layer", "top_p", "top_p_max_k",
                                      "rank_only", "rank_only_layers", "zero_output"};
        for (auto it = j.begin(); it != j.end(); ++it) {
            bool ok = false;
            for (const char* k : known) ok |= it.key() == k;
            if (!ok)
                throw Error(src + ": unknown key '" + it.key() +
                            "' (known: name, disable, force, bias, top_k, top_k_per_layer, top_p, top_p_max_k, rank_only, "
                            "rank_only_layers, zero_output)");
        }
        Preset p;
        Interventions& iv = p.interventions;
        if (j.contains("name")) {
            if (!j["name"].is_string()) throw Error(src + ": 'name' must be a string");
            p.name = j["name"].get<std::string>();
        }
        for (const char* key : {"disable", "force", "zero_output"}) {
            if (!j.contains(key)) continue;
            const json& a = pairs(j, key, src);
            for (size_t i = 0; i < a.size(); ++i) {
                const std::string w = src + ": '" + key + "'[" + std::to_string(i) + "]";
                if (!a[i].is_array() || a[i].size() != 2) throw Error(w + ": expected [layer, expert]");
                ExpertRef r{as_int(a[i][0], w), as_int(a[i][1], w)};
                const std::string k = key;
                (k == "disable" ? iv.disable : k == "force" ? iv.force : iv.zero_output).push_back(r);
            }
        }
        if (j.contains("bias")) {
            const json& a = pairs(j, "bias", src);
            for (size_t i = 0; i < a.size(); ++i) {
                const std::string w = src + ": 'bias'[" + std::to_string(i) + "]";
                if (!a[i].is_array() || a[i].size() != 3 || !a[i][2].is_number()) throw Error(w + ": expected [layer, expert, bias]");
                const double b = a[i][2].get<double>();
                if (!std::isfinite(b)) throw Error(w + ": bias must be finite");
                iv.bias.push_back({as_int(a[i][0], w), as_int(a[i][1], w), static_cast<float>(b)});
            }
        }
        if (j.contains("top_k") && !j["top_k"].is_null()) iv.top_k = as_int(j["top_k"], src + ": 'top_k'");
        if (j.contains("top_k_per_layer")) {
            const json& a = pairs(j, "top_k_per_layer", src);
            for (size_t i = 0; i < a.size(); ++i) {
                const std::string w = src + ": 'top_k_per_layer'[" + std::to_string(i) + "]";
                if (!a[i].is_array() || a[i].size() != 2) throw Error(w + ": expected [layer, k]");
                iv.top_k_per_layer.push_back({as_int(a[i][0], w), as_int(a[i][1], w)});
            }
        }
        if (j.contains("top_p") && !j["top_p"].is_null()) {
            if (!j["top_p"].is_number()) throw Error(src + ": 'top_p' must be a number");
            const double v = j["top_p"].get<double>();
            if (!(v > 0.0 && v <= 1.0)) throw Error(src + ": 'top_p' must be in (0, 1]");
            iv.top_p = static_cast<float>(v);
        }
        if (j.contains("top_p_max_k")) iv.top_p_max_k = as_int(j["top_p_max_k"], src + ": 'top_p_max_k'");
        // SCMoE weak activation (rank-r routing, engine/scmoe.h)
        if (j.contains("rank_only") && !j["rank_only"].is_null()) iv.rank_only = as_int(j["rank_only"], src + ": 'rank_only'");
        if (j.contains("rank_only_layers")) {
            const json& a = j["rank_only_layers"];
            if (!a.is_array()) throw Error(src + ": 'rank_only_layers' must be an array of layer indices");
            for (size_t i = 0; i < a.size(); ++i)
                iv.rank_only_layers.push_back(as_int(a[i], src + ": 'rank_only_layers'[" + std::to_string(i) + "]"));
        }
        return p;
    });
}

namespace {
// The interventions' keys in preset order; `j` may already hold "name" (ordered_json keeps it first).
void put_interventions(nlohmann::ordered_json& j, const Interventions& iv) {
    j["disable"] = json::array();
    for (const auto& d : iv.disable) j["disable"].push_back({d.layer, d.expert});
    j["force"] = json::array();
    for (const auto& f : iv.force) j["force"].push_back({f.layer, f.expert});
    j["bias"] = json::array();
    for (const auto& b : iv.bias) j["bias"].push_back({b.layer, b.expert, b.bias});
    j["top_k"] = iv.top_k ? json(*iv.top_k) : json(nullptr);
    if (!iv.top_k_per_layer.empty()) {
        j["top_k_per_layer"] = json::array();
        for (const auto& t : iv.top_k_per_layer) j["top_k_per_layer"].push_back({t.layer, t.k});
    }
    if (iv.top_p) {
        j["top_p"] = *iv.top_p;
        j["top_p_max_k"] = iv.top_p_max_k;
    }
    if (iv.rank_only) {
        j["rank_only"] = *iv.rank_only;
        j["rank_only_layers"] = iv.rank_only_layers;
    }
    if (!iv.zero_output.empty()) {
        j["zero_output"] = json::array();
        for (const auto& z : iv.zero_output) j["zero_output"].push_back({z.layer, z.expert});
    }
}
}  // namespace

std::string preset_to_json(const Preset& p) {
    nlohmann::ordered_json j;
    j["name"] = p.name;
    put_interventions(j, p.interventions);
    return j.dump(2) + "\n";
}

std::string interventions_to_json(const Interventions& iv) {
    nlohmann::ordered_json j;
    put_interventions(j, iv);
    return j.dump();
}

Result<Preset> load_preset_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return Error(path + ": cannot open preset");
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_preset(ss.str(), path);
}

Result<bool> save_preset_file(const std::string& path, const Preset& preset) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) return Error(path + ": cannot write preset");
    f << preset_to_json(preset);
    if (!f) return Error(path + ": write failed");
    return true;
}

}  // namespace moescope
