#include "analysis/specialization.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

#include "analysis/distribution.h"

namespace moescope::analysis {

double gini_coefficient(std::vector<double> v) {
    // Mean absolute difference / (2 mean), computed on sorted values: sum (2i - n + 1) x_i / (n sum x).
    const size_t n = v.size();
    const double sum = std::accumulate(v.begin(), v.end(), 0.0);
    if (n == 0 || sum <= 0) return 0;
    std::sort(v.begin(), v.end());
    double acc = 0;
    for (size_t i = 0; i < n; ++i) acc += (2.0 * i - n + 1.0) * v[i];
    return acc / (n * sum);
}

static double pop_sd(const std::vector<double>& v) {
    if (v.empty()) return 0;
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
    double s = 0;
    for (double x : v) s += (x - mean) * (x - mean);
    return std::sqrt(s / v.size());
}

static void require_routing(const RoutingArrays& a, const std::string& what) {
    if (auto v = validate(a, what); !v) throw v.error();
    if (a.n_moe == 0 || a.n_experts == 0) throw Error(what + ": the data has no MoE layers or no experts");
}

Result<LoadResult> expert_load(const RoutingArrays& a, const LoadOptions& o) {
    return try_result([&]() -> LoadResult {
        require_routing(a, "expert load");
        auto rows = select_rows(a, o.filter, "expert load");
        if (!rows) throw rows.error();
        if (rows->empty()) throw Error("expert load: no tokens match the selection");
        const int E = a.n_experts;
        LoadResult res;
        res.tokens = static_cast<int64_t>(rows->size());
        res.n_experts = E;
        res.layers.resize(a.n_moe);
        for (int m = 0; m < a.n_moe; ++m) {
            res.layers[m].layer = a.moe_layers[m];
            res.layers[m].count.assign(E, 0);
            res.layers[m].weight_mass.assign(E, 0.0);
        }
        // Row-major pass: one contiguous read of each token's [n_moe][k] slots.
        for (int64_t t : *rows) {
            const size_t base = a.slot(t, 0, 0);
            const int16_t* ex = &a.experts[base];
            const float* w = a.weights.empty() ? nullptr : &a.weights[base];
            for (int m = 0; m < a.n_moe; ++m) {
                int64_t* cnt = res.layers[m].count.data();
                double* wm = res.layers[m].weight_mass.data();
                for (int j = 0; j < a.k_max; ++j) {
                    const int e = ex[m * a.k_max + j];
                    if (e >= 0) {
                        ++cnt[e];
                        if (w) wm[e] += w[m * a.k_max + j];
                    }
                }
            }
        }
        if (a.weights.empty()) res.notes.push_back("no gate weights recorded (import): weight_mass is 0");
        const double T = static_cast<double>(res.tokens);
        for (auto& L : res.layers) {
            const double total = static_cast<double>(std::accumulate(L.count.begin(), L.count.end(), int64_t{0}));
            L.fraction.resize(E);
            L.utilisation.resize(E);
            std::vector<double> cnt(E);
            for (int e = 0; e < E; ++e) {
                cnt[e] = static_cast<double>(L.count[e]);
                L.fraction[e] = total > 0 ? cnt[e] / total : 0.0;
                L.utilisation[e] = cnt[e] / T;
                if (L.count[e] == 0) ++L.dead;
            }
            L.norm_entropy = normalized_entropy(cnt);
            const double mean_f = 1.0 / E;
            L.cv = total > 0 ? pop_sd(L.fraction) / mean_f : 0.0;
            L.max_over_mean = total > 0 ? E * *std::max_element(L.fraction.begin(), L.fraction.end()) : 0.0;
            L.gini = gini_coefficient(cnt);
            const double mean_c = total / E;
            L.max_vio = mean_c > 0 ? (*std::max_element(cnt.begin(), cnt.end()) - mean_c) / mean_c : 0.0;
            L.freq_sd = pop_sd(L.utilisation);
        }
        return res;
    });
}

Result<DomainSpecialization> domain_specialization(const RoutingArrays& a, const DomainOptions& o) {
    return try_result([&]() -> DomainSpecialization {
        require_routing(a, "domain specialisation");
        DomainSpecialization res;
        res.sets = o.sets.empty() ? a.set_names : o.sets;
        if (res.sets.size() < 2)
            throw Error("domain specialisation needs at least two prompt sets (have " + std::to_string(res.sets.size()) +
                        ")");
        res.moe_layers = a.moe_layers;
        res.n_experts = a.n_experts;
        const int E = a.n_experts;
        int64_t all_sel = 0, all_tok = 0;
        std::vector<std::vector<std::vector<double>>> frac;
        std::vector<std::string> kept;
        for (const auto& name : res.sets) {
            TokenFilter f;
            f.kind = o.kind;
            f.sets = {name};
            auto rows = select_rows(a, f, "domain specialisation");
            if (!rows) throw rows.error();
            if (rows->empty()) {
                if (!o.sets.empty())
                    throw Error("domain specialisation: set '" + name + "' has no tokens of kind " +
                                token_kind_name(o.kind));
                res.notes.push_back("set '" + name + "' has no tokens of kind " + token_kind_name(o.kind) + "; skipped");
                continue;
            }
            kept.push_back(name);
            std::vector<std::vector<double>> cnt(a.n_moe, std::vector<double>(E, 0.0));
            for (int64_t t : *rows)
                for (int m = 0; m < a.n_moe; ++m)
                    for (int j = 0; j < a.k_max; ++j) {
                        const int e = a.experts[a.slot(t, m, j)];
                        if (e >= 0) {
                            cnt[m][e] += 1;
                            ++all_sel;
                        }
                    }
            all_tok += static_cast<int64_t>(rows->size()) * a.n_moe;
            res.set_tokens.push_back(static_cast<int64_t>(rows->size()));
            std::vector<std::vector<double>> spec = cnt, fr = cnt;
            for (int m = 0; m < a.n_moe; ++m) {
                const double tot = std::accumulate(cnt[m].begin(), cnt[m].end(), 0.0);
                for (int e = 0; e < E; ++e) {
                    spec[m][e] = cnt[m][e] / static_cast<double>(rows->size());
                    fr[m][e] = tot > 0 ? cnt[m][e] / tot : 0.0;
                }
            }
            res.spec.push_back(std::move(spec));
            frac.push_back(std::move(fr));
        }
        res.sets = kept;
        if (res.sets.size() < 2)
            throw Error("domain specialisation needs at least two prompt sets with tokens (have " +
                        std::to_string(res.sets.size()) + ")");
        res.uniform_baseline = static_cast<double>(all_sel) / static_cast<double>(all_tok) / E;
        res.cv.assign(a.n_moe, std::vector<double>(E, 0.0));
        for (int m = 0; m < a.n_moe; ++m)
            for (int e = 0; e < E; ++e) {
                std::vector<double> v;
                for (const auto& fr : frac) v.push_back(fr[m][e]);
                const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
                res.cv[m][e] = mean > 0 ? pop_sd(v) / mean : 0.0;
            }
        return res;
    });
}

namespace {
IdSpec summarise(int32_t id, const std::vector<int64_t>& counts) {
    IdSpec s;
    s.id = id;
    std::vector<double> c(counts.begin(), counts.end());
    const double n = std::accumulate(c.begin(), c.end(), 0.0);
    s.count = static_cast<int64_t>(n);
    if (n <= 0) return s;
    std::vector<double> r(c.size());
    for (size_t e = 0; e < c.size(); ++e) r[e] = c[e] / n;
    const auto it = std::max_element(r.begin(), r.end());
    s.top_expert = static_cast<int>(it - r.begin());
    s.max_share = *it;
    s.sd = pop_sd(r);
    s.norm_entropy = normalized_entropy(c);
    return s;
}
}  // namespace

Result<TokenSpecialization> token_specialization(const RoutingArrays& a, const TokenSpecOptions& o) {
    return try_result([&]() -> TokenSpecialization {
        require_routing(a, "token specialisation");
        auto rows = select_rows(a, o.filter, "token specialisation");
        if (!rows) throw rows.error();
        if (rows->empty()) throw Error("token specialisation: no tokens match the selection");
        TokenSpecialization res;
        res.options = o;
        res.n_experts = a.n_experts;
        const int E = a.n_experts;
        const int kk = o.top1_only ? std::min(1, a.k_max) : a.k_max;
        for (int m = 0; m < a.n_moe; ++m) {
            // Counts per token id: occurrences routed to each expert; "count" below = occurrences, since
            // with top-1 each occurrence contributes exactly one selection (top-k: shares sum to k over e;
            // we normalise by selections so r_v sums to 1 either way).
            std::unordered_map<int32_t, std::vector<int64_t>> by_token;
            std::map<int32_t, std::vector<int64_t>> by_pos;
            for (int64_t t : *rows) {
                auto& tv = by_token[a.token_id[t]];
                auto& pv = by_pos[a.position[t]];
                if (tv.empty()) tv.assign(E, 0);
                if (pv.empty()) pv.assign(E, 0);
                for (int j = 0; j < kk; ++j) {
                    const int e = a.experts[a.slot(t, m, j)];
                    if (e >= 0) {
                        ++tv[e];
                        ++pv[e];
                    }
                }
            }
            LayerTokenSpec L;
            L.layer = a.moe_layers[m];
            const int64_t min_sel = o.min_count * kk;  // selections per occurrence = kk
            for (const auto& [id, c] : by_token) {
                IdSpec s = summarise(id, c);
                if (s.count >= min_sel && s.count > 0) L.tokens.push_back(s);
            }
            for (const auto& [id, c] : by_pos) {
                IdSpec s = summarise(id, c);
                if (s.count >= min_sel && s.count > 0) L.positions.push_back(s);
            }
            for (auto* v : {&L.tokens, &L.positions})
                for (auto& s : *v) s.count /= std::max(1, kk);  // report occurrences
            std::sort(L.tokens.begin(), L.tokens.end(), [](const IdSpec& x, const IdSpec& y) {
                return x.count != y.count ? x.count > y.count : x.id < y.id;
            });
            auto means = [](const std::vector<IdSpec>& v, double& ms, double& sd) {
                ms = sd = 0;
                for (const auto& s : v) {
                    ms += s.max_share;
                    sd += s.sd;
                }
                if (!v.empty()) {
                    ms /= v.size();
                    sd /= v.size();
                }
            };
            means(L.tokens, L.mean_token_max_share, L.mean_token_sd);
            means(L.positions, L.mean_position_max_share, L.mean_position_sd);
            // Top tokens per expert by share r_v[e] among ids passing the count filter.
            for (int e = 0; e < E && o.top_tokens_per_expert > 0; ++e) {
                ExpertTopTokens top;
                top.expert = e;
                for (const auto& s : L.tokens) {
                    const auto& c = by_token.at(s.id);
                    const double sel = static_cast<double>(std::accumulate(c.begin(), c.end(), int64_t{0}));
                    if (c[e] > 0) top.tokens.push_back({s.id, c[e] / sel});
                }
                std::sort(top.tokens.begin(), top.tokens.end(), [](const auto& x, const auto& y) {
                    return x.second != y.second ? x.second > y.second : x.first < y.first;
                });
                if (static_cast<int>(top.tokens.size()) > o.top_tokens_per_expert)
                    top.tokens.resize(o.top_tokens_per_expert);
                L.top_tokens.push_back(std::move(top));
            }
            res.layers.push_back(std::move(L));
        }
        res.notes.push_back(std::string("UNCONFIRMED (methods.md 4.2): OpenMoE's E_i counts ") +
                            (o.top1_only ? "top-1 only here (OLMoE/moe-lrc convention)" : "every top-k slot here") +
                            "; min_count " + std::to_string(o.min_count) + " (OpenMoE 128, moe-lrc 20, OLMoE 10)");
        return res;
    });
}

}  // namespace moescope::analysis
