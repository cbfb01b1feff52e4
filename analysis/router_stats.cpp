#include "analysis/router_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moescope::analysis {

Result<RouterStatsResult> router_stats(const RoutingArrays& a, const RouterStatsOptions& o) {
    return try_result([&]() -> RouterStatsResult {
        if (auto v = validate(a, "router statistics"); !v) throw v.error();
        if (a.n_moe == 0 || a.n_experts == 0) throw Error("router statistics: the data has no MoE layers or no experts");
        if (!a.has_logits())
            throw Error("router statistics (load-balancing loss, entropy, z-loss) need router logits: record the runs "
                        "with capture level 'logits' or higher");
        auto rows_r = select_rows(a, o.filter, "router statistics");
        if (!rows_r) throw rows_r.error();
        const auto& rows = *rows_r;
        if (rows.empty()) throw Error("router statistics: no tokens match the selection");
        for (int b : o.micro_batch_sizes)
            if (b < 1) throw Error("router statistics: micro-batch sizes must be >= 1");
        const int E = a.n_experts;
        const auto seqs = group_sequences(a, rows);
        RouterStatsResult res;
        res.options = o;
        res.tokens = static_cast<int64_t>(rows.size());
        res.sequences = static_cast<int64_t>(seqs.size());
        res.n_experts = E;
        std::vector<double> p;
        for (int m = 0; m < a.n_moe; ++m) {
            LayerRouterStats L;
            L.layer = a.moe_layers[m];
            // Per sequence: selection counts and probability sums, so any micro-batch grouping is cheap.
            std::vector<std::vector<double>> seq_cnt(seqs.size(), std::vector<double>(E, 0.0));
            std::vector<std::vector<double>> seq_p(seqs.size(), std::vector<double>(E, 0.0));
            std::vector<double> seq_tokens(seqs.size(), 0.0);
            double sum_entropy = 0, sum_mass = 0, sum_margin = 0, sum_z = 0, total_sel = 0;
            int64_t ties = 0;
            for (size_t s = 0; s < seqs.size(); ++s) {
                for (int64_t t : seqs[s]) {
                    const float* z = &a.router_logits[(static_cast<size_t>(t) * a.n_moe + m) * E];
                    router_probs(z, E, o.score, p);
                    double mx = -INFINITY;
                    for (int e = 0; e < E; ++e) mx = std::max(mx, static_cast<double>(z[e]));
                    double se = 0;
                    for (int e = 0; e < E; ++e) se += std::exp(static_cast<double>(z[e]) - mx);
                    const double lse = mx + std::log(se);
                    sum_z += lse * lse;
                    double h = 0;
                    for (int e = 0; e < E; ++e) {
                        seq_p[s][e] += p[e];
                        if (p[e] > 0) h -= p[e] * std::log(p[e]);
                    }
                    sum_entropy += E > 1 ? h / std::log(static_cast<double>(E)) : 0.0;
                    const int16_t* ex = &a.experts[a.slot(t, m, 0)];
                    int n = 0;
                    double mass = 0, lowest_sel = INFINITY;
                    std::vector<char> chosen(E, 0);
                    for (int j = 0; j < a.k_max; ++j)
                        if (ex[j] >= 0) {
                            ++n;
                            chosen[ex[j]] = 1;
                            seq_cnt[s][ex[j]] += 1;
                            mass += p[ex[j]];
                            lowest_sel = std::min(lowest_sel, p[ex[j]]);
                        }
                    total_sel += n;
                    sum_mass += mass;
                    double best_unsel = 0;
                    for (int e = 0; e < E; ++e)
                        if (!chosen[e]) best_unsel = std::max(best_unsel, p[e]);
                    const double margin = n > 0 ? lowest_sel - best_unsel : 0.0;
                    sum_margin += margin;
                    if (margin < o.margin_epsilon) ++ties;
                    seq_tokens[s] += 1;
                }
            }
            const double T = static_cast<double>(rows.size());
            L.mean_entropy = sum_entropy / T;
            L.mean_topk_mass = sum_mass / T;
            L.mean_margin = sum_margin / T;
            L.near_tie_fraction = static_cast<double>(ties) / T;
            L.z_loss = sum_z / T;
            std::vector<double> cnt(E, 0.0), psum(E, 0.0);
            for (size_t s = 0; s < seqs.size(); ++s)
                for (int e = 0; e < E; ++e) {
                    cnt[e] += seq_cnt[s][e];
                    psum[e] += seq_p[s][e];
                }
            L.mean_prob.resize(E);
            for (int e = 0; e < E; ++e) L.mean_prob[e] = psum[e] / T;
            auto lbl = [&](const std::vector<double>& c, double csum, const std::vector<double>& ps, double n) {
                if (csum <= 0 || n <= 0) return 0.0;
                double acc = 0;
                for (int e = 0; e < E; ++e) acc += (c[e] / csum) * (ps[e] / n);
                return E * acc;
            };
            L.lbl_norm = lbl(cnt, total_sel, psum, T);
            L.lbl_hf = L.lbl_norm * total_sel / T;
            for (int b : o.micro_batch_sizes) {
                MicroGlobal mg;
                mg.batch_sequences = b;
                for (size_t s0 = 0; s0 < seqs.size(); s0 += b) {
                    std::vector<double> c(E, 0.0), ps(E, 0.0);
                    double n = 0;
                    for (size_t s = s0; s < std::min(seqs.size(), s0 + b); ++s) {
                        for (int e = 0; e < E; ++e) {
                            c[e] += seq_cnt[s][e];
                            ps[e] += seq_p[s][e];
                        }
                        n += seq_tokens[s];
                    }
                    mg.lbl_micro += lbl(c, std::accumulate(c.begin(), c.end(), 0.0), ps, n);
                    mg.lbl_global += lbl(cnt, total_sel, ps, n);
                    ++mg.n_batches;
                }
                if (mg.n_batches > 0) {
                    mg.lbl_micro /= mg.n_batches;
                    mg.lbl_global /= mg.n_batches;
                }
                L.micro_global.push_back(mg);
            }
            res.mean_lbl_norm += L.lbl_norm / a.n_moe;
            res.layers.push_back(std::move(L));
        }
        res.notes.push_back("lbl_hf = mean k x lbl_norm for one layer: UNCONFIRMED (methods.md 7.2) line-by-line "
                            "against transformers' load_balancing_loss_func, which also concatenates all layers");
        res.notes.push_back("micro-batches group consecutive recorded sequences (run, prompt) in storage order");
        if (o.score == ScoreFunction::Sigmoid)
            res.notes.push_back("sigmoid scores normalised to q = s / sum s before entropy and P (methods.md 7.4)");
        return res;
    });
}

Result<SaturationResult> router_saturation(const RoutingArrays& ref, const RoutingArrays& other,
                                           const SaturationOptions& o) {
    return try_result([&]() -> SaturationResult {
        if (auto v = validate(ref, "router saturation reference"); !v) throw v.error();
        if (auto v = validate(other, "router saturation comparison"); !v) throw v.error();
        if (auto v = same_layout(ref, other); !v) throw Error("router saturation: " + v.message());
        if (ref.n_tokens == 0) throw Error("router saturation: no tokens");
        if (ref.n_tokens != other.n_tokens || ref.token_id != other.token_id)
            throw Error("router saturation compares two runs on identical tokens, but the inputs differ (" +
                        std::to_string(ref.n_tokens) + " vs " + std::to_string(other.n_tokens) +
                        " tokens or different token ids)");
        const int K = o.k > 0 ? o.k : std::min(ref.k_max, other.k_max);
        if (K > ref.k_max || K > other.k_max)
            throw Error("router saturation: K = " + std::to_string(K) + " exceeds the recorded slots (" +
                        std::to_string(ref.k_max) + ", " + std::to_string(other.k_max) + ")");
        SaturationResult res;
        res.k = K;
        res.tokens = ref.n_tokens;
        res.random_baseline = static_cast<double>(K) / ref.n_experts;
        for (int m = 0; m < ref.n_moe; ++m) {
            LayerSaturation L;
            L.layer = ref.moe_layers[m];
            for (int64_t t = 0; t < ref.n_tokens; ++t) {
                const int16_t* x = &ref.experts[ref.slot(t, m, 0)];
                const int16_t* y = &other.experts[other.slot(t, m, 0)];
                int inter = 0, nx = 0, ny = 0;
                for (int i = 0; i < K; ++i) {
                    if (x[i] >= 0) ++nx;
                    if (y[i] >= 0) ++ny;
                    if (x[i] < 0) continue;
                    for (int j = 0; j < K; ++j)
                        if (y[j] == x[i]) ++inter;
                }
                L.saturation += static_cast<double>(inter) / K;
                const int uni = nx + ny - inter;
                L.jaccard += uni > 0 ? static_cast<double>(inter) / uni : 1.0;
                if (inter != uni) L.set_differ += 1;
                if (x[0] >= 0 && x[0] == y[0]) L.top1_agreement += 1;
            }
            const double T = static_cast<double>(ref.n_tokens);
            L.saturation /= T;
            L.jaccard /= T;
            L.top1_agreement /= T;
            L.set_differ /= T;
            res.layers.push_back(L);
        }
        return res;
    });
}

}  // namespace moescope::analysis
