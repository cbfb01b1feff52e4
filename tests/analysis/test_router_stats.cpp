// Load-balancing loss (per batch vs global), router entropy/z-loss and dynamic-k on hand-made runs.
#include <QtTest>
#include <cmath>

#include "analysis/dynamic_k.h"
#include "analysis/router_stats.h"
#include "analysis/serialize.h"
#include "routing_builder.h"

using namespace moescope;
using namespace moescope::analysis;
using moescope::test::RoutingBuilder;

namespace {
// logits are float: compare to 1e-6
bool near(double a, double b, double tol = 1e-6) { return std::abs(a - b) <= tol; }

// Two sequences of 2 tokens, E = 2, k = 1. Sequence A always picks expert 0 with p = (.75, .25);
// sequence B always picks expert 1 with p = (.25, .75).
RoutingArrays two_specialised_sequences() {
    RoutingBuilder b({0}, 1, 2);
    for (int t = 0; t < 2; ++t) b.token(0, 0, t, 1, false, "", {{0}});
    for (int t = 0; t < 2; ++t) b.token(1, 1, t, 1, false, "", {{1}});
    RoutingArrays a = b.arrays();
    const float l3 = static_cast<float>(std::log(3.0));
    a.router_logits = {l3, 0, l3, 0, 0, l3, 0, l3};
    return a;
}
}  // namespace

class TestRouterStats : public QObject {
    Q_OBJECT
private slots:
    void micro_vs_global() {
        RouterStatsOptions o;
        o.micro_batch_sizes = {1, 2};
        auto r = router_stats(two_specialised_sequences(), o);
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(r->sequences, int64_t{2});
        const auto& L = r->layers[0];
        // Global: f = (.5, .5), P = (.5, .5): E * sum f P = 2 * .5 = 1 (balanced).
        QVERIFY(near(L.lbl_norm, 1.0));
        QVERIFY(near(L.lbl_hf, 1.0));  // k = 1
        // b = 1: each sequence f = (1, 0), P = (.75, .25): 2 * .75 = 1.5; global f with per-batch P: 2 * .5 = 1.
        QCOMPARE(L.micro_global[0].batch_sequences, 1);
        QCOMPARE(L.micro_global[0].n_batches, 2);
        QVERIFY(near(L.micro_global[0].lbl_micro, 1.5));
        QVERIFY(near(L.micro_global[0].lbl_global, 1.0));
        // b = 2: one batch = the whole data: both 1.
        QVERIFY(near(L.micro_global[1].lbl_micro, 1.0));
        QVERIFY(near(L.micro_global[1].lbl_global, 1.0));
        // Entropy of (.75, .25) / ln 2 = 0.811278; top-k mass .75; margin .5; z-loss (ln 4)^2.
        QVERIFY(near(L.mean_entropy, 0.8112781244591328));
        QVERIFY(near(L.mean_topk_mass, 0.75));
        QVERIFY(near(L.mean_margin, 0.5));
        QVERIFY(near(L.z_loss, std::log(4.0) * std::log(4.0), 1e-6));
        QCOMPARE(L.near_tie_fraction, 0.0);
        QVERIFY(to_json(*r).at("layers").at(0).contains("micro_vs_global"));
    }

    void needs_logits() {
        RoutingArrays a = two_specialised_sequences();
        a.router_logits.clear();
        auto r = router_stats(a, {});
        QVERIFY(!r.ok());
        QVERIFY(r.message().find("capture level 'logits'") != std::string::npos);
    }

    void top_p_rule_data() {
        QTest::addColumn<QVector<double>>("p");
        QTest::addColumn<double>("top_p");
        QTest::addColumn<int>("max_k");
        QTest::addColumn<int>("expected");
        QTest::newRow("two needed") << QVector<double>{0.2, 0.5, 0.3} << 0.6 << 0 << 2;
        QTest::newRow("one enough") << QVector<double>{0.7, 0.2, 0.1} << 0.6 << 0 << 1;
        QTest::newRow("exact boundary") << QVector<double>{0.3, 0.3, 0.4} << 0.7 << 0 << 2;
        QTest::newRow("capped") << QVector<double>{0.25, 0.25, 0.25, 0.25} << 0.9 << 2 << 2;
        QTest::newRow("p = 1 takes all") << QVector<double>{0.5, 0.25, 0.25} << 1.0 << 0 << 3;
    }
    void top_p_rule() {
        QFETCH(QVector<double>, p);
        QFETCH(double, top_p);
        QFETCH(int, max_k);
        QFETCH(int, expected);
        QCOMPARE(top_p_count(std::vector<double>(p.begin(), p.end()), top_p, max_k), expected);
    }

    void dynamic_k_per_set() {
        // Recorded with top-p routing (k_max 3): set "easy" uses 1 expert, set "hard" uses 3 then 2.
        RoutingBuilder b({0}, 3, 4);
        b.token(0, 0, 0, 1, false, "easy", {{2}});
        b.token(0, 0, 1, 1, false, "easy", {{1}});
        b.token(1, 1, 0, 1, false, "hard", {{0, 1, 2}});
        b.token(1, 1, 1, 1, false, "hard", {{0, 3}});
        RoutingArrays a = b.arrays();
        // logits giving p = (.7, .1, .1, .1) for easy and uniform for hard
        const float l7 = static_cast<float>(std::log(7.0));
        a.router_logits = {l7, 0, 0, 0, l7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        DynamicKOptions o;
        o.top_p = 0.6;
        auto r = dynamic_k(a, o);
        QVERIFY2(r.ok(), r.message().c_str());
        QVERIFY(r->simulated);
        QCOMPARE(r->sets.size(), size_t{3});
        QCOMPARE(r->sets[0].set, std::string("(all)"));
        QVERIFY(near(r->sets[0].layers[0].observed.mean, 7.0 / 4));
        const auto& easy = r->sets[1];
        const auto& hard = r->sets[2];
        QCOMPARE(easy.set, std::string("easy"));
        QVERIFY(near(easy.layers[0].observed.mean, 1.0));
        QVERIFY(near(hard.layers[0].observed.mean, 2.5));
        QCOMPARE(hard.layers[0].observed.histogram, (std::vector<int64_t>{0, 0, 1, 1}));
        QVERIFY(near(easy.layers[0].simulated.mean, 1.0));  // .7 >= .6
        QVERIFY(near(hard.layers[0].simulated.mean, 3.0));  // .25 * 3 >= .6
        // Without logits: observed only, with a note.
        a.router_logits.clear();
        auto obs = dynamic_k(a, o);
        QVERIFY(obs.ok());
        QVERIFY(!obs->simulated);
    }
};

QTEST_GUILESS_MAIN(TestRouterStats)
#include "test_router_stats.moc"
