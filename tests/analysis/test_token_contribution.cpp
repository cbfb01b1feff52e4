// Per-layer summary of the EASY-EP token contribution s_t against hand-computed statistics.
#include <QtTest>
#include <cmath>
#include <limits>

#include "analysis/token_contribution.h"
#include "routing_builder.h"

using namespace moescope;
using namespace moescope::analysis;
using moescope::test::RoutingBuilder;

namespace {
bool near(double a, double b) { return std::abs(a - b) < 1e-12; }
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Two MoE layers (HF 1 and 3), 6 tokens of one sequence, the last two generated. s_t at slot 0:
// 4 0 NaN 2 1 3; slot 1: all NaN (not stored).
RoutingArrays arrays() {
    RoutingBuilder b({1, 3}, 1, 4);
    for (int t = 0; t < 6; ++t) b.token(1, 1, t, 10 + t, t >= 4, "", {{t % 4}, {(t + 1) % 4}});
    RoutingArrays a = b.arrays();
    const float s0[] = {4, 0, kNaN, 2, 1, 3};
    for (int t = 0; t < 6; ++t) {
        a.token_contribution.push_back(s0[t]);
        a.token_contribution.push_back(kNaN);
    }
    return a;
}
}  // namespace

class TestTokenContribution : public QObject {
    Q_OBJECT
private slots:
    void summary_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<qint64>("count");
        QTest::addColumn<double>("mean");
        QTest::addColumn<double>("min");
        QTest::addColumn<double>("q1");
        QTest::addColumn<double>("median");
        QTest::addColumn<double>("q3");
        QTest::addColumn<double>("max");
        // All rows: {0,1,2,3,4} (NaN skipped): linear percentiles at positions 1, 2, 3.
        QTest::newRow("all") << int(TokenKind::All) << qint64(5) << 2.0 << 0.0 << 1.0 << 2.0 << 3.0 << 4.0;
        // Prompt rows 0-3: {4,0,NaN,2} -> {0,2,4}: positions 0.5, 1, 1.5 -> 1, 2, 3.
        QTest::newRow("prompt") << int(TokenKind::Prompt) << qint64(3) << 2.0 << 0.0 << 1.0 << 2.0 << 3.0 << 4.0;
        // Rows 1-4 through a mask: {0,NaN,2,1} -> {0,1,2}: 0.5, 1, 1.5.
        QTest::newRow("mask") << -1 << qint64(3) << 1.0 << 0.0 << 0.5 << 1.0 << 1.5 << 2.0;
        // Generated rows: {1,3}.
        QTest::newRow("generated") << int(TokenKind::Generated) << qint64(2) << 2.0 << 1.0 << 1.5 << 2.0 << 2.5 << 3.0;
    }
    void summary() {
        QFETCH(int, kind);
        QFETCH(qint64, count);
        QFETCH(double, mean);
        QFETCH(double, min);
        QFETCH(double, q1);
        QFETCH(double, median);
        QFETCH(double, q3);
        QFETCH(double, max);
        TokenFilter f;
        if (kind >= 0) f.kind = static_cast<TokenKind>(kind);
        else f.mask = {0, 1, 1, 1, 1, 0};
        auto r = token_contribution_summary(arrays(), f);
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(r.value().layers.size(), size_t(2));
        const ContributionLayer& L = r.value().layers[0];
        QCOMPARE(L.layer, 1);
        QCOMPARE(L.count, count);
        QVERIFY(near(L.mean, mean));
        QVERIFY(near(L.min, min));
        QVERIFY(near(L.q1, q1));
        QVERIFY(near(L.median, median));
        QVERIFY(near(L.q3, q3));
        QVERIFY(near(L.max, max));
        // Slot 1 stores nothing: count 0 and NaN statistics, not zeros.
        const ContributionLayer& N = r.value().layers[1];
        QCOMPARE(N.layer, 3);
        QCOMPARE(N.count, qint64(0));
        QVERIFY(std::isnan(N.mean) && std::isnan(N.q1) && std::isnan(N.max));
    }
    void absent_or_malformed() {
        RoutingArrays a = arrays();
        a.token_contribution.clear();
        auto r = token_contribution_summary(a);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("activations") != std::string::npos, r.message().c_str());
        a = arrays();
        a.token_contribution.pop_back();
        r = token_contribution_summary(a);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("expected 12") != std::string::npos, r.message().c_str());
    }
};

QTEST_MAIN(TestTokenContribution)
#include "test_token_contribution.moc"
