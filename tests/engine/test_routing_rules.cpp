// Hand-computed routing cases: the router function with known logits (every family's rule and every
// intervention), and whole fixture models whose routers are planted so the answer is known.
#include <QtTest>

#include <cmath>

#include "engine/cpu/router.h"
#include "engine/model/model.h"
#include "engine/routing_capture.h"
#include "engine/session.h"
#include "tests/support/fixture_model.h"

using namespace moescope;

namespace {

ModelConfig softmaxConfig(const char* type, int E, int k) {
    ModelConfig c;
    c.model_type = type;
    c.family = std::string(type) == "mixtral" ? Family::Mixtral : Family::Olmoe;
    c.always_renormalize = c.family == Family::Mixtral;
    c.n_layers = 1;
    c.n_experts = E;
    c.top_k = k;
    c.is_moe_layer = {true};
    c.moe_layers = {0};
    return c;
}

ModelConfig v3Config() {
    ModelConfig c = softmaxConfig("deepseek_v3", 8, 2);
    c.family = Family::DeepseekV3;
    c.router_score = RouterScore::Sigmoid;
    c.topk_method = TopkMethod::NoAuxTc;
    c.n_group = 4;
    c.topk_group = 2;
    c.norm_topk_prob = true;
    c.routed_scaling_factor = 2.5;
    c.has_score_correction_bias = true;
    return c;
}

struct Case {
    std::vector<int32_t> experts;
    std::vector<float> weights;
};

Case run(const ModelConfig& c, const std::vector<float>& z, const Interventions& iv, const float* corr = nullptr) {
    cpu::LayerInterventions li;
    li.resolve(c, 0, iv);
    cpu::RouteScratch s;
    cpu::RouteResult r;
    cpu::route_token(c, z.data(), corr, li, s, r);
    return {r.experts, r.weights};
}

double e(double x) { return std::exp(x); }

}  // namespace

Q_DECLARE_METATYPE(std::vector<int32_t>)
Q_DECLARE_METATYPE(std::vector<float>)

class TestRoutingRules : public QObject {
    Q_OBJECT
private slots:
    void softmaxRouters_data() {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("iv");
        QTest::addColumn<std::vector<int32_t>>("experts");
        QTest::addColumn<std::vector<float>>("weights");
        const double S = e(0) + e(1) + e(2) + e(3);
        QTest::newRow("mixtral renormalises") << "mixtral" << "" << std::vector<int32_t>{2, 1}
            << std::vector<float>{float(e(3) / (e(3) + e(2))), float(e(2) / (e(3) + e(2)))};
        QTest::newRow("mixtral disable 2") << "mixtral" << "disable" << std::vector<int32_t>{1, 0}
            << std::vector<float>{float(e(2) / (e(2) + e(1))), float(e(1) / (e(2) + e(1)))};
        QTest::newRow("mixtral force 3 replaces lowest") << "mixtral" << "force" << std::vector<int32_t>{2, 3}
            << std::vector<float>{float(e(3) / (e(3) + 1)), float(1 / (e(3) + 1))};
        QTest::newRow("mixtral top-k 1") << "mixtral" << "topk1" << std::vector<int32_t>{2} << std::vector<float>{1.0f};
        QTest::newRow("mixtral bias 0 +3") << "mixtral" << "bias" << std::vector<int32_t>{0, 2}
            << std::vector<float>{float(e(4) / (e(4) + e(3))), float(e(3) / (e(4) + e(3)))};
        QTest::newRow("mixtral top-p 0.6 -> 1 expert") << "mixtral" << "topp0.6" << std::vector<int32_t>{2}
            << std::vector<float>{1.0f};
        QTest::newRow("mixtral top-p 0.85 -> 2 experts") << "mixtral" << "topp0.85" << std::vector<int32_t>{2, 1}
            << std::vector<float>{float(e(3) / (e(3) + e(2))), float(e(2) / (e(3) + e(2)))};
        QTest::newRow("olmoe raw probabilities") << "olmoe" << "" << std::vector<int32_t>{2, 1}
            << std::vector<float>{float(e(3) / S), float(e(2) / S)};
        const double Sd = e(0) + e(1) + e(2);  // expert 2 (logit 3) disabled: renormalised over the others
        QTest::newRow("olmoe disable renormalises the rest") << "olmoe" << "disable" << std::vector<int32_t>{1, 0}
            << std::vector<float>{float(e(2) / Sd), float(e(1) / Sd)};
        QTest::newRow("olmoe top-k 1 keeps p") << "olmoe" << "topk1" << std::vector<int32_t>{2}
            << std::vector<float>{float(e(3) / S)};
    }
    void softmaxRouters() {
        QFETCH(QString, type);
        QFETCH(QString, iv);
        QFETCH(std::vector<int32_t>, experts);
        QFETCH(std::vector<float>, weights);
        const ModelConfig c = softmaxConfig(qPrintable(type), 4, 2);
        std::vector<float> z = {1, 2, 3, 0};
        Interventions v;
        if (iv == "disable") v.disable.push_back({0, 2});
        if (iv == "force") v.force.push_back({0, 3});
        if (iv == "topk1") v.top_k = 1;
        if (iv == "bias") v.bias.push_back({0, 0, 3.0f});
        if (iv.startsWith("topp")) v.top_p = iv.mid(4).toFloat();
        const Case r = run(c, z, v);
        QCOMPARE(r.experts, experts);
        QCOMPARE(r.weights.size(), weights.size());
        for (size_t i = 0; i < weights.size(); ++i)
            QVERIFY2(std::fabs(r.weights[i] - weights[i]) <= 1e-6f, qPrintable(QString("%1 vs %2").arg(r.weights[i]).arg(weights[i])));
    }

    // DeepSeek-V3 with all logits 0 (s = 0.5 everywhere): the correction bias alone picks the groups.
    //   bias = [0, .1, 0, 0, .3, .3, 0, .2]; groups {0,1} {2,3} {4,5} {6,7}: sums 1.1, 1.0, 1.6, 1.2
    void deepseekV3Groups_data() {
        QTest::addColumn<QString>("iv");
        QTest::addColumn<std::vector<int32_t>>("experts");
        QTest::newRow("groups 2,3 -> experts 4,5") << "" << std::vector<int32_t>{4, 5};
        // disabled 4 is removed BEFORE the group choice: group 2 scores 0.8 and drops out
        QTest::newRow("disable 4 -> groups 3,0 -> 7,1") << "disable" << std::vector<int32_t>{7, 1};
        QTest::newRow("force 0 from an unselected group") << "force" << std::vector<int32_t>{4, 0};
        QTest::newRow("top-k 1 keeps the group choice") << "topk1" << std::vector<int32_t>{4};
    }
    void deepseekV3Groups() {
        QFETCH(QString, iv);
        QFETCH(std::vector<int32_t>, experts);
        const ModelConfig c = v3Config();
        const std::vector<float> z(8, 0.0f), bias = {0, 0.1f, 0, 0, 0.3f, 0.3f, 0, 0.2f};
        Interventions v;
        if (iv == "disable") v.disable.push_back({0, 4});
        if (iv == "force") v.force.push_back({0, 0});
        if (iv == "topk1") v.top_k = 1;
        const Case r = run(c, z, v, bias.data());
        QCOMPARE(r.experts, experts);
        for (float w : r.weights) QCOMPARE(w, experts.size() == 1 ? 2.5f : 1.25f);
    }

    // DeepSeek-V2 group_limited_greedy: group score = max p; z = [3, 0, 2, 2.5], 2 groups, keep 1.
    void deepseekV2GroupMax() {
        ModelConfig c = softmaxConfig("olmoe", 4, 2);
        c.family = Family::DeepseekV2;
        c.topk_method = TopkMethod::GroupLimitedMax;
        c.n_group = 2;
        c.topk_group = 1;
        c.routed_scaling_factor = 2.0;
        const Case r = run(c, {3, 0, 2, 2.5f}, {});
        QCOMPARE(r.experts, (std::vector<int32_t>{0, 1}));
        const double S = e(3) + e(0) + e(2) + e(2.5);
        QVERIFY(std::fabs(r.weights[0] - float(2 * e(3) / S)) <= 1e-6f);
        QVERIFY(std::fabs(r.weights[1] - float(2 * e(0) / S)) <= 1e-6f);
    }

    // Whole model: layer 1's router zeroed -> all logits 0 -> uniform probabilities, ties to the
    // lowest ids; a bias of ln 7 on expert 5 makes p5 = 7/14.
    void zeroRouterModel_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<bool>("withBias");
        QTest::addColumn<std::vector<int32_t>>("experts");
        QTest::addColumn<std::vector<float>>("weights");
        QTest::newRow("mixtral uniform") << "mixtral" << false << std::vector<int32_t>{0, 1} << std::vector<float>{0.5f, 0.5f};
        QTest::newRow("olmoe uniform") << "olmoe" << false << std::vector<int32_t>{0, 1} << std::vector<float>{0.125f, 0.125f};
        QTest::newRow("mixtral bias ln7") << "mixtral" << true << std::vector<int32_t>{5, 0} << std::vector<float>{0.875f, 0.125f};
        QTest::newRow("olmoe bias ln7") << "olmoe" << true << std::vector<int32_t>{5, 0} << std::vector<float>{0.5f, 1.0f / 14};
    }
    void zeroRouterModel() {
        QFETCH(QString, arch);
        QFETCH(bool, withBias);
        QFETCH(std::vector<int32_t>, experts);
        QFETCH(std::vector<float>, weights);
        QTemporaryDir tmp;
        auto spec = test::FixtureSpec::forArch(arch.toStdString());
        test::plantZeroRouter(spec, 1);
        auto m = Model::load(test::writeFixture(tmp.path().toStdString(), spec));
        QVERIFY2(m.ok(), m.message().c_str());
        Session s(*m.value(), SessionOptions{1});
        Interventions iv;
        if (withBias) iv.bias.push_back({1, 5, std::log(7.0f)});
        QVERIFY(s.set_interventions(iv).ok());
        RoutingCapture cap;
        s.set_observer(&cap);
        s.prefill(std::vector<int32_t>{3, 9, 27});
        const auto& L = cap.layers().at(1);
        for (size_t t = 0; t < 3; ++t) {
            for (float z : L.router_logits[t]) QCOMPARE(z, 0.0f);
            QCOMPARE(L.experts[t], experts);
            for (size_t j = 0; j < weights.size(); ++j) QVERIFY(std::fabs(L.weights[t][j] - weights[j]) <= 1e-6f);
        }
    }

    // Planted structure: token ids 50-59 go to expert 3 of layer 1, whose down_proj has one huge row
    // (hidden channel 5): the activation taps see that channel; layer stats carry per-head sink mass.
    void plantedRoutingAndSuperExpert() {
        QTemporaryDir tmp;
        auto spec = test::FixtureSpec::forArch("mixtral");
        std::vector<int> ids;
        for (int t = 50; t < 60; ++t) ids.push_back(t);
        test::plantTokenRouting(spec, 1, 3, ids, 0);
        test::plantHugeDownProj(spec, 1, 3, 5, 3.0f);
        auto m = Model::load(test::writeFixture(tmp.path().toStdString(), spec));
        QVERIFY2(m.ok(), m.message().c_str());
        struct Acts : RoutingObserver {
            std::vector<RoutingEvent> ev;
            std::vector<std::vector<int32_t>> ch, ex;
            std::vector<int> hidden_ch;
            std::vector<int64_t> hidden_pos;
            CaptureLevel capture_level() const override { return CaptureLevel::Activations; }
            void on_routing(const RoutingEvent& e) override {
                if (e.layer != 1) return;
                ev.push_back(e);
                ex.emplace_back(e.experts.begin(), e.experts.end());
                ch.emplace_back(e.down_proj_channel.begin(), e.down_proj_channel.end());
            }
            void on_layer_stats(const LayerStatsEvent& e) override {
                QVERIFY(e.sink_mass_per_head.size() == 4);
                QVERIFY(e.sink_mass > 0.0f && e.sink_mass <= 1.0f + 1e-6f);
                if (e.layer == 1) {
                    hidden_ch.push_back(e.hidden_max_channel);
                    hidden_pos.push_back(e.position);
                }
            }
        } acts;
        Session s(*m.value(), SessionOptions{1});
        s.set_observer(&acts);
        const std::vector<int32_t> prompt = {4, 50, 17, 55, 59, 8, 52};
        s.prefill(prompt);
        QCOMPARE(acts.ex.size(), prompt.size());
        for (size_t t = 0; t < prompt.size(); ++t) {
            if (prompt[t] < 50) continue;
            QCOMPARE(acts.ex[t][0], 3);                 // planted router: expert 3 first
            QCOMPARE(acts.ch[t][0], 5);                 // its output peaks on channel 5
        }
    }
};

QTEST_GUILESS_MAIN(TestRoutingRules)
#include "test_routing_rules.moc"
