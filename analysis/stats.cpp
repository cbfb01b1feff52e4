#include "analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moescope::analysis {

const char* test_method_name(TestMethod m) {
    switch (m) {
        case TestMethod::FisherExact: return "fisher_exact";
        case TestMethod::TwoProportionZ: return "two_proportion_z";
        case TestMethod::WelchT: return "welch_t";
        case TestMethod::None: return "none";
    }
    return "none";
}

// log of the hypergeometric probability of a table with top-left cell x given the margins.
static double log_hyper(int64_t x, int64_t r1, int64_t r2, int64_t c1, int64_t n) {
    auto lc = [](int64_t N, int64_t K) {
        return std::lgamma(N + 1.0) - std::lgamma(K + 1.0) - std::lgamma(N - K + 1.0);
    };
    return lc(r1, x) + lc(r2, c1 - x) - lc(n, c1);
}

double fisher_exact_two_sided(int64_t a, int64_t b, int64_t c, int64_t d) {
    if (a < 0 || b < 0 || c < 0 || d < 0) return std::nan("");
    const int64_t r1 = a + b, r2 = c + d, c1 = a + c, n = r1 + r2;
    if (n == 0) return 1.0;
    const int64_t lo = std::max<int64_t>(0, c1 - r2), hi = std::min(r1, c1);
    const double lp_obs = log_hyper(a, r1, r2, c1, n);
    // Sum in probability space relative to the observed table (scaled by exp(-lp_obs)) for accuracy.
    double sum = 0;
    const double tol = 1e-7;
    for (int64_t x = lo; x <= hi; ++x) {
        double lp = log_hyper(x, r1, r2, c1, n);
        if (lp <= lp_obs + std::log1p(tol)) sum += std::exp(lp - lp_obs);
    }
    return std::min(1.0, sum * std::exp(lp_obs));
}

TestResult two_proportion_z(int64_t x1, int64_t n1, int64_t x2, int64_t n2) {
    TestResult r;
    r.method = TestMethod::TwoProportionZ;
    if (n1 <= 0 || n2 <= 0) return r;
    const double p1 = static_cast<double>(x1) / n1, p2 = static_cast<double>(x2) / n2;
    const double p = static_cast<double>(x1 + x2) / (n1 + n2);
    const double se = std::sqrt(p * (1 - p) * (1.0 / n1 + 1.0 / n2));
    if (se == 0) {  // both proportions 0 or both 1: no evidence of a difference
        r.statistic = 0;
        r.p = 1;
        return r;
    }
    r.statistic = (p1 - p2) / se;
    r.p = std::erfc(std::abs(r.statistic) / std::sqrt(2.0));
    return r;
}

TestResult compare_proportions(int64_t x1, int64_t n1, int64_t x2, int64_t n2) {
    const double n = static_cast<double>(n1 + n2);
    if (n1 <= 0 || n2 <= 0) return {};
    const double c1 = x1 + x2, c0 = n - c1;
    const double min_expected = std::min({n1 * c1 / n, n1 * c0 / n, n2 * c1 / n, n2 * c0 / n});
    if (min_expected < 5.0) {
        TestResult r;
        r.method = TestMethod::FisherExact;
        r.p = fisher_exact_two_sided(x1, n1 - x1, x2, n2 - x2);
        r.statistic = std::exp(log_hyper(x1, n1, n2, x1 + x2, n1 + n2));
        return r;
    }
    return two_proportion_z(x1, n1, x2, n2);
}

// Continued fraction for the incomplete beta (modified Lentz), valid for x < (a+1)/(a+b+2).
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (std::abs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 500; ++m) {
        const double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1.0 + num * d;
        c = 1.0 + num / c;
        if (std::abs(d) < tiny) d = tiny;
        if (std::abs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1.0 + num * d;
        c = 1.0 + num / c;
        if (std::abs(d) < tiny) d = tiny;
        if (std::abs(c) < tiny) c = tiny;
        d = 1.0 / d;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1.0) < eps) break;
    }
    return h;
}

double incomplete_beta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    const double lfront = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return std::exp(lfront) * beta_cf(a, b, x) / a;
    return 1.0 - std::exp(lfront) * beta_cf(b, a, 1 - x) / b;
}

TestResult welch_t(double mean1, double var1, int64_t n1, double mean2, double var2, int64_t n2) {
    TestResult r;
    r.method = TestMethod::WelchT;
    if (n1 < 2 || n2 < 2) return r;  // no variance estimate: p = 1
    const double s1 = var1 / n1, s2 = var2 / n2, se2 = s1 + s2;
    if (se2 <= 0) {
        r.statistic = 0;
        r.p = mean1 == mean2 ? 1.0 : 0.0;
        return r;
    }
    r.statistic = (mean1 - mean2) / std::sqrt(se2);
    const double df = se2 * se2 / (s1 * s1 / (n1 - 1) + s2 * s2 / (n2 - 1));
    r.p = incomplete_beta(df / 2, 0.5, df / (df + r.statistic * r.statistic));
    return r;
}

std::vector<double> benjamini_hochberg(std::span<const double> p) {
    const size_t m = p.size();
    std::vector<double> q(m, 1.0);
    if (m == 0) return q;
    std::vector<size_t> order(m);
    std::iota(order.begin(), order.end(), size_t{0});
    auto val = [&](size_t i) { return std::isnan(p[i]) ? 1.0 : p[i]; };
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return val(x) < val(y); });
    double running = 1.0;
    for (size_t r = m; r-- > 0;) {
        const size_t i = order[r];
        running = std::min(running, val(i) * static_cast<double>(m) / static_cast<double>(r + 1));
        q[i] = std::min(1.0, running);
    }
    return q;
}

double percentile_linear(std::vector<double> v, double q) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const double pos = std::clamp(q, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double median(std::vector<double> v) { return percentile_linear(std::move(v), 50.0); }

}  // namespace moescope::analysis
