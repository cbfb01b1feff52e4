#pragma once
// Significance tests and multiple-comparison correction used by the analyses (fTRI above all).
//
// Test choice for comparing two activation frequencies a1/n1 vs a2/n2 (documented in docs/analyses.md):
//   - Fisher's exact test, two-sided (sum of hypergeometric probabilities <= the observed table's,
//     relative tolerance 1e-7 as in R's fisher.test), whenever any expected cell count of the 2x2 table
//     is below 5 — the textbook condition under which the normal approximation is unreliable;
//   - otherwise the pooled two-proportion z-test (identical to Pearson's chi-square on the 2x2 table
//     without continuity correction, 1 df), whose cost does not grow with the counts.
// Both treat tokens as independent draws; tokens of one prompt are correlated, so p-values are
// optimistic (use pooling = prompts for a prompt-level Welch test).
#include <cstdint>
#include <span>
#include <vector>

namespace moescope::analysis {

enum class TestMethod { FisherExact, TwoProportionZ, WelchT, None };
const char* test_method_name(TestMethod m);

struct TestResult {
    double statistic = 0;  // z or t; for Fisher the observed table's probability
    double p = 1;
    TestMethod method = TestMethod::None;
};

// Two-sided Fisher exact test on [[a, b], [c, d]].
double fisher_exact_two_sided(int64_t a, int64_t b, int64_t c, int64_t d);
// Pooled two-proportion z-test: z = (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)), two-sided p = erfc(|z|/sqrt 2).
TestResult two_proportion_z(int64_t x1, int64_t n1, int64_t x2, int64_t n2);
// The documented choice above.
TestResult compare_proportions(int64_t x1, int64_t n1, int64_t x2, int64_t n2);
// Welch's unequal-variance t-test from sample means/variances (unbiased, n-1) and sizes; two-sided.
TestResult welch_t(double mean1, double var1, int64_t n1, double mean2, double var2, int64_t n2);

// Benjamini–Hochberg step-up adjusted p-values (q-values), same order as the input. NaN p -> q = 1.
std::vector<double> benjamini_hochberg(std::span<const double> p);

// Regularized incomplete beta I_x(a, b) (continued fraction), used for the t distribution.
double incomplete_beta(double a, double b, double x);
// Percentile with linear interpolation between order statistics (numpy's default), q in [0, 100].
double percentile_linear(std::vector<double> values, double q);
double median(std::vector<double> values);

}  // namespace moescope::analysis
