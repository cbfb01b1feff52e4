// SCMoE self-contrast decoding (methods.md §2): the pure scoring formula and the α plausibility mask on
// hand-built distributions, rank-r weak routing on tiny fixture models (the r-th ranked expert, weight 1),
// β = 0 and weak = strong degenerating to greedy decoding, and bad input.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/generate.h"
#include "engine/model/model.h"
#include "engine/presets.h"
#include "engine/scmoe.h"
#include "engine/session.h"
#include "tests/support/fixture_model.h"

using namespace moescope;

namespace {

// Records, per (position, layer), the router logits and the selection.
class Recorder : public RoutingObserver {
public:
    struct Entry {
        int layer;
        std::vector<float> logits;
        std::vector<int32_t> experts;
        std::vector<float> weights;
    };
    std::vector<Entry> entries;
    CaptureLevel capture_level() const override { return CaptureLevel::Logits; }
    void on_routing(const RoutingEvent& ev) override {
        entries.push_back({ev.layer, {ev.router_logits.begin(), ev.router_logits.end()},
                           {ev.experts.begin(), ev.experts.end()}, {ev.weights.begin(), ev.weights.end()}});
    }
};

// The expert of 1-based rank r by raw router logit (softmax is monotone; ties to the lower index).
int rankedExpert(const std::vector<float>& z, int r) {
    std::vector<int> order(z.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return z[a] > z[b]; });
    return order[r - 1];
}

std::vector<float> logv(const std::vector<double>& p) {
    std::vector<float> out;
    for (double v : p) out.push_back(static_cast<float>(std::log(v)));
    return out;
}

std::unique_ptr<Model> loadFixture(const QTemporaryDir& tmp, const QString& arch) {
    auto spec = test::FixtureSpec::forArch(arch.toStdString());
    auto m = Model::load(test::writeFixture(tmp.path().toStdString(), spec, arch.toStdString()));
    if (!m.ok()) qFatal("%s", m.message().c_str());
    return std::move(m.value());
}

std::vector<int32_t> greedyTokens(const Model& model, const std::vector<int32_t>& prompt, int n) {
    Session s(model);
    GenerateOptions o;
    o.max_new_tokens = n;
    o.stop_on_eos = false;
    o.capture_routing = false;
    return generate(s, prompt, o).tokens;
}

}  // namespace

class TestScmoe : public QObject {
    Q_OBJECT

private slots:
    // Strong p = [.5, .3, .16, .04], weak p = [.6, .1, .2999, .0001]: weak favours strong's top token 0,
    // so the contrast prefers token 1 (strong's second). Token 3 has the best contrast of all
    // (weak almost excludes it) but p_strong(3) = .04 < α·max = .05, so α = 0.1 must exclude it.
    void scoresFormula_data() {
        QTest::addColumn<float>("beta");
        QTest::addColumn<float>("alpha");
        QTest::addColumn<int>("winner");
        QTest::addColumn<int>("nValid");
        QTest::newRow("beta 0 = strong argmax") << 0.0f << 0.1f << 0 << 3;
        QTest::newRow("beta 0.5: weak favours strong's top") << 0.5f << 0.1f << 1 << 3;
        QTest::newRow("alpha 0: implausible token wins") << 0.5f << 0.0f << 3 << 4;
        QTest::newRow("alpha 0.5: only top two plausible") << 0.5f << 0.5f << 1 << 2;
        QTest::newRow("alpha 1: only the strong argmax") << 0.9f << 1.0f << 0 << 1;
    }
    void scoresFormula() {
        QFETCH(float, beta);
        QFETCH(float, alpha);
        QFETCH(int, winner);
        QFETCH(int, nValid);
        const std::vector<double> ps = {0.5, 0.3, 0.16, 0.04}, pw = {0.6, 0.1, 0.2999, 0.0001};
        const std::vector<float> sc = scmoe_scores(logv(ps), logv(pw), beta, alpha);
        QCOMPARE(sc.size(), size_t(4));
        int valid = 0, best = -1;
        for (int i = 0; i < 4; ++i) {
            const bool plausible = ps[i] >= alpha * 0.5 - 1e-12;
            if (!plausible) {
                QVERIFY2(sc[i] == -std::numeric_limits<float>::infinity(), qPrintable(QString("token %1").arg(i)));
                continue;
            }
            ++valid;
            const double expect = (1.0 + beta) * std::log(ps[i]) - beta * std::log(pw[i]);
            QVERIFY2(std::fabs(sc[i] - expect) < 1e-5, qPrintable(QString("token %1: %2 vs %3").arg(i).arg(sc[i]).arg(expect)));
            if (best < 0 || sc[i] > sc[best]) best = i;
        }
        QCOMPARE(valid, nValid);
        QCOMPARE(best, winner);
        // Shift invariance: raw logits (log p + per-distribution constants) give the same argmax.
        std::vector<float> zs = logv(ps), zw = logv(pw);
        for (float& v : zs) v += 3.0f;
        for (float& v : zw) v -= 7.0f;
        const std::vector<float> sc2 = scmoe_scores(zs, zw, beta, alpha);
        QCOMPARE(int(std::max_element(sc2.begin(), sc2.end()) - sc2.begin()), winner);
    }

    // Rank-r routing selects exactly the r-th ranked expert (by router logit) with weight 1, on every
    // MoE layer, or only on the listed layers (the others keep the normal top-k).
    void rankRouting_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<int>("rank");
        QTest::addColumn<bool>("firstLayerOnly");
        for (const char* a : {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe"})
            for (int r : {1, 2, 3}) QTest::newRow(qPrintable(QString("%1 rank%2").arg(a).arg(r))) << QString(a) << r << false;
        QTest::newRow("mixtral rank2 first MoE layer only") << "mixtral" << 2 << true;
        QTest::newRow("olmoe rank4 first MoE layer only") << "olmoe" << 4 << true;
    }
    void rankRouting() {
        QFETCH(QString, arch);
        QFETCH(int, rank);
        QFETCH(bool, firstLayerOnly);
        QTemporaryDir tmp;
        auto model = loadFixture(tmp, arch);
        const ModelConfig& c = model->config();
        Interventions iv;
        iv.rank_only = rank;
        if (firstLayerOnly) iv.rank_only_layers = {c.moe_layers.front()};
        Session s(*model);
        Recorder rec;
        s.set_observer(&rec);
        QVERIFY2(s.set_interventions(iv).ok(), "valid rank-only interventions rejected");
        s.prefill(std::vector<int32_t>{1, 5, 9, 13, 2});
        s.step(7);
        QVERIFY(!rec.entries.empty());
        int checkedRank = 0, checkedNormal = 0;
        for (const auto& e : rec.entries) {
            QCOMPARE(int(e.logits.size()), c.n_experts);
            const bool weak = !firstLayerOnly || e.layer == c.moe_layers.front();
            if (weak) {
                QCOMPARE(e.experts.size(), size_t(1));
                QCOMPARE(int(e.experts[0]), rankedExpert(e.logits, rank));
                QCOMPARE(e.weights[0], 1.0f);
                ++checkedRank;
            } else {
                QCOMPARE(int(e.experts.size()), c.top_k);
                QCOMPARE(int(e.experts[0]), rankedExpert(e.logits, 1));
                ++checkedNormal;
            }
        }
        QVERIFY(checkedRank > 0);
        if (firstLayerOnly) QVERIFY(checkedNormal > 0);
    }

    // β = 0: z_sc = log p_strong on the plausible set, whose argmax is the strong argmax: exactly greedy.
    // weak = strong (weak top-k = the model's k): z_sc = log p_strong, also exactly greedy.
    void degenerateToGreedy_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<float>("beta");
        QTest::addColumn<QString>("weak");
        QTest::newRow("mixtral beta 0 rank2") << "mixtral" << 0.0f << "rank2";
        QTest::newRow("qwen2_moe beta 0 top1") << "qwen2_moe" << 0.0f << "top1";
        QTest::newRow("deepseek_v3 beta 0 rank2") << "deepseek_v3" << 0.0f << "rank2";
        QTest::newRow("mixtral weak=strong beta 0.5") << "mixtral" << 0.5f << "same";
        QTest::newRow("olmoe weak=strong beta 0.9") << "olmoe" << 0.9f << "same";
    }
    void degenerateToGreedy() {
        QFETCH(QString, arch);
        QFETCH(float, beta);
        QFETCH(QString, weak);
        QTemporaryDir tmp;
        auto model = loadFixture(tmp, arch);
        const std::vector<int32_t> prompt = {3, 17, 4, 22, 9};
        const int n = 12;
        const std::vector<int32_t> greedy = greedyTokens(*model, prompt, n);
        ScmoeOptions o;
        o.beta = beta;
        o.max_new_tokens = n;
        o.stop_on_eos = false;
        if (weak == "same") {
            o.weak.kind = WeakRouting::Kind::TopK;
            o.weak.n = model->config().top_k;
        } else {
            auto w = parse_weak_routing(weak.toStdString());
            QVERIFY(w.ok());
            o.weak = w.value();
        }
        ScmoeDecoder d(*model, {}, o);
        int nDiff = 0;
        auto r = d.run(prompt, [&](const ScmoeToken& t) {
            nDiff += t.differs_from_strong;
            return true;
        });
        QCOMPARE(r.tokens, greedy);
        QCOMPARE(nDiff, 0);
        QCOMPARE(r.stop_reason, std::string("max_new_tokens"));
    }

    // With a real weak routing and β > 0 the decoder reports consistent per-token data: the chosen token
    // is the contrast argmax, it is plausible under strong, and the weak pass really routed differently.
    void perTokenReport() {
        QTemporaryDir tmp;
        auto model = loadFixture(tmp, "mixtral");
        ScmoeOptions o;
        o.beta = 0.9f;
        o.max_new_tokens = 8;
        o.stop_on_eos = false;
        ScmoeDecoder d(*model, {}, o);
        Recorder weakRec;
        d.weak().set_observer(&weakRec);
        int n = 0;
        d.run(std::vector<int32_t>{3, 17, 4, 22, 9}, [&](const ScmoeToken& t) {
            ++n;
            if (t.contrast_top.empty() || t.strong_top.empty() || t.weak_top.empty()) return false;
            if (t.contrast_top[0].id != t.id) return false;
            // plausible: p_strong(id) >= 0.1 * max p_strong
            return t.strong_logprob >= std::log(0.1f) + t.strong_top[0].logprob - 1e-5f;
        });
        QCOMPARE(n, 8);
        QCOMPARE(d.strong().n_past(), d.weak().n_past());
        QVERIFY(!weakRec.entries.empty());
        for (const auto& e : weakRec.entries) {
            QCOMPARE(e.experts.size(), size_t(1));
            QCOMPARE(int(e.experts[0]), rankedExpert(e.logits, 2));
        }
    }

    // The weak routing as a preset: round trip, and a bad value is rejected by name.
    void presetRankOnly() {
        auto p = parse_preset(R"({"name": "weak", "rank_only": 2, "rank_only_layers": [1, 2]})", "w.json");
        QVERIFY2(p.ok(), p.message().c_str());
        QCOMPARE(*p.value().interventions.rank_only, 2);
        QCOMPARE(p.value().interventions.rank_only_layers, (std::vector<int>{1, 2}));
        auto back = parse_preset(preset_to_json(p.value()), "back");
        QVERIFY(back.ok());
        QVERIFY(back.value().interventions == p.value().interventions);
        auto bad = parse_preset(R"({"rank_only_layers": 3})", "w.json");
        QVERIFY(!bad.ok());
        QVERIFY2(QString::fromStdString(bad.message()).contains("'rank_only_layers'"), bad.message().c_str());
    }

    void badInput_data() {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QString>("needle");
        QTest::newRow("unknown weak spec") << "weak:bogus" << "unknown weak routing";
        QTest::newRow("rank without number") << "weak:rank" << "positive number";
        QTest::newRow("rank 0") << "weak:rank0" << ">= 1";
        QTest::newRow("negative beta") << "beta:-0.5" << "beta";
        QTest::newRow("alpha above 1") << "alpha:1.5" << "alpha";
        QTest::newRow("alpha below 0") << "alpha:-0.1" << "alpha";
        QTest::newRow("rank beyond n_experts") << "rank:9" << "out of range";
        QTest::newRow("rank on a dense layer") << "layer:0" << "rank-only routing, layer 0";
        QTest::newRow("rank with force") << "force" << "cannot be combined";
    }
    void badInput() {
        QFETCH(QString, what);
        QFETCH(QString, needle);
        std::string msg;
        if (what.startsWith("weak:")) {
            auto w = parse_weak_routing(what.mid(5).toStdString());
            QVERIFY(!w.ok());
            msg = w.message();
        } else if (what.startsWith("beta:") || what.startsWith("alpha:")) {
            const float v = what.section(':', 1).toFloat();
            const float beta = what.startsWith("beta") ? v : 0.5f, alpha = what.startsWith("alpha") ? v : 0.1f;
            QVERIFY(!validate_scmoe_params(beta, alpha).ok());
            msg = validate_scmoe_params(beta, alpha).message();
            bool threw = false;
            try {
                scmoe_scores(std::vector<float>{0.f, 1.f}, std::vector<float>{0.f, 1.f}, beta, alpha);
            } catch (const Error& e) {
                threw = true;
            }
            QVERIFY(threw);
        } else {
            QTemporaryDir tmp;
            auto model = loadFixture(tmp, "deepseek_v2");  // 8 experts, layer 0 dense
            Interventions iv;
            iv.rank_only = 2;
            if (what == "rank:9") iv.rank_only = 9;
            if (what == "layer:0") iv.rank_only_layers = {0};
            if (what == "force") iv.force = {{1, 0}};
            auto r = validate_interventions(*model, iv);
            QVERIFY(!r.ok());
            msg = r.message();
            // the decoder refuses the same weak routing before any forward pass
            if (what == "rank:9") {
                ScmoeOptions o;
                o.weak.n = 9;
                QVERIFY_THROWS_EXCEPTION(Error, ScmoeDecoder(*model, {}, o));
            }
        }
        QVERIFY2(QString::fromStdString(msg).contains(needle), msg.c_str());
    }
};

QTEST_GUILESS_MAIN(TestScmoe)
#include "test_scmoe.moc"
