#include "analysis/what_if.h"

#include <algorithm>
#include <cmath>

namespace moescope::analysis {

namespace {
// log-softmax of one row in double.
void log_softmax(const float* z, int n, std::vector<double>& out) {
    out.resize(n);
    double mx = -INFINITY;
    for (int i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(z[i]));
    double s = 0;
    for (int i = 0; i < n; ++i) s += std::exp(static_cast<double>(z[i]) - mx);
    const double lse = mx + std::log(s);
    for (int i = 0; i < n; ++i) out[i] = static_cast<double>(z[i]) - lse;
}
}  // namespace

const char* prune_mode_name(PruneMode m) { return m == PruneMode::ZeroOutput ? "zero" : "disable"; }

Interventions prune_interventions(const std::vector<ExpertRef>& set, PruneMode mode) {
    Interventions iv;
    (mode == PruneMode::ZeroOutput ? iv.zero_output : iv.disable) = set;
    return iv;
}

Result<DistributionShift> distribution_shift(const std::vector<LogitRun>& base, const std::vector<LogitRun>& variant) {
    return try_result([&]() -> DistributionShift {
        if (base.empty()) throw Error("what-if: no prompts to compare");
        if (base.size() != variant.size())
            throw Error("what-if: " + std::to_string(base.size()) + " base runs vs " + std::to_string(variant.size()) +
                        " variant runs");
        DistributionShift d;
        std::vector<double> lb, lv;
        double kl_sum = 0, agree = 0;
        for (size_t r = 0; r < base.size(); ++r) {
            const LogitRun &b = base[r], &v = variant[r];
            if (b.vocab <= 0 || b.vocab != v.vocab || b.logits.size() != v.logits.size() ||
                b.logits.size() % static_cast<size_t>(b.vocab) != 0)
                throw Error("what-if: prompt " + std::to_string(r) + ": base and variant logits differ in shape");
            const size_t T = b.logits.size() / b.vocab;
            if (!b.targets.empty() && b.targets.size() != T)
                throw Error("what-if: prompt " + std::to_string(r) + ": " + std::to_string(b.targets.size()) +
                            " targets for " + std::to_string(T) + " positions");
            for (size_t t = 0; t < T; ++t) {
                const float* zb = &b.logits[t * b.vocab];
                const float* zv = &v.logits[t * v.vocab];
                log_softmax(zb, b.vocab, lb);
                log_softmax(zv, v.vocab, lv);
                double kl = 0;
                for (int i = 0; i < b.vocab; ++i) kl += std::exp(lb[i]) * (lb[i] - lv[i]);
                kl = std::max(0.0, kl);
                kl_sum += kl;
                d.max_kl = std::max(d.max_kl, kl);
                const auto ab = std::max_element(zb, zb + b.vocab) - zb;
                const auto av = std::max_element(zv, zv + v.vocab) - zv;
                agree += ab == av;
                ++d.positions;
                if (!b.targets.empty() && b.targets[t] >= 0 && b.targets[t] < b.vocab) {
                    d.nll_base -= lb[b.targets[t]];
                    d.nll_variant -= lv[b.targets[t]];
                    ++d.scored;
                }
            }
        }
        if (d.positions == 0) throw Error("what-if: the runs have no positions");
        d.mean_kl = kl_sum / d.positions;
        d.top1_agreement = agree / d.positions;
        if (d.scored > 0) {
            d.nll_base /= d.scored;
            d.nll_variant /= d.scored;
            d.ppl_base = std::exp(d.nll_base);
            d.ppl_variant = std::exp(d.nll_variant);
        }
        return d;
    });
}

}  // namespace moescope::analysis
