// Significance tests and FDR against textbook / R reference values.
#include <QtTest>
#include <cmath>
#include <vector>

#include "analysis/stats.h"

using namespace moescope::analysis;

class TestStats : public QObject {
    Q_OBJECT
private slots:
    void fisher_data() {
        QTest::addColumn<int>("a");
        QTest::addColumn<int>("b");
        QTest::addColumn<int>("c");
        QTest::addColumn<int>("d");
        QTest::addColumn<double>("expected");
        // R: fisher.test(matrix(c(3,1,1,3), 2))$p.value (Fisher's tea tasting) = 0.4857143
        QTest::newRow("tea") << 3 << 1 << 1 << 3 << 0.4857142857;
        // R: fisher.test(matrix(c(1,11,9,3), 2))$p.value = 0.002759456
        QTest::newRow("skewed") << 1 << 9 << 11 << 3 << 0.002759456;
        // A table equal to its expectation: p = 1
        QTest::newRow("balanced") << 2 << 2 << 2 << 2 << 1.0;
        // Only one possible table given the margins
        QTest::newRow("degenerate") << 0 << 0 << 0 << 5 << 1.0;
    }
    void fisher() {
        QFETCH(int, a);
        QFETCH(int, b);
        QFETCH(int, c);
        QFETCH(int, d);
        QFETCH(double, expected);
        QVERIFY2(std::abs(fisher_exact_two_sided(a, b, c, d) - expected) < 1e-6,
                 qPrintable(QString::number(fisher_exact_two_sided(a, b, c, d), 'g', 10)));
    }
    void ztest() {
        // p1 = .5, p2 = .3, pooled .4: z = .2 / sqrt(.4 * .6 * (1/100 + 1/100)) = 2.886751
        TestResult r = two_proportion_z(50, 100, 30, 100);
        QVERIFY(std::abs(r.statistic - 2.886751346) < 1e-8);
        QVERIFY(std::abs(r.p - std::erfc(2.886751346 / std::sqrt(2.0))) < 1e-9);
        QCOMPARE(r.method, TestMethod::TwoProportionZ);
        // Large counts use the z-test; a small table uses Fisher.
        QCOMPARE(compare_proportions(50, 100, 30, 100).method, TestMethod::TwoProportionZ);
        QCOMPARE(compare_proportions(1, 10, 11, 14).method, TestMethod::TwoProportionZ);  // all expected cells = 5
        QCOMPARE(compare_proportions(1, 5, 4, 5).method, TestMethod::FisherExact);     // expected 2.5
        QVERIFY(std::abs(compare_proportions(1, 5, 4, 5).p - 0.2063492063) < 1e-9);
    }
    void bh() {
        // Hand-computed: sorted p .005 .01 .03 .04 -> p*m/rank .02 .02 .04 .04 (already monotone)
        std::vector<double> p{0.01, 0.04, 0.03, 0.005};
        std::vector<double> q = benjamini_hochberg(p);
        std::vector<double> want{0.02, 0.04, 0.04, 0.02};
        for (size_t i = 0; i < p.size(); ++i) QVERIFY(std::abs(q[i] - want[i]) < 1e-12);
        // Step-up monotonicity: .01 .02 .9 with m=3 -> .03 .03 .9
        std::vector<double> p2{0.02, 0.01, 0.9};
        auto q2 = benjamini_hochberg(p2);
        QVERIFY(std::abs(q2[0] - 0.03) < 1e-12 && std::abs(q2[1] - 0.03) < 1e-12 && std::abs(q2[2] - 0.9) < 1e-12);
        QVERIFY(benjamini_hochberg(std::vector<double>{}).empty());
    }
    void tdist() {
        // I_0.5(2,3) = sum_{j=2}^{4} C(4,j) / 16 = 11/16
        QVERIFY(std::abs(incomplete_beta(2, 3, 0.5) - 0.6875) < 1e-12);
        // Student t, df = 10, |t| = 2: two-sided p = 0.07338803 (R: 2*pt(-2, 10))
        QVERIFY(std::abs(incomplete_beta(5, 0.5, 10.0 / 14.0) - 0.07338803) < 1e-7);
        // Welch with equal variances and sizes: df = 2(n-1); means 1 vs 0, var 1, n 6 -> t = 1/sqrt(1/3) = 1.7320508,
        // df = 10: p = 2*pt(-1.7320508, 10) = 0.11393741
        TestResult w = welch_t(1, 1, 6, 0, 1, 6);
        QVERIFY(std::abs(w.statistic - 1.7320508) < 1e-6);
        QVERIFY2(std::abs(w.p - 0.11393741) < 1e-6, qPrintable(QString::number(w.p, 'g', 10)));
    }
    void percentile() {
        QCOMPARE(percentile_linear({4, 1, 3, 2}, 50), 2.5);
        std::vector<double> v;
        for (int i = 0; i < 200; ++i) v.push_back(i);
        QVERIFY(std::abs(percentile_linear(v, 99.5) - 198.005) < 1e-9);  // numpy: 0.995 * 199
        QVERIFY(std::isnan(percentile_linear({}, 50)));
    }
};

QTEST_GUILESS_MAIN(TestStats)
#include "test_stats.moc"
