// Load, domain/token specialisation, co-activation, transitions and saturation on tiny hand-made runs.
#include <QtTest>
#include <cmath>

#include "analysis/coactivation.h"
#include "analysis/router_stats.h"
#include "analysis/serialize.h"
#include "analysis/specialization.h"
#include "routing_builder.h"

using namespace moescope;
using namespace moescope::analysis;
using moescope::test::RoutingBuilder;

namespace {
bool near(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol; }

// One layer, E = 4, k = 2: selections {0,1} {0,2} {0,1} {3,0} -> counts 4 2 1 1.
RoutingArrays four_tokens() {
    RoutingBuilder b({5}, 2, 4);
    b.token(0, 0, 0, 10, false, "s", {{0, 1}}, {{0.75f, 0.25f}});
    b.token(0, 0, 1, 11, false, "s", {{0, 2}}, {{0.5f, 0.5f}});
    b.token(0, 0, 2, 10, false, "s", {{0, 1}}, {{0.5f, 0.5f}});
    b.token(0, 0, 3, 12, false, "s", {{3, 0}}, {{0.5f, 0.5f}});
    return b.arrays();
}
}  // namespace

class TestSpecialization : public QObject {
    Q_OBJECT
private slots:
    void load() {
        auto r = expert_load(four_tokens(), {});
        QVERIFY2(r.ok(), r.message().c_str());
        const auto& L = r->layers.at(0);
        QCOMPARE(L.layer, 5);
        QCOMPARE(L.count, (std::vector<int64_t>{4, 2, 1, 1}));
        QVERIFY(near(L.fraction[0], 0.5) && near(L.fraction[3], 0.125));
        QVERIFY(near(L.utilisation[0], 1.0) && near(L.utilisation[1], 0.5));
        // H(.5,.25,.125,.125) = 1.75 bits; / log2(4) = 0.875
        QVERIFY(near(L.norm_entropy, 0.875));
        QVERIFY(near(L.max_vio, 1.0));                 // (4 - 2) / 2
        QVERIFY(near(L.max_over_mean, 2.0));           // 4 * 0.5
        QVERIFY(near(L.gini, 0.3125));                 // sum|xi-xj| = 20 over 2 * 16 * 2
        QVERIFY(near(L.weight_mass[0], 0.75 + 0.5 + 0.5 + 0.5));
        QCOMPARE(L.dead, 0);
        // CSV: header + 4 experts
        const std::string csv = to_csv(*r);
        QCOMPARE(static_cast<int>(std::count(csv.begin(), csv.end(), '\n')), 5);
    }

    void coactivation_counts_data() {
        QTest::addColumn<int>("mode");
        QTest::addColumn<int>("pair02");
        QTest::newRow("all pairs") << int(PairMode::AllPairs) << 2;
        QTest::newRow("adjacent rank") << int(PairMode::AdjacentRank) << 1;
    }
    void coactivation_counts() {
        QFETCH(int, mode);
        QFETCH(int, pair02);
        // k = 3: {0,1,2} {0,1,2} {2,0,3}: all pairs (0,2) occurs 3 times? no: tokens 1,2 have 0&2, token 3 too -> 3;
        // adjacent ranks: token 1,2: 0-1, 1-2 (no 0-2); token 3: 2-0, 0-3 -> (0,2) once.
        RoutingBuilder b({0}, 3, 4);
        b.token(0, 0, 0, 1, false, "", {{0, 1, 2}});
        b.token(0, 0, 1, 1, false, "", {{0, 1, 2}});
        b.token(0, 0, 2, 1, false, "", {{2, 0}});  // only 2 selected (padded)
        CoactivationOptions o;
        o.mode = PairMode(mode);
        auto r = coactivation(b.arrays(), o);
        QVERIFY2(r.ok(), r.message().c_str());
        const auto& L = r->layers[0];
        const int E = 4;
        QCOMPARE(L.count, (std::vector<int64_t>{3, 2, 3, 0}));
        QCOMPARE(static_cast<int>(L.pair[0 * E + 2]), mode == int(PairMode::AllPairs) ? 3 : pair02);
        QCOMPARE(L.pair[0 * E + 2], L.pair[2 * E + 0]);
        QCOMPARE(static_cast<int>(L.pair[0 * E + 1]), 2);
        QCOMPARE(static_cast<int>(L.pair[1 * E + 2]), 2);
        QCOMPARE(static_cast<int>(L.pair[3 * E + 0]), 0);
        // conditional P(1 | 0) = 2/3; P(0 | 1) = 2/2; lift(0,1) = 2 * 3 / (3 * 2) = 1
        QVERIFY(near(L.conditional[0 * E + 1], 2.0 / 3));
        QVERIFY(near(L.conditional[1 * E + 0], 1.0));
        QVERIFY(near(L.lift[0 * E + 1], 1.0));
        QCOMPARE(L.conditional[3 * E + 0], 0.0);  // expert 3 never selected: defined as 0
    }

    void transition_counts_data() {
        QTest::addColumn<int>("mode");
        QTest::addColumn<QVector<int>>("expected");  // E*E counts, E = 4
        // Token 1: L0 {0,1} -> L1 {2,3}; token 2: L0 {0,1} -> L1 {2,0}.
        QTest::newRow("all pairs") << int(PairMode::AllPairs)
                                   << QVector<int>{1, 0, 2, 1, /*1->*/ 1, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0};
        QTest::newRow("rank aligned") << int(PairMode::RankAligned)
                                      << QVector<int>{0, 0, 2, 0, /*1->*/ 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    }
    void transition_counts() {
        QFETCH(int, mode);
        QFETCH(QVector<int>, expected);
        RoutingBuilder b({0, 1}, 2, 4);
        b.token(0, 0, 0, 1, false, "", {{0, 1}, {2, 3}});
        b.token(0, 0, 1, 1, false, "", {{0, 1}, {2, 0}});
        TransitionOptions o;
        o.mode = PairMode(mode);
        auto r = transitions(b.arrays(), o);
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(r->pairs.size(), size_t{1});
        const auto& P = r->pairs[0];
        QCOMPARE(P.from_layer, 0);
        QCOMPARE(P.to_layer, 1);
        for (int i = 0; i < 16; ++i) QCOMPARE(static_cast<int>(P.count[i]), expected[i]);
        // Rows with counts sum to 1.
        for (int a = 0; a < 2; ++a) {
            double s = 0;
            for (int c = 0; c < 4; ++c) s += P.prob[a * 4 + c];
            QVERIFY(near(s, 1.0));
        }
        if (mode == int(PairMode::AllPairs)) {
            // Row 0 = (1, 0, 2, 1)/4: entropy -(.25 ln .25 * 2 + .5 ln .5)
            QVERIFY(near(P.row_entropy[0], -(0.5 * std::log(0.25) + 0.5 * std::log(0.5))));
            // Both rows identical -> the pair distribution is independent: MI = 0
            QVERIFY(near(P.mutual_information, 0.0, 1e-12));
        }
    }

    void token_ids() {
        // Token 7 (4x): top-1 expert 2, 2, 2, 1 -> share .75; token 8 (4x): always expert 0 -> 1.0.
        RoutingBuilder b({0}, 2, 4);
        int pos = 0;
        for (int e : {2, 2, 2, 1}) b.token(0, 0, pos++, 7, false, "", {{e, 3}});
        for (int i = 0; i < 4; ++i) b.token(0, 0, pos++, 8, false, "", {{0, 3}});
        TokenSpecOptions o;
        o.min_count = 4;
        auto r = token_specialization(b.arrays(), o);
        QVERIFY2(r.ok(), r.message().c_str());
        const auto& L = r->layers[0];
        QCOMPARE(L.tokens.size(), size_t{2});
        const auto& t7 = L.tokens[0].id == 7 ? L.tokens[0] : L.tokens[1];
        QCOMPARE(t7.count, int64_t{4});
        QCOMPARE(t7.top_expert, 2);
        QVERIFY(near(t7.max_share, 0.75));
        // population sd of (0, .25, .75, 0): mean .25, var (.0625 + 0 + .25 + .0625)/4 = .09375
        QVERIFY(near(t7.sd, std::sqrt(0.09375)));
        QVERIFY(near(L.mean_token_max_share, (0.75 + 1.0) / 2));
        // Positions each occur once: filtered out by min_count 4.
        QVERIFY(L.positions.empty());
        // Expert 2's top token is 7 with share .75.
        QCOMPARE(L.top_tokens[2].tokens.at(0).first, 7);
        QVERIFY(near(L.top_tokens[2].tokens.at(0).second, 0.75));
        // Counting every slot instead: expert 3 (always second) takes half of each token's mass.
        o.top1_only = false;
        auto all = token_specialization(b.arrays(), o);
        QVERIFY(all.ok());
        const auto& t8 = all->layers[0].tokens[0].id == 8 ? all->layers[0].tokens[0] : all->layers[0].tokens[1];
        QVERIFY(near(t8.max_share, 0.5));
    }

    void domains() {
        // Set "code": expert 0 on every token; set "prose": expert 1 on every token; k = 1.
        RoutingBuilder b({0}, 1, 2);
        for (int i = 0; i < 3; ++i) b.token(0, 0, i, 1, false, "code", {{0}});
        for (int i = 0; i < 2; ++i) b.token(1, 1, i, 1, false, "prose", {{1}});
        auto r = domain_specialization(b.arrays(), {});
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(r->sets, (std::vector<std::string>{"code", "prose"}));
        QVERIFY(near(r->spec[0][0][0], 1.0) && near(r->spec[0][0][1], 0.0));
        QVERIFY(near(r->spec[1][0][1], 1.0));
        QVERIFY(near(r->uniform_baseline, 0.5));
        // fraction of expert 0 across sets: (1, 0): mean .5, sd .5 -> CV 1
        QVERIFY(near(r->cv[0][0], 1.0));
        DomainOptions one;
        one.sets = {"code"};
        QVERIFY(!domain_specialization(b.arrays(), one).ok());
    }

    void saturation() {
        RoutingBuilder x({0, 1}, 2, 4), y({0, 1}, 2, 4);
        x.token(0, 0, 0, 5, false, "", {{0, 1}, {2, 3}});
        x.token(0, 0, 1, 6, false, "", {{0, 1}, {2, 3}});
        y.token(0, 0, 0, 5, false, "", {{1, 0}, {2, 0}});  // layer 0 same set, other order; layer 1 one shared
        y.token(0, 0, 1, 6, false, "", {{0, 1}, {3, 1}});
        auto r = router_saturation(x.arrays(), y.arrays(), {});
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(r->k, 2);
        QVERIFY(near(r->layers[0].saturation, 1.0));
        QVERIFY(near(r->layers[0].top1_agreement, 0.5));
        QVERIFY(near(r->layers[1].saturation, 0.5));    // (1/2 + 1/2) / 2
        QVERIFY(near(r->layers[1].jaccard, 1.0 / 3));   // |{2}| / |{0,2,3}| and |{3}| / |{1,2,3}|
        QVERIFY(near(r->layers[0].set_differ, 0.0));    // same sets (order ignored) on both tokens
        QVERIFY(near(r->layers[1].set_differ, 1.0));    // both tokens' sets differ
        QVERIFY(near(r->random_baseline, 0.5));
        // Different tokens -> clear error
        RoutingBuilder z({0, 1}, 2, 4);
        z.token(0, 0, 0, 9, false, "", {{0, 1}, {2, 3}});
        auto bad = router_saturation(x.arrays(), z.arrays(), {});
        QVERIFY(!bad.ok());
        QVERIFY(bad.message().find("identical tokens") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestSpecialization)
#include "test_specialization.moc"
