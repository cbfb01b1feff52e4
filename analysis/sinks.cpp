#include "analysis/sinks.h"

#include <algorithm>
#include <cmath>

#include "analysis/stats.h"

namespace moescope::analysis {

static void finish_massive(MassiveResult& r) {
    std::stable_sort(r.hits.begin(), r.hits.end(), [](const MassiveHit& x, const MassiveHit& y) { return x.value > y.value; });
}

static void push_top(double (&top)[3], double v) {
    for (int i = 0; i < 3; ++i)
        if (v > top[i]) {
            for (int j = 2; j > i; --j) top[j] = top[j - 1];
            top[i] = v;
            return;
        }
}

Result<MassiveResult> massive_activations(const HiddenStates& h, const MassiveOptions& o) {
    return try_result([&]() -> MassiveResult {
        const size_t per = static_cast<size_t>(h.n_tokens) * h.hidden_size;
        if (h.n_layers <= 0 || h.n_tokens <= 0 || h.hidden_size <= 0)
            throw Error("massive activations: empty hidden states (no layers, tokens or channels)");
        if (h.layers.size() != static_cast<size_t>(h.n_layers))
            throw Error("massive activations: " + std::to_string(h.layers.size()) + " layer tensors for n_layers " +
                        std::to_string(h.n_layers));
        for (int l = 0; l < h.n_layers; ++l)
            if (h.layers[l].size() != per)
                throw Error("massive activations: layer " + std::to_string(l) + " has " +
                            std::to_string(h.layers[l].size()) + " values, expected T x d = " + std::to_string(per));
        MassiveResult r;
        r.options = o;
        const int d = h.hidden_size;
        for (int l = 0; l < h.n_layers; ++l) {
            const auto& x = h.layers[l];
            MassiveLayer L;
            L.layer = l;
            std::vector<double> absv(x.size());
            for (size_t i = 0; i < x.size(); ++i) absv[i] = std::abs(static_cast<double>(x[i]));
            for (double v : absv) push_top(L.top, v);
            if (o.median == MedianScope::LayerTensor) L.median = median(absv);
            for (int t = 0; t < h.n_tokens; ++t) {
                double med = L.median;
                if (o.median == MedianScope::PerToken)
                    med = median(std::vector<double>(absv.begin() + static_cast<size_t>(t) * d,
                                                     absv.begin() + static_cast<size_t>(t + 1) * d));
                for (int c = 0; c < d; ++c) {
                    const double v = absv[static_cast<size_t>(t) * d + c];
                    if (v > o.min_abs && v >= o.min_ratio * med) {
                        MassiveHit hit;
                        hit.layer = l;
                        hit.token = t;
                        hit.position = t;
                        hit.token_id = h.token_ids.size() == static_cast<size_t>(h.n_tokens) ? h.token_ids[t] : -1;
                        hit.channel = c;
                        hit.value = v;
                        hit.ratio = med > 0 ? v / med : INFINITY;
                        r.hits.push_back(hit);
                    }
                }
            }
            if (o.median == MedianScope::PerToken) L.median = std::nan("");
            r.layers.push_back(L);
        }
        if (o.median == MedianScope::PerToken)
            r.notes.push_back("per-token median (UNCONFIRMED alternative, methods.md 9.3); layer median not reported");
        finish_massive(r);
        return r;
    });
}

Result<MassiveResult> massive_activations(const RoutingArrays& a, int hidden_size, const TokenFilter& filter,
                                          const MassiveOptions& o) {
    return try_result([&]() -> MassiveResult {
        if (auto v = validate(a, "massive activations"); !v) throw v.error();
        if (!a.has_layer_stats())
            throw Error("massive activations need per-layer hidden-state statistics: record the runs with capture "
                        "level 'activations'");
        if (a.n_layers <= 0) throw Error("massive activations: the data records no decoder layers");
        auto rows = select_rows(a, filter, "massive activations");
        if (!rows) throw rows.error();
        if (rows->empty()) throw Error("massive activations: no tokens match the selection");
        MassiveResult r;
        r.options = o;
        const bool have_d = hidden_size > 1 && !a.hidden_norm.empty();
        for (int l = 0; l < a.n_layers; ++l) {
            MassiveLayer L;
            L.layer = l;
            std::vector<double> meds;
            for (int64_t t : *rows) {
                const size_t i = static_cast<size_t>(t) * a.n_layers + l;
                const double v = std::abs(static_cast<double>(a.hidden_max_abs[i]));
                push_top(L.top, v);
                double med = 0;
                if (have_d) {
                    const double norm = a.hidden_norm[i];
                    const double rest = std::max(0.0, norm * norm - v * v) / (hidden_size - 1);
                    med = 0.6745 * std::sqrt(rest);
                    meds.push_back(med);
                }
                const bool ratio_ok = !have_d || v >= o.min_ratio * med;
                if (v > o.min_abs && ratio_ok) {
                    MassiveHit hit;
                    hit.layer = l;
                    hit.token = t;
                    hit.position = a.position[t];
                    hit.token_id = a.token_id[t];
                    hit.channel = a.hidden_max_channel.empty() ? -1 : a.hidden_max_channel[i];
                    hit.value = v;
                    hit.ratio = med > 0 ? v / med : INFINITY;
                    r.hits.push_back(hit);
                }
            }
            L.median = have_d ? median(meds) : std::nan("");
            r.layers.push_back(L);
        }
        r.notes.push_back(have_d ? "median |h| ESTIMATED per token as 0.6745 x rms of the non-max entries (only max "
                                   "and L2 norm are recorded); use the exact tensor path for the paper's definition"
                                 : "hidden_size unknown or norms not recorded: only the |h| > min_abs test was applied");
        finish_massive(r);
        return r;
    });
}

Result<SinkResult> attention_sinks(const AttentionMaps& m, const SinkOptions& o) {
    return try_result([&]() -> SinkResult {
        if (m.n_layers <= 0 || m.n_heads <= 0 || m.n_tokens <= 0)
            throw Error("attention sinks: empty attention maps (no layers, heads or tokens)");
        const size_t want = static_cast<size_t>(m.n_layers) * m.n_heads * m.n_tokens * m.n_tokens;
        if (m.probs.size() != want)
            throw Error("attention sinks: " + std::to_string(m.probs.size()) + " probabilities, expected L x H x T x T = " +
                        std::to_string(want));
        SinkResult r;
        r.options = o;
        r.T = o.window > 0 ? std::min(o.window, m.n_tokens) : m.n_tokens;
        if (m.n_tokens < o.window)
            r.notes.push_back("only " + std::to_string(m.n_tokens) + " tokens (< window " + std::to_string(o.window) +
                              "); Gu's metric decreases with T, compare only at equal T");
        const int T = r.T;
        r.sink_score.assign(T, 0.0);
        for (int l = 0; l < m.n_layers; ++l)
            for (int h = 0; h < m.n_heads; ++h) {
                std::vector<double> alpha(T, 0.0);
                for (int k = 0; k < T; ++k) {
                    double s = 0;
                    for (int i = k; i < T; ++i) s += m.at(l, h, i, k);
                    alpha[k] = s / (T - k);
                    if (alpha[k] > o.epsilon) r.sink_score[k] += 1;
                }
                r.alpha.push_back(std::move(alpha));
            }
        const double lh = static_cast<double>(m.n_layers) * m.n_heads;
        for (int k = 0; k < T; ++k) {
            r.sink_score[k] /= lh;
            if (r.sink_score[k] > o.tau) r.sink_positions.push_back(k);
        }
        r.notes.push_back("tau = 0.25 for the sink set is a third-party heuristic, not from Gu et al.");
        return r;
    });
}

Result<RecordedSinkResult> attention_sinks(const RoutingArrays& a, const TokenFilter& filter, const SinkOptions& o) {
    return try_result([&]() -> RecordedSinkResult {
        if (auto v = validate(a, "attention sinks"); !v) throw v.error();
        if (a.sink_mass.empty() || a.n_layers <= 0)
            throw Error("attention sinks need the recorded attention mass on position 0: record the runs with capture "
                        "level 'activations'");
        const bool per_head = a.has_sink_heads() && a.n_heads > 0;
        if (per_head && a.sink_mass_head.size() != static_cast<size_t>(a.n_tokens) * a.n_layers * a.n_heads)
            throw Error("attention sinks: sink_mass_head has " + std::to_string(a.sink_mass_head.size()) +
                        " values, expected n_tokens x n_layers x n_heads = " +
                        std::to_string(static_cast<size_t>(a.n_tokens) * a.n_layers * a.n_heads));
        auto rows = select_rows(a, filter, "attention sinks");
        if (!rows) throw rows.error();
        std::vector<int64_t> q;
        for (int64_t t : *rows)
            if (o.window <= 0 || a.position[t] < o.window) q.push_back(t);
        if (q.empty()) throw Error("attention sinks: no query tokens at positions < " + std::to_string(o.window));
        RecordedSinkResult r;
        r.options = o;
        r.queries = static_cast<int64_t>(q.size());
        r.n_heads = per_head ? a.n_heads : 0;
        // mean over the query tokens of one recorded value, skipping token-layers without a row (NaN)
        auto mean_over = [&](auto value_of) {
            double sum = 0;
            int64_t n = 0;
            for (int64_t t : q) {
                const double v = value_of(t);
                if (std::isnan(v)) continue;
                sum += v;
                ++n;
            }
            return n > 0 ? sum / static_cast<double>(n) : std::nan("");
        };
        int sink_layers = 0, sink_pairs = 0, pairs = 0, layers_seen = 0;
        for (int l = 0; l < a.n_layers; ++l) {
            LayerSink L;
            L.layer = l;
            L.alpha_first = mean_over([&](int64_t t) { return static_cast<double>(a.sink_mass[a.layer_index(t, l)]); });
            L.sink = L.alpha_first > o.epsilon;  // false for NaN (no rows)
            if (!std::isnan(L.alpha_first)) ++layers_seen;
            sink_layers += L.sink;
            for (int h = 0; h < r.n_heads; ++h) {
                HeadSink H;
                H.head = h;
                H.alpha_first = mean_over([&](int64_t t) { return static_cast<double>(a.sink_mass_head[a.head_index(t, l, h)]); });
                H.sink = H.alpha_first > o.epsilon;
                if (!std::isnan(H.alpha_first)) ++pairs;
                L.sink_heads += H.sink;
                sink_pairs += H.sink;
                L.heads.push_back(H);
            }
            r.layers.push_back(std::move(L));
        }
        if (layers_seen == 0) throw Error("attention sinks: the selected tokens have no recorded layer statistics");
        r.layer_fraction = static_cast<double>(sink_layers) / layers_seen;
        if (per_head && pairs > 0) {
            r.sink_fraction = static_cast<double>(sink_pairs) / pairs;
            r.metric = "gu_heads";
            r.notes.push_back("Sink_1 = fraction of (layer, head) pairs with alpha_1 > epsilon (Gu et al., from the "
                              "recorded per-head attention on position 0)");
        } else {
            r.sink_fraction = r.layer_fraction;
            r.metric = "layer_mean";
            r.notes.push_back("from head-averaged recorded mass: Sink_1 here is the fraction of layers (not heads) with "
                              "alpha_1 > epsilon; record with --sink-heads (or use the exact attention-map path) for Gu's "
                              "per-head metric");
        }
        r.first_token_is_sink = r.sink_fraction > o.tau;
        r.notes.push_back("tau = 0.25 for the sink decision is a third-party heuristic, not from Gu et al.");
        return r;
    });
}

Result<std::vector<double>> sink_disruption(const AttentionMaps& base, const AttentionMaps& after,
                                            const std::vector<int>& sinks) {
    return try_result([&]() -> std::vector<double> {
        if (base.n_layers != after.n_layers || base.n_heads != after.n_heads || base.n_tokens != after.n_tokens)
            throw Error("sink disruption: the two attention maps have different shapes");
        if (base.probs.size() != static_cast<size_t>(base.n_layers) * base.n_heads * base.n_tokens * base.n_tokens ||
            after.probs.size() != base.probs.size())
            throw Error("sink disruption: attention map sizes do not match L x H x T x T");
        if (sinks.empty()) throw Error("sink disruption: empty sink set");
        int first_q = 0;
        for (int s : sinks) {
            if (s < 0 || s >= base.n_tokens) throw Error("sink disruption: sink position " + std::to_string(s) + " out of range");
            first_q = std::max(first_q, s);
        }
        std::vector<double> d(base.n_layers, 0.0);
        for (int l = 0; l < base.n_layers; ++l) {
            double acc = 0;
            int n = 0;
            for (int h = 0; h < base.n_heads; ++h)
                for (int t = first_q; t < base.n_tokens; ++t) {
                    double b = 0, a2 = 0;
                    for (int s : sinks) {
                        b += base.at(l, h, t, s);
                        a2 += after.at(l, h, t, s);
                    }
                    if (b > 0) {
                        acc += a2 / b;
                        ++n;
                    }
                }
            d[l] = n > 0 ? 1.0 - acc / n : 0.0;
        }
        return d;
    });
}

}  // namespace moescope::analysis
