// EASY-EP token contribution s_t = max(0, 1 - cos(h, h + r)) in the routing tap (capture level
// Activations; methods.md §6.2), against an expectation built from OTHER taps of the same model:
// with top-k 1 on a Mixtral fixture (softmax + renormalisation: the one weight is exactly 1, no shared
// expert), r = E_e(x) so ||r|| = the expert-output norm tap, ||h + r|| = the layer's output hidden norm,
// and ||h|| = the same layer's output norm when every expert of the layer has its output zeroed
// (zero_output: routing and attention unchanged). Law of cosines in double:
//   cos(h, h + r) = (||h||^2 + ||h + r||^2 - ||r||^2) / (2 ||h|| ||h + r||).
// Below level Activations the tap carries NaN (nothing is computed).
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <map>

#include "engine/model/model.h"
#include "engine/session.h"
#include "tests/support/fixture_model.h"

using namespace moescope;
using moescope::test::FixtureSpec;

namespace {

struct Tap : RoutingObserver {
    CaptureLevel level = CaptureLevel::Activations;
    int layer = 0;
    std::vector<float> s, w, out_norm;  // per position of `layer`
    std::map<int64_t, float> hidden_norm;
    CaptureLevel capture_level() const override { return level; }
    void on_routing(const RoutingEvent& e) override {
        if (e.layer != layer) return;
        s.push_back(e.token_contribution);
        w.push_back(e.weights.empty() ? NAN : e.weights[0]);
        out_norm.push_back(e.expert_out_norm.empty() ? NAN : e.expert_out_norm[0]);
    }
    void on_layer_stats(const LayerStatsEvent& e) override {
        if (e.layer == layer) hidden_norm[e.position] = e.hidden_norm;
    }
};

void run(const Model& m, const std::vector<int32_t>& prompt, const Interventions& iv, Tap& tap) {
    Session s(m, SessionOptions{1});
    auto ok = s.set_interventions(iv);
    if (!ok.ok()) qFatal("%s", ok.message().c_str());
    s.set_observer(&tap);
    s.prefill(prompt);
}

}  // namespace

class TestTokenContribution : public QObject {
    Q_OBJECT
private slots:
    void law_of_cosines_data() {
        QTest::addColumn<int>("layer");
        QTest::newRow("layer 0") << 0;
        QTest::newRow("layer 1") << 1;
        QTest::newRow("layer 2") << 2;
    }
    void law_of_cosines() {
        QFETCH(int, layer);
        QTemporaryDir dir;
        FixtureSpec spec = FixtureSpec::forArch("mixtral");
        spec.dtype = DType::F32;
        auto loaded = Model::load(moescope::test::writeFixture(dir.path().toStdString(), spec));
        QVERIFY2(loaded.ok(), loaded.message().c_str());
        const Model& m = *loaded.value();
        const std::vector<int32_t> prompt = {1, 9, 23, 4, 57, 31, 2, 18};

        Interventions top1;
        top1.top_k = 1;
        Tap base;
        base.layer = layer;
        run(m, prompt, top1, base);
        Interventions no_experts = top1;  // the same routing, every expert's output of `layer` zeroed: h only
        for (int e = 0; e < m.config().n_experts; ++e) no_experts.zero_output.push_back({layer, e});
        Tap h_only;
        h_only.layer = layer;
        run(m, prompt, no_experts, h_only);

        QCOMPARE(base.s.size(), prompt.size());
        double largest = 0;
        for (size_t t = 0; t < prompt.size(); ++t) {
            QCOMPARE(base.w[t], 1.0f);  // renormalised top-1: r = E_e(x)
            const double hr = base.hidden_norm.at(int64_t(t)), h = h_only.hidden_norm.at(int64_t(t));
            const double r = base.out_norm[t];
            const double cos = (h * h + hr * hr - r * r) / (2 * h * hr);
            const double want = std::max(0.0, 1.0 - cos);
            QVERIFY2(std::abs(base.s[t] - want) <= 2e-4 + 1e-3 * want,
                     qPrintable(QString("t %1: s_t %2, law of cosines %3").arg(t).arg(base.s[t]).arg(want)));
            QVERIFY(base.s[t] >= 0.0f && base.s[t] <= 2.0f);
            largest = std::max(largest, want);
            // with every routed output zeroed, r = 0: h + r = h, cos = 1, s = 0 exactly
            QCOMPARE(h_only.s[t], 0.0f);
        }
        QVERIFY2(largest > 1e-3, "the planted check must not be trivially near zero");
    }

    void not_computed_below_activations() {
        QTemporaryDir dir;
        auto loaded = Model::load(moescope::test::writeFixture(dir.path().toStdString(), FixtureSpec::forArch("mixtral")));
        QVERIFY(loaded.ok());
        Tap t;
        t.level = CaptureLevel::Logits;
        run(*loaded.value(), {1, 2, 3}, {}, t);
        QCOMPARE(t.s.size(), size_t{3});
        for (float v : t.s) QVERIFY(std::isnan(v));
    }
};

QTEST_GUILESS_MAIN(TestTokenContribution)
#include "test_token_contribution.moc"
