#include "analysis/ftri.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace moescope::analysis {
namespace {

// Per-set accumulators over the flattened [n_moe][n_experts] grid.
struct SetCounts {
    int64_t tokens = 0, prompts = 0;
    std::vector<int64_t> count;   // tokens pooling: selections
    std::vector<double> sum, sumsq;  // prompts pooling: per-prompt rates
};

SetCounts count_set(const RoutingArrays& a, const std::vector<int64_t>& rows, FtriPooling pooling) {
    const size_t cells = static_cast<size_t>(a.n_moe) * a.n_experts;
    SetCounts s;
    s.tokens = static_cast<int64_t>(rows.size());
    s.count.assign(cells, 0);
    for (int64_t t : rows) {
        const int16_t* ex = &a.experts[a.slot(t, 0, 0)];
        for (int m = 0; m < a.n_moe; ++m, ex += a.k_max)
            for (int j = 0; j < a.k_max; ++j)
                if (ex[j] >= 0) ++s.count[static_cast<size_t>(m) * a.n_experts + ex[j]];
    }
    if (pooling == FtriPooling::Prompts) {
        s.sum.assign(cells, 0.0);
        s.sumsq.assign(cells, 0.0);
        // Group rows by prompt (run_id, prompt_id); a run without prompt rows is one prompt.
        std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> prompts;
        for (int64_t t : rows) prompts[{a.run_id[t], a.prompt_id[t]}].push_back(t);
        s.prompts = static_cast<int64_t>(prompts.size());
        std::vector<int64_t> c(cells);
        for (const auto& [key, prow] : prompts) {
            std::fill(c.begin(), c.end(), 0);
            for (int64_t t : prow)
                for (int m = 0; m < a.n_moe; ++m)
                    for (int j = 0; j < a.k_max; ++j) {
                        int e = a.experts[a.slot(t, m, j)];
                        if (e >= 0) ++c[static_cast<size_t>(m) * a.n_experts + e];
                    }
            const double inv = 1.0 / static_cast<double>(prow.size());
            for (size_t i = 0; i < cells; ++i) {
                const double r = c[i] * inv;
                s.sum[i] += r;
                s.sumsq[i] += r * r;
            }
        }
    } else {
        std::set<std::pair<int64_t, int64_t>> prompts;
        for (int64_t t : rows) prompts.insert({a.run_id[t], a.prompt_id[t]});
        s.prompts = static_cast<int64_t>(prompts.size());
    }
    return s;
}

// splitmix64: a fixed, portable generator so a seed gives the same control set everywhere.
struct SplitMix {
    uint64_t x;
    uint64_t next() {
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) {  // unbiased by rejection
        const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        uint64_t v;
        do v = next();
        while (v >= limit);
        return v % n;
    }
};

std::string filter_desc(const TokenFilter& f) {
    std::string s;
    for (const auto& n : f.sets) {
        if (!s.empty()) s += '+';
        s += n;
    }
    return "'" + (s.empty() ? std::string("(all sets)") : s) + "' (" + token_kind_name(f.kind) + " tokens)";
}

}  // namespace

std::vector<ExpertRef> random_matched_control(const std::vector<ExpertRef>& chosen, int n_experts, uint64_t seed) {
    std::map<int, std::set<int>> per_layer;
    for (const auto& r : chosen) per_layer[r.layer].insert(r.expert);
    SplitMix rng{seed};
    std::vector<ExpertRef> out;
    for (const auto& [layer, used] : per_layer) {
        std::vector<int> pool;
        for (int e = 0; e < n_experts; ++e)
            if (!used.count(e)) pool.push_back(e);
        const size_t want = std::min(used.size(), pool.size());
        // Partial Fisher–Yates: the first `want` entries become a uniform sample without replacement.
        for (size_t i = 0; i < want; ++i) {
            const size_t j = i + rng.below(pool.size() - i);
            std::swap(pool[i], pool[j]);
            out.push_back({layer, pool[i]});
        }
    }
    return out;
}

Result<FtriResult> ftri(const RoutingArrays& behavior, const RoutingArrays& control, const FtriOptions& options) {
    return try_result([&]() -> FtriResult {
        if (auto v = validate(behavior, "fTRI behaviour data"); !v) throw v.error();
        if (auto v = validate(control, "fTRI control data"); !v) throw v.error();
        if (auto v = same_layout(behavior, control); !v) throw Error("fTRI: " + v.message());
        if (behavior.n_moe == 0 || behavior.n_experts == 0)
            throw Error("fTRI: the data has no MoE layers or no experts (nothing was routed)");
        if (options.top_n < 0) throw Error("fTRI: top_n must be >= 0");
        auto brows = select_rows(behavior, options.behavior, "fTRI behaviour set");
        if (!brows) throw brows.error();
        auto crows = select_rows(control, options.control, "fTRI control set");
        if (!crows) throw crows.error();
        if (brows->empty()) throw Error("fTRI: behaviour set " + filter_desc(options.behavior) + " has no tokens");
        if (crows->empty()) throw Error("fTRI: control set " + filter_desc(options.control) + " has no tokens");

        const SetCounts b = count_set(behavior, *brows, options.pooling);
        const SetCounts c = count_set(control, *crows, options.pooling);
        FtriResult res;
        res.options = options;
        res.behavior_tokens = b.tokens;
        res.control_tokens = c.tokens;
        res.behavior_prompts = b.prompts;
        res.control_prompts = c.prompts;
        res.n_experts = behavior.n_experts;
        res.moe_layers = behavior.moe_layers;
        const int E = behavior.n_experts;
        const size_t cells = static_cast<size_t>(behavior.n_moe) * E;
        std::vector<FtriRow> rows(cells);
        std::vector<double> pvals(cells);
        for (size_t i = 0; i < cells; ++i) {
            FtriRow& r = rows[i];
            r.layer = behavior.moe_layers[i / E];
            r.expert = static_cast<int>(i % E);
            r.behavior_count = b.count[i];
            r.control_count = c.count[i];
            if (options.pooling == FtriPooling::Tokens) {
                r.behavior_freq = static_cast<double>(b.count[i]) / b.tokens;
                r.control_freq = static_cast<double>(c.count[i]) / c.tokens;
                TestResult t = compare_proportions(b.count[i], b.tokens, c.count[i], c.tokens);
                r.statistic = t.statistic;
                r.p = t.p;
                r.method = t.method;
            } else {
                const double nb = static_cast<double>(b.prompts), nc = static_cast<double>(c.prompts);
                r.behavior_freq = b.sum[i] / nb;
                r.control_freq = c.sum[i] / nc;
                auto var = [](double sum, double sumsq, double n) {
                    return n > 1 ? std::max(0.0, (sumsq - sum * sum / n) / (n - 1)) : 0.0;
                };
                TestResult t = welch_t(r.behavior_freq, var(b.sum[i], b.sumsq[i], nb), b.prompts, r.control_freq,
                                       var(c.sum[i], c.sumsq[i], nc), c.prompts);
                r.statistic = t.statistic;
                r.p = t.p;
                r.method = t.method;
            }
            r.difference = r.behavior_freq - r.control_freq;
            if (r.control_freq > 0 && r.behavior_count > 0) {
                r.risk_ratio = r.behavior_freq / r.control_freq;
            } else {  // Haldane–Anscombe: add 0.5 to each count so the ratio is finite
                r.risk_ratio = ((b.count[i] + 0.5) / (b.tokens + 1.0)) / ((c.count[i] + 0.5) / (c.tokens + 1.0));
            }
            pvals[i] = r.p;
        }
        const std::vector<double> q = benjamini_hochberg(pvals);
        for (size_t i = 0; i < cells; ++i) rows[i].q = q[i];
        const bool abs_rank = options.rank_by == FtriRankBy::AbsDifference;
        std::stable_sort(rows.begin(), rows.end(), [&](const FtriRow& x, const FtriRow& y) {
            const double kx = abs_rank ? std::abs(x.difference) : x.difference;
            const double ky = abs_rank ? std::abs(y.difference) : y.difference;
            if (kx != ky) return kx > ky;
            if (x.p != y.p) return x.p < y.p;
            return std::pair(x.layer, x.expert) < std::pair(y.layer, y.expert);
        });
        res.ranked = std::move(rows);
        for (const auto& r : res.ranked) {
            if (static_cast<int>(res.preset.size()) >= options.top_n) break;
            if (r.difference > 0 && r.q <= options.max_q) res.preset.push_back({r.layer, r.expert});
        }
        if (static_cast<int>(res.preset.size()) < options.top_n)
            res.notes.push_back("only " + std::to_string(res.preset.size()) + " of the requested " +
                                std::to_string(options.top_n) + " experts are more active on the behaviour set" +
                                (options.max_q < 1 ? " with q <= max_q" : ""));
        for (int r = 0; r < std::max(0, options.random_repeats); ++r)
            res.random_controls.push_back(random_matched_control(res.preset, E, options.random_seed + r));
        res.notes.push_back(options.pooling == FtriPooling::Tokens
                                ? "tokens pooling (SteerMoE risk difference); the test treats tokens as independent, "
                                  "so p/q are optimistic when tokens of one prompt are correlated"
                                : "prompts pooling (MoTE per-prompt rates, methods.md 1.3); Welch t over prompts");
        res.notes.push_back("UNCONFIRMED (methods.md 1.2): MoTE's token set, length normalisation and significance "
                            "test are not published; these are parameters here");
        return res;
    });
}

Result<FtriResult> ftri(const RoutingArrays& arrays, const FtriOptions& options) {
    return ftri(arrays, arrays, options);
}

}  // namespace moescope::analysis
