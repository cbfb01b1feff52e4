#include "analysis/common.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace moescope::analysis {

const char* token_kind_name(TokenKind k) {
    switch (k) {
        case TokenKind::Prompt: return "prompt";
        case TokenKind::Generated: return "generated";
        case TokenKind::All: return "all";
    }
    return "all";
}

Result<TokenKind> parse_token_kind(const std::string& text) {
    if (text == "prompt") return TokenKind::Prompt;
    if (text == "generated") return TokenKind::Generated;
    if (text == "all") return TokenKind::All;
    return Error("token kind '" + text + "': expected prompt, generated or all");
}

static std::string shape_msg(const std::string& what, const char* field, size_t have, size_t want,
                             const std::string& formula) {
    return what + ": " + field + " has " + std::to_string(have) + " entries, expected " + std::to_string(want) +
           " = " + formula;
}

Result<bool> validate(const RoutingArrays& a, const std::string& what) {
    if (a.n_tokens < 0 || a.n_moe < 0 || a.k_max < 0 || a.n_experts < 0 || a.n_layers < 0)
        return Error(what + ": negative shape field");
    const size_t n = static_cast<size_t>(a.n_tokens);
    if (a.moe_layers.size() != static_cast<size_t>(a.n_moe))
        return Error(shape_msg(what, "moe_layers", a.moe_layers.size(), a.n_moe, "n_moe"));
    const std::pair<const char*, size_t> per_token[] = {{"run_id", a.run_id.size()},
                                                        {"prompt_id", a.prompt_id.size()},
                                                        {"position", a.position.size()},
                                                        {"token_id", a.token_id.size()},
                                                        {"generated", a.generated.size()},
                                                        {"set_index", a.set_index.size()}};
    for (auto [name, size] : per_token)
        if (size != n) return Error(shape_msg(what, name, size, n, "n_tokens"));
    const size_t slots = n * a.n_moe * a.k_max;
    const std::string sf = "n_tokens x n_moe x k_max";
    if (a.experts.size() != slots) return Error(shape_msg(what, "experts", a.experts.size(), slots, sf));
    // weights may be absent (imports without gate weights); analyses that need them say so.
    if (!a.weights.empty() && a.weights.size() != slots)
        return Error(shape_msg(what, "weights", a.weights.size(), slots, sf));
    if (!a.router_logits.empty() && a.router_logits.size() != n * a.n_moe * a.n_experts)
        return Error(shape_msg(what, "router_logits", a.router_logits.size(), n * a.n_moe * a.n_experts,
                               "n_tokens x n_moe x n_experts"));
    for (auto [name, size] : {std::pair<const char*, size_t>{"expert_out_norm", a.expert_out_norm.size()},
                              {"down_proj_max", a.down_proj_max.size()},
                              {"down_proj_channel", a.down_proj_channel.size()}})
        if (size != 0 && size != slots) return Error(shape_msg(what, name, size, slots, sf));
    const size_t ls = n * a.n_layers;
    for (auto [name, size] : {std::pair<const char*, size_t>{"hidden_max_abs", a.hidden_max_abs.size()},
                              {"hidden_max_channel", a.hidden_max_channel.size()},
                              {"hidden_norm", a.hidden_norm.size()},
                              {"sink_mass", a.sink_mass.size()}})
        if (size != 0 && size != ls) return Error(shape_msg(what, name, size, ls, "n_tokens x n_layers"));
    for (size_t i = 0; i < a.experts.size(); ++i) {
        int e = a.experts[i];
        if (e < -1 || e >= a.n_experts)
            return Error(what + ": expert id " + std::to_string(e) + " at slot " + std::to_string(i) +
                         " is outside [0, " + std::to_string(a.n_experts) + ")");
    }
    for (size_t i = 0; i < n; ++i)
        if (a.set_index[i] < -1 || a.set_index[i] >= static_cast<int32_t>(a.set_names.size()))
            return Error(what + ": row " + std::to_string(i) + " has set_index " + std::to_string(a.set_index[i]) +
                         " but only " + std::to_string(a.set_names.size()) + " set names");
    return true;
}

Result<std::vector<int64_t>> select_rows(const RoutingArrays& a, const TokenFilter& f, const std::string& what) {
    if (!f.mask.empty() && f.mask.size() != static_cast<size_t>(a.n_tokens))
        return Error(what + ": token mask has " + std::to_string(f.mask.size()) + " entries for " +
                     std::to_string(a.n_tokens) + " tokens");
    std::vector<char> set_ok(a.set_names.size(), f.sets.empty() ? 1 : 0);
    for (const auto& name : f.sets) {
        auto it = std::find(a.set_names.begin(), a.set_names.end(), name);
        if (it == a.set_names.end()) {
            std::string known;
            for (const auto& s : a.set_names) {
                if (!known.empty()) known += ", ";
                known += s;
            }
            return Error(what + ": prompt set '" + name + "' is not in the data (known sets: " +
                         (known.empty() ? std::string("none") : known) + ")");
        }
        set_ok[it - a.set_names.begin()] = 1;
    }
    std::unordered_set<int32_t> excluded(f.exclude_token_ids.begin(), f.exclude_token_ids.end());
    std::vector<int64_t> rows;
    for (int64_t t = 0; t < a.n_tokens; ++t) {
        if (!f.sets.empty()) {
            int32_t s = a.set_index[t];
            if (s < 0 || !set_ok[s]) continue;
        }
        if (f.kind == TokenKind::Prompt && a.generated[t]) continue;
        if (f.kind == TokenKind::Generated && !a.generated[t]) continue;
        if (!f.mask.empty() && !f.mask[t]) continue;
        if (!excluded.empty() && excluded.count(a.token_id[t])) continue;
        rows.push_back(t);
    }
    return rows;
}

Result<bool> same_layout(const RoutingArrays& a, const RoutingArrays& b) {
    auto describe = [](const RoutingArrays& x) {
        std::string layers;
        for (int l : x.moe_layers) {
            if (!layers.empty()) layers += ',';
            layers += std::to_string(l);
        }
        return std::to_string(x.n_moe) + " MoE layers [" + layers + "], " + std::to_string(x.n_experts) +
               " experts, k_max " + std::to_string(x.k_max);
    };
    if (a.n_experts != b.n_experts || a.moe_layers != b.moe_layers)
        return Error("the two inputs come from different model layouts: " + describe(a) + " vs " + describe(b));
    return true;
}

std::vector<std::vector<int64_t>> group_sequences(const RoutingArrays& a, const std::vector<int64_t>& rows) {
    std::vector<std::vector<int64_t>> out;
    int64_t prev = -1;
    for (int64_t r : rows) {
        bool fresh = prev < 0 || a.run_id[r] != a.run_id[prev] || a.prompt_id[r] != a.prompt_id[prev] ||
                     a.position[r] <= a.position[prev];
        if (fresh) out.emplace_back();
        out.back().push_back(r);
        prev = r;
    }
    return out;
}

int moe_slot_of_layer(const RoutingArrays& a, int layer) {
    for (int m = 0; m < a.n_moe; ++m)
        if (a.moe_layers[m] == layer) return m;
    return -1;
}

void router_probs(const float* logits, int n, ScoreFunction f, std::vector<double>& out) {
    out.assign(n, 0.0);
    if (n == 0) return;
    double sum = 0;
    if (f == ScoreFunction::Softmax) {
        double mx = -INFINITY;
        for (int i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
        for (int i = 0; i < n; ++i) sum += (out[i] = std::exp(static_cast<double>(logits[i]) - mx));
    } else {
        for (int i = 0; i < n; ++i) sum += (out[i] = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[i]))));
    }
    if (sum > 0)
        for (auto& v : out) v /= sum;
}

}  // namespace moescope::analysis
