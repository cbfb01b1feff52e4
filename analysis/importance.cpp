#include "analysis/importance.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moescope::analysis {

const char* importance_method_name(ImportanceMethod m) {
    switch (m) {
        case ImportanceMethod::Frequency: return "frequency";
        case ImportanceMethod::Gate: return "gate";
        case ImportanceMethod::Output: return "output";
        case ImportanceMethod::EasyEp: return "easy_ep";
        case ImportanceMethod::McMoe: return "mc_moe";
    }
    return "frequency";
}

Result<ImportanceMethod> parse_importance_method(const std::string& t) {
    for (auto m : {ImportanceMethod::Frequency, ImportanceMethod::Gate, ImportanceMethod::Output,
                   ImportanceMethod::EasyEp, ImportanceMethod::McMoe})
        if (t == importance_method_name(m)) return m;
    return Error("importance method '" + t + "': expected frequency, gate, output, easy_ep or mc_moe");
}

Result<ImportanceResult> expert_importance(const RoutingArrays& a, const ImportanceOptions& o) {
    return try_result([&]() -> ImportanceResult {
        if (auto v = validate(a, "expert importance"); !v) throw v.error();
        if (a.n_moe == 0 || a.n_experts == 0) throw Error("expert importance: the data has no MoE layers or no experts");
        const int E = a.n_experts;
        if (o.keep_per_layer < 0 || o.keep_per_layer > E)
            throw Error("expert importance: keep_per_layer " + std::to_string(o.keep_per_layer) + " outside [0, " +
                        std::to_string(E) + "]");
        const bool have_norm = !a.expert_out_norm.empty();
        // s_t: the caller's, else the recorded one (capture level activations, schema v3 recordings)
        const std::vector<float>& s_src = !o.token_contribution.empty() ? o.token_contribution : a.token_contribution;
        const bool have_s = !s_src.empty();
        if (have_s && s_src.size() != static_cast<size_t>(a.n_tokens) * a.n_moe)
            throw Error("expert importance: token_contribution has " + std::to_string(s_src.size()) +
                        " values, expected n_tokens x n_moe = " + std::to_string(a.n_tokens * a.n_moe));
        if ((o.method == ImportanceMethod::Output || o.method == ImportanceMethod::EasyEp) && !have_norm)
            throw Error(std::string("importance method ") + importance_method_name(o.method) +
                        " needs expert output norms: record the calibration runs with capture level 'activations'");
        if (o.method == ImportanceMethod::EasyEp && !have_s)
            throw Error("importance method easy_ep needs the per-token contribution s_t = max(0, 1 - cos(h, h + r)): "
                        "record the calibration runs with capture level 'activations' (moescope >= schema v3); "
                        "method 'output' (sum w * ||y||) is the score without s_t");
        if (a.weights.empty() && o.method != ImportanceMethod::Frequency &&
            !(o.method == ImportanceMethod::McMoe && a.has_logits()))
            throw Error(std::string("importance method ") + importance_method_name(o.method) +
                        " needs gate weights, which this data does not have (imported without weights)");
        auto rows = select_rows(a, o.filter, "expert importance");
        if (!rows) throw rows.error();
        if (rows->empty()) throw Error("expert importance: no calibration tokens match the selection");

        ImportanceResult res;
        res.options = o;
        res.options.token_contribution.clear();
        res.n_experts = E;
        res.tokens = static_cast<int64_t>(rows->size());
        res.moe_layers = a.moe_layers;
        auto zeros = [&] { return std::vector<std::vector<double>>(a.n_moe, std::vector<double>(E, 0.0)); };
        res.frequency = zeros();
        res.gate = zeros();
        std::vector<std::vector<double>> omega = zeros();
        if (have_norm) res.output = zeros();
        if (have_norm && have_s) res.easy_ep = zeros();
        std::vector<double> p;
        int64_t missing_s = 0;
        for (int64_t t : *rows)
            for (int m = 0; m < a.n_moe; ++m) {
                if (a.has_logits()) router_probs(&a.router_logits[(static_cast<size_t>(t) * a.n_moe + m) * E], E, o.score, p);
                const float sv = have_s ? s_src[static_cast<size_t>(t) * a.n_moe + m] : 0.0f;
                if (have_s && std::isnan(sv)) ++missing_s;
                const double s = have_s && !std::isnan(sv) ? std::max(0.0f, sv) : 0.0;
                for (int j = 0; j < a.k_max; ++j) {
                    const size_t sl = a.slot(t, m, j);
                    const int e = a.experts[sl];
                    if (e < 0) continue;
                    const double w = a.weights.empty() ? 0.0 : a.weights[sl];
                    res.frequency[m][e] += 1;
                    res.gate[m][e] += w;
                    omega[m][e] += a.has_logits() ? p[e] : w;
                    if (have_norm) res.output[m][e] += w * a.expert_out_norm[sl];
                    if (have_norm && have_s) res.easy_ep[m][e] += w * a.expert_out_norm[sl] * s;
                }
            }
        res.mc_moe = zeros();
        for (int m = 0; m < a.n_moe; ++m) {
            const double fs = std::accumulate(res.frequency[m].begin(), res.frequency[m].end(), 0.0);
            const double ws = std::accumulate(omega[m].begin(), omega[m].end(), 0.0);
            for (int e = 0; e < E; ++e) {
                const double phi = fs > 0 ? res.frequency[m][e] / fs : 0.0;
                const double om = ws > 0 ? omega[m][e] / ws : 0.0;
                res.mc_moe[m][e] = std::pow(phi, o.mc_alpha) * std::pow(om, o.mc_beta);
            }
        }
        if (have_norm && have_s)
            res.notes.push_back(std::string("easy_ep = sum w * ||y|| * s_t with s_t ") +
                                (o.token_contribution.empty() ? "recorded by the engine" : "supplied by the caller") +
                                "; 'output' is the same score without s_t");
        if (missing_s > 0)
            res.notes.push_back(std::to_string(missing_s) + " token-layers have no recorded s_t (counted as 0 in easy_ep)");
        if (!a.has_logits())
            res.notes.push_back("mc_moe omega uses recorded gate weights (no router logits): equals MC-MoE's "
                                "pre-renormalisation probability only for models without top-k renormalisation");
        switch (o.method) {
            case ImportanceMethod::Frequency: res.score = res.frequency; break;
            case ImportanceMethod::Gate: res.score = res.gate; break;
            case ImportanceMethod::Output: res.score = res.output; break;
            case ImportanceMethod::EasyEp: res.score = res.easy_ep; break;
            case ImportanceMethod::McMoe: res.score = res.mc_moe; break;
        }
        const int keep_n = o.keep_per_layer > 0 ? o.keep_per_layer : std::max(1, E / 2);
        for (int m = 0; m < a.n_moe; ++m) {
            std::vector<int> order(E);
            std::iota(order.begin(), order.end(), 0);
            const auto& sc = res.score[m];
            std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return sc[x] > sc[y]; });
            std::vector<int> keep(order.begin(), order.begin() + keep_n), drop(order.begin() + keep_n, order.end());
            std::sort(keep.begin(), keep.end());
            std::sort(drop.begin(), drop.end());
            for (int e : drop) res.disable_preset.push_back({a.moe_layers[m], e});
            res.keep.push_back(std::move(keep));
            res.drop.push_back(std::move(drop));
        }
        res.notes.push_back("UNCONFIRMED (methods.md 6.2): the number of EASY-EP demonstrations in the paper's main "
                            "tables; the repo uses the 25 longest samples");
        return res;
    });
}

std::vector<double> kept_fraction(const std::vector<std::vector<double>>& values, const std::vector<std::vector<int>>& keep) {
    std::vector<double> out(values.size(), 1.0);
    for (size_t l = 0; l < values.size(); ++l) {
        double total = 0, kept = 0;
        for (double v : values[l]) total += v;
        if (l < keep.size())
            for (int e : keep[l])
                if (e >= 0 && static_cast<size_t>(e) < values[l].size()) kept += values[l][static_cast<size_t>(e)];
        if (total > 0) out[l] = std::min(1.0, kept / total);
    }
    return out;
}

}  // namespace moescope::analysis
