// EASY-EP / MC-MoE / frequency importance and keep-top-N plans on a hand-made calibration run.
#include <QtTest>
#include <cmath>

#include "analysis/importance.h"
#include "analysis/serialize.h"
#include "routing_builder.h"

using namespace moescope;
using namespace moescope::analysis;
using moescope::test::RoutingBuilder;

namespace {
bool near(double a, double b) { return std::abs(a - b) < 1e-6; }

// One layer (HF 3), E = 4, k = 2, two tokens:
//   t0: experts (0, 1) weights (.6, .4), output norms (1, 10), contribution s = .5
//   t1: experts (0, 2) weights (.9, .1), output norms (2, 1),  contribution s = 1
RoutingArrays calib() {
    RoutingBuilder b({3}, 2, 4);
    b.token(0, 0, 0, 1, false, "math", {{0, 1}}, {{0.6f, 0.4f}});
    b.token(0, 0, 1, 2, false, "math", {{0, 2}}, {{0.9f, 0.1f}});
    RoutingArrays a = b.arrays();
    a.expert_out_norm = {1, 10, 2, 1};
    a.down_proj_max = {1, 1, 1, 1};
    a.down_proj_channel = {0, 0, 0, 0};
    return a;
}
}  // namespace

class TestImportance : public QObject {
    Q_OBJECT
private slots:
    void scores_and_plan_data() {
        QTest::addColumn<int>("method");
        QTest::addColumn<QVector<double>>("expected");  // score per expert
        QTest::addColumn<QVector<int>>("keep");          // keep_per_layer = 2
        QTest::newRow("frequency") << int(ImportanceMethod::Frequency) << QVector<double>{2, 1, 1, 0} << QVector<int>{0, 1};
        QTest::newRow("gate") << int(ImportanceMethod::Gate) << QVector<double>{1.5, 0.4, 0.1, 0} << QVector<int>{0, 1};
        // w * n: e0 .6*1 + .9*2 = 2.4; e1 .4*10 = 4; e2 .1
        QTest::newRow("output") << int(ImportanceMethod::Output) << QVector<double>{2.4, 4.0, 0.1, 0} << QVector<int>{0, 1};
        // w * n * s: e0 .6*1*.5 + .9*2*1 = 2.1; e1 .4*10*.5 = 2; e2 .1*1*1 = .1
        QTest::newRow("easy_ep") << int(ImportanceMethod::EasyEp) << QVector<double>{2.1, 2.0, 0.1, 0} << QVector<int>{0, 1};
        // phi = (.5,.25,.25,0); omega = gates / 2 = (.75,.2,.05,0); sig = phi * omega^1.5
        QTest::newRow("mc_moe") << int(ImportanceMethod::McMoe)
                                << QVector<double>{0.5 * std::pow(0.75, 1.5), 0.25 * std::pow(0.2, 1.5),
                                                   0.25 * std::pow(0.05, 1.5), 0}
                                << QVector<int>{0, 1};
    }
    void scores_and_plan() {
        QFETCH(int, method);
        QFETCH(QVector<double>, expected);
        QFETCH(QVector<int>, keep);
        ImportanceOptions o;
        o.method = ImportanceMethod(method);
        o.keep_per_layer = 2;
        o.token_contribution = {0.5f, 1.0f};
        auto r = expert_importance(calib(), o);
        QVERIFY2(r.ok(), r.message().c_str());
        for (int e = 0; e < 4; ++e) QVERIFY2(near(r->score[0][e], expected[e]), qPrintable(QString::number(r->score[0][e])));
        QCOMPARE(r->keep[0], std::vector<int>(keep.begin(), keep.end()));
        QCOMPARE(r->drop[0], (std::vector<int>{2, 3}));
        QCOMPARE(r->disable_preset, (std::vector<ExpertRef>{{3, 2}, {3, 3}}));
        const auto plan = prune_plan_json(*r);
        QCOMPARE(plan.at("kind").get<std::string>(), std::string("moescope.prune_plan"));
        QCOMPARE(plan.at("layers").at(0).at("layer").get<int>(), 3);
        QCOMPARE(plan.at("layers").at(0).at("keep"), (nlohmann::json{keep[0], keep[1]}));
    }

    // s_t recorded with the activations (RoutingArrays::token_contribution) is used when the caller gives
    // none: the same hand-computed easy_ep as with caller-supplied s_t; NaN rows count as s = 0 (noted).
    void easy_ep_from_recorded_contribution_data() {
        QTest::addColumn<QVector<float>>("s");
        QTest::addColumn<QVector<double>>("expected");
        QTest::addColumn<bool>("noted_missing");
        QTest::newRow("recorded s = (.5, 1)") << QVector<float>{0.5f, 1.0f} << QVector<double>{2.1, 2.0, 0.1, 0} << false;
        // t1 without s_t: only t0 counts: e0 .6*1*.5 = .3, e1 .4*10*.5 = 2
        QTest::newRow("t1 not recorded") << QVector<float>{0.5f, NAN} << QVector<double>{0.3, 2.0, 0, 0} << true;
    }
    void easy_ep_from_recorded_contribution() {
        QFETCH(QVector<float>, s);
        QFETCH(QVector<double>, expected);
        QFETCH(bool, noted_missing);
        RoutingArrays a = calib();
        a.token_contribution.assign(s.begin(), s.end());
        ImportanceOptions o;
        o.method = ImportanceMethod::EasyEp;
        o.keep_per_layer = 2;
        auto r = expert_importance(a, o);
        QVERIFY2(r.ok(), r.message().c_str());
        for (int e = 0; e < 4; ++e) QVERIFY2(near(r->easy_ep[0][e], expected[e]), qPrintable(QString::number(r->easy_ep[0][e])));
        QCOMPARE(r->score, r->easy_ep);
        // the partial score (w * ||y||, no s_t) stays available as "output"
        QVERIFY(near(r->output[0][1], 4.0));
        bool noted = false;
        for (const auto& n : r->notes) noted |= n.find("no recorded s_t") != std::string::npos;
        QCOMPARE(noted, noted_missing);
        a.token_contribution.pop_back();  // mis-sized: an error, not a read past the end
        QVERIFY(!expert_importance(a, o).ok());
    }

    void output_aware_changes_the_plan() {
        // Keep only 1: frequency keeps expert 0, output-aware (w * n) keeps expert 1 (norm 10).
        ImportanceOptions o;
        o.keep_per_layer = 1;
        o.method = ImportanceMethod::Frequency;
        QCOMPARE(expert_importance(calib(), o)->keep[0], std::vector<int>{0});
        o.method = ImportanceMethod::Output;
        QCOMPARE(expert_importance(calib(), o)->keep[0], std::vector<int>{1});
    }

    void missing_inputs_data() {
        QTest::addColumn<int>("method");
        QTest::addColumn<bool>("drop_norms");
        QTest::addColumn<bool>("give_s");
        QTest::addColumn<QString>("message");
        QTest::newRow("easy_ep without s_t") << int(ImportanceMethod::EasyEp) << false << false << "token contribution";
        QTest::newRow("output without activations") << int(ImportanceMethod::Output) << true << true << "capture level 'activations'";
        QTest::newRow("frequency needs nothing") << int(ImportanceMethod::Frequency) << true << false << "";
    }
    void missing_inputs() {
        QFETCH(int, method);
        QFETCH(bool, drop_norms);
        QFETCH(bool, give_s);
        QFETCH(QString, message);
        RoutingArrays a = calib();
        if (drop_norms) {
            a.expert_out_norm.clear();
            a.down_proj_max.clear();
            a.down_proj_channel.clear();
        }
        ImportanceOptions o;
        o.method = ImportanceMethod(method);
        if (give_s) o.token_contribution = {1.0f, 1.0f};
        auto r = expert_importance(a, o);
        QCOMPARE(r.ok(), message.isEmpty());
        if (!message.isEmpty()) QVERIFY2(r.message().find(message.toStdString()) != std::string::npos, r.message().c_str());
    }
    // kept_fraction: hand-computed shares; a zero layer counts as covered; out-of-range ids are ignored.
    void kept_fraction_values_data() {
        QTest::addColumn<QVector<double>>("values");
        QTest::addColumn<QVector<int>>("keep");
        QTest::addColumn<double>("expected");
        QTest::newRow("half of the mass") << QVector<double>{4, 3, 2, 1} << QVector<int>{1, 3} << 0.4;
        QTest::newRow("all kept") << QVector<double>{4, 3, 2, 1} << QVector<int>{0, 1, 2, 3} << 1.0;
        QTest::newRow("none kept") << QVector<double>{4, 3, 2, 1} << QVector<int>{} << 0.0;
        QTest::newRow("zero layer") << QVector<double>{0, 0, 0} << QVector<int>{0} << 1.0;
        QTest::newRow("bad id ignored") << QVector<double>{1, 1} << QVector<int>{0, 7, -1} << 0.5;
    }
    void kept_fraction_values() {
        QFETCH(QVector<double>, values);
        QFETCH(QVector<int>, keep);
        QFETCH(double, expected);
        const auto f = kept_fraction({std::vector<double>(values.begin(), values.end())}, {std::vector<int>(keep.begin(), keep.end())});
        QCOMPARE(f.size(), size_t(1));
        QCOMPARE(f[0], expected);
    }
};

QTEST_GUILESS_MAIN(TestImportance)
#include "test_importance.moc"
