// Sampling (seeded determinism, each filter's rule, empirical distribution) and the streaming
// generate loop (EOS, callback stop, cancel, per-token routing, A/B branches from one prefix).
#include <QtTest>

#include <cmath>

#include "engine/generate.h"
#include "engine/model/model.h"
#include "engine/routing_capture.h"
#include "engine/sampling.h"
#include "engine/session.h"
#include "tests/support/fixture_model.h"

using namespace moescope;

class TestSamplingGenerate : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::unique_ptr<Model> model_;

private slots:
    void initTestCase() {
        auto spec = test::FixtureSpec::forArch("qwen2_moe");
        auto m = Model::load(test::writeFixture(tmp_.path().toStdString(), spec));
        QVERIFY2(m.ok(), m.message().c_str());
        model_ = std::move(m.value());
    }

    void greedyAndTies() {
        const std::vector<float> l = {0.5f, 2.0f, 2.0f, -1.0f};
        QCOMPARE(Sampler::argmax(l), 1);  // tie -> lowest id
        Sampler s(SamplingParams{});
        QCOMPARE(s.sample(l, {}), 1);
        auto top = Sampler::top_n(l, 3);
        QCOMPARE(top.size(), size_t(3));
        QCOMPARE(top[0].id, 1);
        QCOMPARE(top[1].id, 2);
        QCOMPARE(top[2].id, 0);
        const double lse = std::log(std::exp(0.5) + 2 * std::exp(2.0) + std::exp(-1.0));
        QVERIFY(std::fabs(top[0].logprob - float(2.0 - lse)) < 1e-6f);
        QVERIFY(std::fabs(Sampler::logprob(l, 3) - float(-1.0 - lse)) < 1e-6f);
    }

    void filters_data() {
        QTest::addColumn<QString>("filter");
        QTest::addColumn<int>("only");
        QTest::newRow("top-k 1") << "topk1" << 2;
        QTest::newRow("top-p tiny") << "topp" << 2;
        QTest::newRow("min-p 0.9") << "minp" << 2;
        QTest::newRow("repeat penalty flips the winner") << "repeat" << 1;
    }
    void filters() {
        QFETCH(QString, filter);
        QFETCH(int, only);
        const std::vector<float> l = {0.0f, 1.9f, 2.0f, 0.5f};
        SamplingParams p;
        p.greedy = false;
        p.temperature = 0.05f;  // near-deterministic except for what the filter removes
        if (filter == "topk1") { p.temperature = 5.0f; p.top_k = 1; }
        if (filter == "topp") { p.temperature = 5.0f; p.top_p = 0.01f; }
        if (filter == "minp") { p.temperature = 1.0f; p.min_p = 0.95f; }
        if (filter == "repeat") p.repeat_penalty = 2.0f;  // token 2 (logit 2.0) was seen: 2.0/2 = 1.0 < 1.9
        const std::vector<int32_t> history = {2, 2, 3};
        for (uint64_t seed = 0; seed < 50; ++seed) {
            p.seed = seed;
            Sampler s(p);
            QCOMPARE(s.sample(l, filter == "repeat" ? history : std::vector<int32_t>{}), only);
        }
    }

    void seededAndDistribution() {
        const std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
        SamplingParams p;
        p.greedy = false;
        p.seed = 42;
        Sampler a(p), b(p);
        std::vector<int> counts(3);
        std::vector<int32_t> sa, sb;
        for (int i = 0; i < 20000; ++i) {
            sa.push_back(a.sample(l, {}));
            sb.push_back(b.sample(l, {}));
            counts[sa.back()]++;
        }
        QCOMPARE(sa, sb);  // same seed, same stream
        QVERIFY(std::fabs(counts[0] / 20000.0 - 0.5) < 0.02);
        QVERIFY(std::fabs(counts[1] / 20000.0 - 0.3) < 0.02);
        QVERIFY(std::fabs(counts[2] / 20000.0 - 0.2) < 0.02);
        p.seed = 43;
        Sampler c(p);
        std::vector<int32_t> sc;
        for (int i = 0; i < 200; ++i) sc.push_back(c.sample(l, {}));
        QVERIFY(sc != std::vector<int32_t>(sa.begin(), sa.begin() + 200));
    }

    void validation_data() {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("expected");
        QTest::newRow("temperature") << "temperature" << "temperature must be > 0";
        QTest::newRow("top-p") << "top_p" << "top-p must be in (0, 1]";
        QTest::newRow("min-p") << "min_p" << "min-p must be in [0, 1]";
        QTest::newRow("repeat") << "repeat" << "repeat penalty must be > 0";
        QTest::newRow("top-k") << "top_k" << "top-k must be >= 0";
    }
    void validation() {
        QFETCH(QString, field);
        QFETCH(QString, expected);
        SamplingParams p;
        p.greedy = false;
        if (field == "temperature") p.temperature = 0.0f;
        if (field == "top_p") p.top_p = 1.5f;
        if (field == "min_p") p.min_p = -0.1f;
        if (field == "repeat") p.repeat_penalty = 0.0f;
        if (field == "top_k") p.top_k = -1;
        auto r = p.validate();
        QVERIFY(!r.ok());
        QVERIFY2(QString::fromStdString(r.message()).contains(expected), r.message().c_str());
    }

    void generateStopsAndReports() {
        const std::vector<int32_t> prompt = {1, 5, 9, 13};
        GenerateOptions opt;
        opt.max_new_tokens = 6;
        opt.eos_ids = {-1};
        Session s0(*model_, SessionOptions{1});
        auto r0 = generate(s0, prompt, opt);
        QCOMPARE(r0.tokens.size(), size_t(6));
        QCOMPARE(r0.stop_reason, std::string("max_new_tokens"));
        // EOS: declare the 3rd greedy token an EOS id.
        opt.eos_ids = {r0.tokens[2]};
        Session s1(*model_, SessionOptions{1});
        auto r1 = generate(s1, prompt, opt);
        QCOMPARE(r1.stop_reason, std::string("eos"));
        QCOMPARE(r1.tokens, std::vector<int32_t>(r0.tokens.begin(), r0.tokens.begin() + 3));
        // Callback stop after 2 tokens; per-token routing equals the last position of the previous forward.
        opt.eos_ids = {-1};
        Session s2(*model_, SessionOptions{1});
        RoutingCapture cap;
        s2.set_observer(&cap);
        std::vector<GeneratedToken> got;
        auto r2 = generate(s2, prompt, opt, [&](const GeneratedToken& t) {
            got.push_back(t);
            return got.size() < 2;
        });
        QCOMPARE(r2.stop_reason, std::string("callback"));
        QCOMPARE(got.size(), size_t(2));
        QCOMPARE(got[0].routing.size(), model_->config().moe_layers.size());
        for (const auto& lr : got[0].routing) {
            const auto& L = cap.layers().at(lr.layer);
            QCOMPARE(L.positions[prompt.size() - 1], int64_t(prompt.size() - 1));
            QCOMPARE(lr.experts, L.experts[prompt.size() - 1]);
            QVERIFY(lr.shared_gate > 0.0f && lr.shared_gate < 1.0f);  // qwen2_moe sigmoid gate
        }
        QCOMPARE(got[0].top[0].id, got[0].id);  // greedy picks the most likely
        QVERIFY(s2.observer() == &cap);          // user's observer restored
        // Cancel before the first token.
        Session s3(*model_, SessionOptions{1});
        s3.request_cancel();
        auto r3 = generate(s3, prompt, opt);
        QCOMPARE(r3.stop_reason, std::string("cancelled"));
        QVERIFY(r3.tokens.empty());
    }

    // A run with live switches replays exactly from its recorded timeline (same seed): same tokens,
    // same routing; the switch shows in the routing from its step on.
    void timelineReplaysExactly() {
        const std::vector<int32_t> prompt = {2, 7, 1, 8};
        const int L = model_->config().moe_layers.front();
        GenerateOptions opt;
        opt.max_new_tokens = 10;
        opt.eos_ids = {-1};
        opt.sampling.greedy = false;
        opt.sampling.temperature = 0.8f;
        opt.sampling.seed = 99;
        Session live(*model_, SessionOptions{1});
        Interventions a, b;
        a.disable.push_back({L, 0});
        b.force.push_back({L, 3});
        b.bias.push_back({L, 5, 2.0f});
        std::vector<int32_t> got;
        std::vector<int> tl;
        auto res = generate(live, prompt, opt, [&](const GeneratedToken& t) {
            got.push_back(t.id);
            tl.push_back(t.timeline_index);
            // switch interventions between tokens, as the app does
            if (t.index == 2) live.set_interventions(a);
            if (t.index == 6) live.set_interventions(b);
            return true;
        });
        QCOMPARE(live.timeline().size(), size_t(3));
        QCOMPARE(live.timeline()[1].step, 2);  // token 3 is produced by decode step 2's logits
        QCOMPARE(live.timeline()[2].step, 6);
        // each token reports the interventions in force for the forward that chose it
        QCOMPARE(tl, (std::vector<int>{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}));
        GenerateOptions replay = opt;
        replay.schedule = live.timeline();
        Session again(*model_, SessionOptions{1});
        RoutingCapture cap;
        again.set_observer(&cap);
        auto res2 = generate(again, prompt, replay);
        QCOMPARE(res2.tokens, res.tokens);
        QVERIFY(again.timeline() == live.timeline());
        const auto& Lc = cap.layers().at(L);
        for (size_t i = 0; i < Lc.steps.size(); ++i) {
            const int st = Lc.steps[i];
            const auto& ex = Lc.experts[i];
            const bool has0 = std::find(ex.begin(), ex.end(), 0) != ex.end();
            const bool has3 = std::find(ex.begin(), ex.end(), 3) != ex.end();
            if (st >= 2 && st < 6) QVERIFY(!has0);
            if (st >= 6) QVERIFY(has3);
        }
    }

    // A/B: two branches forked from one prefill with the same seed and sampling are identical; a branch
    // with an intervention diverges only after the fork.
    void abBranchesFromOnePrefix() {
        const std::vector<int32_t> prompt = {3, 1, 4, 1, 5};
        GenerateOptions opt;
        opt.max_new_tokens = 8;
        opt.eos_ids = {-1};
        opt.sampling.greedy = false;
        opt.sampling.temperature = 0.9f;
        opt.sampling.seed = 7;
        Session root(*model_, SessionOptions{1});
        root.prefill(prompt);
        auto a = root.fork(), b = root.fork();
        auto ra = generate(*a, {}, opt), rb = generate(*b, {}, opt);
        QCOMPARE(ra.tokens, rb.tokens);
        Session straight(*model_, SessionOptions{1});
        auto rs = generate(straight, prompt, opt);
        QCOMPARE(rs.tokens, ra.tokens);  // branching reproduces the unbranched run
    }
};

QTEST_GUILESS_MAIN(TestSamplingGenerate)
#include "test_sampling_generate.moc"
