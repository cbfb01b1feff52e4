// zero_output (L,E) (interventions.h, methods.md §0.3 P2, the Super Experts paper's down_proj zeroing):
// the expert stays selected with its gate weight and contributes nothing. Independent expectation by
// weight surgery: the same fixture with (L,E)'s down_proj set to zero in the checkpoint must give the
// same logits (the router is untouched, so routing is identical and the expert's output is exactly 0),
// while `disable` (P1, another expert takes the slot) gives different logits and routing.
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

// Routing and activation taps of one MoE layer, per position.
struct LayerTap : RoutingObserver {
    int layer = 0;
    std::vector<std::vector<int32_t>> experts;
    std::vector<std::vector<float>> weights, out_norm;
    CaptureLevel capture_level() const override { return CaptureLevel::Activations; }
    void on_routing(const RoutingEvent& e) override {
        if (e.layer != layer) return;
        experts.emplace_back(e.experts.begin(), e.experts.end());
        weights.emplace_back(e.weights.begin(), e.weights.end());
        out_norm.emplace_back(e.expert_out_norm.begin(), e.expert_out_norm.end());
    }
};

std::vector<float> run(const Model& m, const std::vector<int32_t>& prompt, const Interventions& iv, LayerTap* tap) {
    Session s(m, SessionOptions{1});
    auto ok = s.set_interventions(iv);
    if (!ok.ok()) qFatal("%s", ok.message().c_str());
    if (tap) s.set_observer(tap);
    std::vector<float> all;
    s.prefill(prompt, &all);
    return all;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
    return d;
}

std::unique_ptr<Model> load(const std::string& dir) {
    auto m = Model::load(dir);
    if (!m.ok()) qFatal("%s", m.message().c_str());
    return std::move(m.value());
}

}  // namespace

class TestZeroOutput : public QObject {
    Q_OBJECT
private slots:
    void matches_zeroed_down_proj_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("mixtral (softmax, renormalised)") << "mixtral";
        QTest::newRow("qwen2_moe (gated shared expert)") << "qwen2_moe";
        QTest::newRow("deepseek_v3 (sigmoid, grouped, scaled)") << "deepseek_v3";
    }
    void matches_zeroed_down_proj() {
        QFETCH(QString, arch);
        QTemporaryDir dir;
        FixtureSpec spec = FixtureSpec::forArch(arch.toStdString());
        spec.dtype = DType::F32;  // the surgery must not be blurred by rounding
        const std::vector<int32_t> prompt = {1, 7, 19, 33, 2, 50, 61, 12, 5, 40};
        auto base_model = load(moescope::test::writeFixture(dir.path().toStdString(), spec, "base"));
        const int layer = base_model->config().moe_layers.front();

        // The expert to zero: the one selected most often in `layer` over the prompt.
        LayerTap base_tap;
        base_tap.layer = layer;
        const auto base = run(*base_model, prompt, {}, &base_tap);
        std::map<int, int> uses;
        for (const auto& e : base_tap.experts)
            for (int x : e) ++uses[x];
        int expert = -1, best = 0;
        for (auto [e, n] : uses)
            if (n > best) expert = e, best = n;
        QVERIFY(expert >= 0);

        // Expected: the checkpoint with that expert's down_proj zeroed, run unmodified.
        FixtureSpec zeroed = spec;
        zeroed.edits.push_back([&](std::vector<moescope::test::FixtureTensor>& ts) {
            auto* t = moescope::test::findTensor(ts, moescope::test::downProjName(spec, layer, expert));
            if (!t) qFatal("no down_proj tensor for %d:%d", layer, expert);
            std::fill(t->values.begin(), t->values.end(), 0.0f);
        });
        auto surgery = load(moescope::test::writeFixture(dir.path().toStdString(), zeroed, "surgery"));
        const auto expected = run(*surgery, prompt, {}, nullptr);

        Interventions zero;
        zero.zero_output = {{layer, expert}};
        LayerTap zero_tap;
        zero_tap.layer = layer;
        const auto got = run(*base_model, prompt, zero, &zero_tap);
        QVERIFY2(max_abs_diff(got, expected) <= 1e-5,
                 qPrintable(QString("zero_output vs zeroed down_proj: max |diff| %1").arg(max_abs_diff(got, expected))));
        QVERIFY2(max_abs_diff(got, base) > 1e-4, "the zeroed expert contributed: logits must change");

        // Routing of the layer is unchanged (same experts, same weights: no renormalisation); the tap
        // reports the zeroed expert's output norm as 0 and the others' as before.
        QCOMPARE(zero_tap.experts, base_tap.experts);
        QCOMPARE(zero_tap.weights, base_tap.weights);
        for (size_t t = 0; t < zero_tap.experts.size(); ++t)
            for (size_t j = 0; j < zero_tap.experts[t].size(); ++j) {
                if (zero_tap.experts[t][j] == expert) QCOMPARE(zero_tap.out_norm[t][j], 0.0f);
                else QCOMPARE(zero_tap.out_norm[t][j], base_tap.out_norm[t][j]);
            }

        // disable (P1) is a different intervention: the slot goes to another expert.
        Interventions off;
        off.disable = {{layer, expert}};
        LayerTap off_tap;
        off_tap.layer = layer;
        const auto disabled = run(*base_model, prompt, off, &off_tap);
        QVERIFY2(max_abs_diff(disabled, got) > 1e-4, "disable and zero_output must differ");
        size_t slots_base = 0, slots_off = 0;
        for (size_t t = 0; t < off_tap.experts.size(); ++t) {
            for (int x : off_tap.experts[t]) QVERIFY(x != expert);
            slots_base += base_tap.experts[t].size();
            slots_off += off_tap.experts[t].size();
        }
        QCOMPARE(slots_off, slots_base);  // every slot refilled
    }

    void validation() {
        QTemporaryDir dir;
        auto m = load(moescope::test::writeFixture(dir.path().toStdString(), FixtureSpec::forArch("mixtral")));
        Interventions iv;
        iv.zero_output = {{0, 99}};
        auto r = validate_interventions(*m, iv);
        QVERIFY(!r.ok());
        QVERIFY2(QString::fromStdString(r.message()).contains("zero 0:99"), r.message().c_str());
        QVERIFY(!iv.empty());
    }
};

QTEST_GUILESS_MAIN(TestZeroOutput)
#include "test_zero_output.moc"
