#include "analysis/lrc.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace moescope::analysis {

SrpValue srp_from_histogram(const std::vector<int64_t>& n, int m) {
    SrpValue v;
    double act = 0;
    for (int f = 0; f <= m; ++f) {
        act += static_cast<double>(f) * n[f];
        v.windows += n[f];
    }
    if (act <= 0 || v.windows == 0) return v;
    v.act_rate = act / (static_cast<double>(m) * v.windows);
    double tp = 0, pred_windows = 0, best_pred = 0;
    v.srp = -1;
    // alpha descending accumulates the suffix sums; keep the smallest alpha among ties.
    std::vector<double> f1(m + 1), pred(m + 1);
    for (int alpha = m; alpha >= 0; --alpha) {
        tp += static_cast<double>(alpha) * n[alpha];
        pred_windows += static_cast<double>(n[alpha]);
        pred[alpha] = m * pred_windows;
        f1[alpha] = 2 * tp / (pred[alpha] + act);
    }
    for (int alpha = 0; alpha <= m; ++alpha)
        if (f1[alpha] > v.srp + 1e-15) {
            v.srp = f1[alpha];
            v.alpha = alpha;
            best_pred = pred[alpha];
        }
    v.rho_hat = best_pred / act;
    return v;
}

namespace {

// One SCH simulation (methods.md §5.3) over the MoE layer slots `layers`, whose experts share one cache of C
// entries: id of (layer slot layers[i], expert e) = i E + e. Each token demands its experts of every layer;
// misses are inserted; over capacity, evict among cached ids not demanded now the one used fewest times in
// tokens [t, t+M), then least recently used, then lowest id. Returns hits / demands.
double simulate_sch(const RoutingArrays& a, const std::vector<std::vector<int64_t>>& seqs, const std::vector<int>& layers,
                    int C, int M) {
    const int E = a.n_experts;
    const int N = static_cast<int>(layers.size()) * E;
    int64_t hits = 0, demands = 0;
    std::vector<int> future(N), last_use(N);
    std::vector<char> cached(N), demanded(N);
    std::vector<int> ids;
    auto demands_of = [&](int64_t row, std::vector<int>& out) {
        out.clear();
        for (size_t i = 0; i < layers.size(); ++i) {
            const int16_t* ex = &a.experts[a.slot(row, layers[i], 0)];
            for (int j = 0; j < a.k_max; ++j)
                if (ex[j] >= 0) out.push_back(static_cast<int>(i) * E + ex[j]);
        }
    };
    std::vector<int> tmp;
    for (const auto& seq : seqs) {
        const int T = static_cast<int>(seq.size());
        std::fill(future.begin(), future.end(), 0);
        std::fill(last_use.begin(), last_use.end(), -1);
        std::fill(cached.begin(), cached.end(), 0);
        std::vector<int> cache;
        auto add = [&](int t, int d) {
            if (t < 0 || t >= T) return;
            demands_of(seq[t], tmp);
            for (int id : tmp) future[id] += d;
        };
        for (int t = 0; t < std::min(M, T); ++t) add(t, +1);  // window [0, M)
        for (int t = 0; t < T; ++t) {
            demands_of(seq[t], ids);
            for (int id : ids) demanded[id] = 1;
            for (int id : ids) {
                ++demands;
                if (cached[id]) {
                    ++hits;
                } else {
                    cached[id] = 1;
                    cache.push_back(id);
                }
                last_use[id] = t;
            }
            while (static_cast<int>(cache.size()) > C) {
                int victim = -1;
                for (size_t i = 0; i < cache.size(); ++i) {
                    const int c = cache[i];
                    if (demanded[c]) continue;
                    if (victim < 0) {
                        victim = static_cast<int>(i);
                        continue;
                    }
                    const int v = cache[victim];
                    if (std::tuple(future[c], last_use[c], c) < std::tuple(future[v], last_use[v], v))
                        victim = static_cast<int>(i);
                }
                if (victim < 0) break;  // C < experts demanded at t: nothing evictable
                cached[cache[victim]] = 0;
                cache.erase(cache.begin() + victim);
            }
            for (int id : ids) demanded[id] = 0;
            add(t, -1);  // slide the window to [t+1, t+1+M)
            add(t + M, +1);
        }
    }
    return demands > 0 ? static_cast<double>(hits) / demands : 0.0;
}

}  // namespace

Result<LrcResult> local_routing_consistency(const RoutingArrays& a, const LrcOptions& o) {
    return try_result([&]() -> LrcResult {
        if (auto v = validate(a, "local routing consistency"); !v) throw v.error();
        if (a.n_moe == 0 || a.n_experts == 0)
            throw Error("local routing consistency: the data has no MoE layers or no experts");
        for (int m : o.seg_lengths)
            if (m < 1) throw Error("local routing consistency: segment lengths must be >= 1");
        for (double r : o.cache_ratios)
            if (!(r > 0)) throw Error("local routing consistency: cache ratios must be > 0");
        auto rows = select_rows(a, o.filter, "local routing consistency");
        if (!rows) throw rows.error();
        if (rows->empty()) throw Error("local routing consistency: no tokens match the selection");
        const auto seqs = group_sequences(a, *rows);
        const int E = a.n_experts;
        LrcResult res;
        res.options = o;
        res.sequences = static_cast<int64_t>(seqs.size());
        res.tokens = static_cast<int64_t>(rows->size());
        res.k = a.k_max;
        res.n_experts = E;
        res.moe_layers = a.moe_layers;
        size_t longest = 0;
        for (const auto& s : seqs) longest = std::max(longest, s.size());

        for (int M : o.seg_lengths) {
            SrpForLength out;
            out.m = M;
            std::vector<int64_t> model_hist(M + 1, 0);
            out.expert.assign(a.n_moe, std::vector<SrpValue>(E));
            for (int m = 0; m < a.n_moe; ++m) {
                std::vector<std::vector<int64_t>> hist(E, std::vector<int64_t>(M + 1, 0));
                std::vector<int> cnt(E);
                for (const auto& seq : seqs) {
                    const int T = static_cast<int>(seq.size());
                    if (T < M) continue;
                    std::fill(cnt.begin(), cnt.end(), 0);
                    auto add = [&](int64_t row, int d) {
                        const int16_t* ex = &a.experts[a.slot(row, m, 0)];
                        for (int j = 0; j < a.k_max; ++j)
                            if (ex[j] >= 0) cnt[ex[j]] += d;
                    };
                    for (int t = 0; t < M; ++t) add(seq[t], +1);
                    for (int i = 0;; ++i) {
                        for (int e = 0; e < E; ++e) ++hist[e][cnt[e]];
                        if (i + M >= T) break;
                        add(seq[i], -1);
                        add(seq[i + M], +1);
                    }
                }
                std::vector<int64_t> layer_hist(M + 1, 0);
                for (int e = 0; e < E; ++e) {
                    out.expert[m][e] = srp_from_histogram(hist[e], M);
                    for (int f = 0; f <= M; ++f) layer_hist[f] += hist[e][f];
                }
                out.layer.push_back(srp_from_histogram(layer_hist, M));
                for (int f = 0; f <= M; ++f) model_hist[f] += layer_hist[f];
            }
            out.model = srp_from_histogram(model_hist, M);
            if (static_cast<size_t>(M) > longest)
                res.notes.push_back("segment length " + std::to_string(M) + " exceeds the longest sequence (" +
                                    std::to_string(longest) + " tokens): SRP undefined (reported as 0)");
            res.srp.push_back(std::move(out));
        }

        if (o.compute_sch) {
            res.sch.assign(a.n_moe, {});
            for (int m = 0; m < a.n_moe; ++m)
                for (int M : o.seg_lengths)
                    for (double ratio : o.cache_ratios) {
                        SchValue sv;
                        sv.m = M;
                        sv.ratio = ratio;
                        sv.cache_size = std::clamp(static_cast<int>(std::lround(ratio * a.k_max)), 1, E);
                        sv.hit_rate = simulate_sch(a, seqs, {m}, sv.cache_size, M);
                        res.sch[m].push_back(sv);
                    }
            std::vector<int> all(static_cast<size_t>(a.n_moe));
            for (int m = 0; m < a.n_moe; ++m) all[static_cast<size_t>(m)] = m;
            for (int M : o.seg_lengths)
                for (double ratio : o.cache_ratios) {
                    SchValue sv;
                    sv.m = M;
                    sv.ratio = ratio;
                    sv.cache_size = std::clamp(static_cast<int>(std::lround(ratio * a.n_moe * a.k_max)), 1, a.n_moe * E);
                    sv.hit_rate = simulate_sch(a, seqs, all, sv.cache_size, M);
                    res.sch_model.push_back(sv);
                }
            res.notes.push_back("SCH counts cold-start misses (the cache starts empty per sequence); moe-lrc's stack "
                                "algorithm differs slightly on short sequences. sch_model: one cache across all MoE "
                                "layers, cache_size = round(ratio x n_moe x k).");
        }
        return res;
    });
}

}  // namespace moescope::analysis
