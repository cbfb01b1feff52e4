// SRP / SCH (local routing consistency) against hand-computed values on short sequences.
#include <QtTest>
#include <cmath>

#include "analysis/lrc.h"
#include "analysis/serialize.h"
#include "routing_builder.h"

using namespace moescope;
using namespace moescope::analysis;
using moescope::test::RoutingBuilder;

namespace {
bool near(double a, double b) { return std::abs(a - b) < 1e-12; }

// One layer, E experts, k = 1, one sequence with the given expert per token.
RoutingArrays sequence(const std::vector<int>& ids, int E) {
    RoutingBuilder b({0}, 1, E);
    for (size_t t = 0; t < ids.size(); ++t) b.token(0, 0, static_cast<int>(t), 1, false, "", {{ids[t]}});
    return b.arrays();
}
}  // namespace

class TestLrc : public QObject {
    Q_OBJECT
private slots:
    void srp_hand_computed() {
        // Sequence 0 0 1 0, m = 2: windows (0,0) (0,1) (1,0).
        // Expert 0 counts 2,1,1: n = [0,2,1], Act 4. alpha 0/1: TP 4, Pred 6 -> F1 .8; alpha 2: TP 2, Pred 2 -> 4/6.
        // Expert 1 counts 0,1,1: n = [1,2,0], Act 2. alpha 0: 4/8; alpha 1: TP 2, Pred 4 -> 4/6; alpha 2: 0.
        // Layer (pooled): n = [1,4,1], Act 6. alpha 0: 12/18; alpha 1: TP 6, Pred 10 -> 12/16 = .75; alpha 2: 4/8.
        LrcOptions o;
        o.seg_lengths = {2};
        o.compute_sch = false;
        auto r = local_routing_consistency(sequence({0, 0, 1, 0}, 2), o);
        QVERIFY2(r.ok(), r.message().c_str());
        const auto& s = r->srp.at(0);
        QCOMPARE(s.m, 2);
        QVERIFY(near(s.expert[0][0].srp, 0.8));
        QCOMPARE(s.expert[0][0].alpha, 0);
        QVERIFY(near(s.expert[0][0].rho_hat, 1.5));
        QVERIFY(near(s.expert[0][1].srp, 4.0 / 6));
        QCOMPARE(s.expert[0][1].alpha, 1);
        QVERIFY(near(s.expert[0][1].rho_hat, 2.0));
        QVERIFY(near(s.layer[0].srp, 0.75));
        QCOMPARE(s.layer[0].alpha, 1);
        QVERIFY(near(s.layer[0].rho_hat, 10.0 / 6));
        QVERIFY(near(s.layer[0].act_rate, 6.0 / (2 * 6)));  // k/E = 1/2
        QVERIFY(near(s.model.srp, 0.75));  // one layer: model = layer
    }

    void srp_histogram_data() {
        QTest::addColumn<QVector<qint64>>("hist");
        QTest::addColumn<int>("m");
        QTest::addColumn<double>("srp");
        // Perfectly consistent expert: active in whole windows only -> SRP 1.
        QTest::newRow("consistent") << QVector<qint64>{5, 0, 0, 0, 3} << 4 << 1.0;
        // Never active -> 0.
        QTest::newRow("never") << QVector<qint64>{7, 0, 0} << 2 << 0.0;
        // m = 1: the estimator is the token routing itself -> 1.
        QTest::newRow("m1") << QVector<qint64>{4, 2} << 1 << 1.0;
    }
    void srp_histogram() {
        QFETCH(QVector<qint64>, hist);
        QFETCH(int, m);
        QFETCH(double, srp);
        std::vector<int64_t> h(hist.begin(), hist.end());
        QVERIFY(near(srp_from_histogram(h, m).srp, srp));
    }

    void sch_hand_computed_data() {
        QTest::addColumn<QVector<int>>("ids");
        QTest::addColumn<double>("ratio");
        QTest::addColumn<int>("m");
        QTest::addColumn<double>("hit_rate");
        // 0 1 1 2 0, C = 2, lookahead 2: at t=3 evict 1 (unused in [3,5)), keep 0 -> t=4 hits: hits t2, t4 = 2/5.
        QTest::newRow("oracle beats LRU") << QVector<int>{0, 1, 1, 2, 0} << 2.0 << 2 << 0.4;
        // Lookahead 1 sees only t=3: tie on future count -> least recently used (0) is evicted -> 1/5.
        QTest::newRow("lookahead 1 = LRU") << QVector<int>{0, 1, 1, 2, 0} << 2.0 << 1 << 0.2;
        // C = 1: every change of expert misses: 0 1 0 2 0 -> no hits.
        QTest::newRow("cache of one") << QVector<int>{0, 1, 0, 2, 0} << 1.0 << 4 << 0.0;
        // C = 3 >= distinct experts: only the 3 compulsory misses of 5 demands.
        QTest::newRow("all fit") << QVector<int>{0, 1, 0, 2, 0} << 3.0 << 4 << 0.4;
    }
    void sch_hand_computed() {
        QFETCH(QVector<int>, ids);
        QFETCH(double, ratio);
        QFETCH(int, m);
        QFETCH(double, hit_rate);
        LrcOptions o;
        o.seg_lengths = {m};
        o.cache_ratios = {ratio};
        auto r = local_routing_consistency(sequence(std::vector<int>(ids.begin(), ids.end()), 4), o);
        QVERIFY2(r.ok(), r.message().c_str());
        const auto& v = r->sch.at(0).at(0);
        QCOMPARE(v.cache_size, static_cast<int>(ratio));
        QVERIFY2(near(v.hit_rate, hit_rate), qPrintable(QString::number(v.hit_rate)));
    }

    // Cross-layer (model-level) SCH on a hand-made run: 2 MoE layers, E = 2, k = 1, one sequence of 4 tokens,
    // layer slot 0 routes 0 1 0 1, slot 1 routes 0 0 0 0 -> ids (m E + e): t0 {0,2} t1 {1,2} t2 {0,2} t3 {1,2}.
    // ratio 1 -> C = round(1 x 2 x 1) = 2: t1 inserts 1, evicts 0 (only one not demanded); t2 inserts 0, evicts
    // 1; t3 inserts 1, evicts 0: hits = id 2 at t1..t3 = 3 / 8. ratio 2 -> C = 4: only the 3 compulsory misses
    // of 8 demands -> 5 / 8. Layer-level for comparison (C = 1 / 2): slot 0 0 and 2/4, slot 1 3/4 and 3/4.
    void sch_model_hand_computed_data() {
        QTest::addColumn<double>("ratio");
        QTest::addColumn<int>("cache");
        QTest::addColumn<double>("model");
        QTest::addColumn<double>("layer0");
        QTest::addColumn<double>("layer1");
        QTest::newRow("ratio 1") << 1.0 << 2 << 3.0 / 8 << 0.0 << 0.75;
        QTest::newRow("ratio 2") << 2.0 << 4 << 5.0 / 8 << 0.5 << 0.75;
    }
    void sch_model_hand_computed() {
        QFETCH(double, ratio);
        QFETCH(int, cache);
        QFETCH(double, model);
        QFETCH(double, layer0);
        QFETCH(double, layer1);
        RoutingBuilder b({0, 1}, 1, 2);
        for (int t = 0; t < 4; ++t) b.token(0, 0, t, 1, false, "", {{t % 2}, {0}});
        LrcOptions o;
        o.seg_lengths = {4};
        o.cache_ratios = {ratio};
        auto r = local_routing_consistency(b.arrays(), o);
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(r->sch_model.size(), size_t{1});
        QCOMPARE(r->sch_model[0].cache_size, cache);
        QVERIFY2(near(r->sch_model[0].hit_rate, model), qPrintable(QString::number(r->sch_model[0].hit_rate)));
        QVERIFY(near(r->sch.at(0).at(0).hit_rate, layer0));
        QVERIFY(near(r->sch.at(1).at(0).hit_rate, layer1));
        const auto j = to_json(*r);
        QCOMPARE(j.at("sch_model").at(0).at("cache_size").get<int>(), cache);
    }

    void sequences_are_separate() {
        // Two sequences "0 0" and "1 1" (m = 2): each window is constant -> SRP 1 for both experts; had they
        // been joined, the window (0, 1) would exist.
        RoutingBuilder b({0}, 1, 2);
        b.token(0, 0, 0, 1, false, "", {{0}}).token(0, 0, 1, 1, false, "", {{0}});
        b.token(0, 1, 0, 1, false, "", {{1}}).token(0, 1, 1, 1, false, "", {{1}});
        LrcOptions o;
        o.seg_lengths = {2, 4};
        auto r = local_routing_consistency(b.arrays(), o);
        QVERIFY(r.ok());
        QCOMPARE(r->sequences, int64_t{2});
        QVERIFY(near(r->srp[0].layer[0].srp, 1.0));
        QCOMPARE(r->srp[0].layer[0].windows, int64_t{4});  // 2 windows x 2 experts
        // m = 4 is longer than every sequence: 0 with a note.
        QCOMPARE(r->srp[1].layer[0].srp, 0.0);
        QVERIFY(!r->notes.empty());
        QVERIFY(to_json(*r).at("srp").size() == 2);
    }
};

QTEST_GUILESS_MAIN(TestLrc)
#include "test_lrc.moc"
