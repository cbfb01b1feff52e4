// Self-consistency of the forward pass on generated fixtures of every architecture and feature:
// batch prefill == token-by-token, KV cache == recompute, disable/force/top-k=1 rules, fork == unbranched
// run, live intervention changes affect routing from their step on only.
#include <QtTest>

#include <cmath>
#include <map>
#include <memory>

#include "engine/model/model.h"
#include "engine/routing_capture.h"
#include "engine/sampling.h"
#include "engine/session.h"
#include "tests/support/fixture_model.h"

using namespace moescope;
using test::FixtureSpec;

namespace {

struct Row {
    const char* name;
    FixtureSpec spec;
    std::vector<int> moe_layers;
};

std::vector<Row> rows() {
    std::vector<Row> r;
    r.push_back({"mixtral", FixtureSpec::forArch("mixtral"), {0, 1, 2}});
    auto sw = FixtureSpec::forArch("mixtral");
    sw.sliding_window = 3;
    r.push_back({"mixtral sliding_window", sw, {0, 1, 2}});
    auto f16 = FixtureSpec::forArch("mixtral");
    f16.dtype = DType::F16;
    f16.fused_experts = true;
    r.push_back({"mixtral F16 fused experts", f16, {0, 1, 2}});
    auto tied = FixtureSpec::forArch("mixtral");
    tied.dtype = DType::F32;
    tied.tie_embeddings = true;
    tied.shards = 3;
    r.push_back({"mixtral F32 tied sharded", tied, {0, 1, 2}});
    r.push_back({"qwen2_moe shared gate", FixtureSpec::forArch("qwen2_moe"), {0, 1, 2}});
    auto q2s = FixtureSpec::forArch("qwen2_moe");
    q2s.layers = 4;
    q2s.decoder_sparse_step = 2;
    r.push_back({"qwen2_moe decoder_sparse_step", q2s, {1, 3}});
    auto q3 = FixtureSpec::forArch("qwen3_moe");
    q3.mlp_only_layers = {1};
    r.push_back({"qwen3_moe mlp_only_layers", q3, {0, 2}});
    r.push_back({"olmoe full qk norm clip", FixtureSpec::forArch("olmoe"), {0, 1, 2}});
    r.push_back({"deepseek_v2 group max yarn", FixtureSpec::forArch("deepseek_v2"), {1, 2}});
    auto v2g = FixtureSpec::forArch("deepseek_v2");
    v2g.topk_method = "greedy";
    v2g.n_group = 1;
    v2g.topk_group = 1;
    v2g.q_lora_rank = 12;
    v2g.yarn = false;
    v2g.norm_topk_prob = true;
    r.push_back({"deepseek_v2 greedy q_lora", v2g, {1, 2}});
    r.push_back({"deepseek_v3 sigmoid groups", FixtureSpec::forArch("deepseek_v3"), {1, 2}});
    auto v3 = FixtureSpec::forArch("deepseek_v3");
    v3.rope_interleave = false;
    v3.first_k_dense = 2;
    v3.yarn = true;
    v3.fused_experts = true;
    r.push_back({"deepseek_v3 no interleave fused yarn", v3, {2}});
    return r;
}

std::vector<int32_t> prompt(int vocab, int n, uint64_t seed) {
    std::vector<int32_t> ids;
    uint64_t x = seed;
    for (int i = 0; i < n; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids.push_back(static_cast<int32_t>((x >> 33) % vocab));
    }
    return ids;
}

float maxAbsDiff(std::span<const float> a, std::span<const float> b) {
    float m = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return a.size() == b.size() ? m : INFINITY;
}

// Routing at (layer, position) keyed for comparison across runs.
using RouteMap = std::map<std::pair<int, int64_t>, std::pair<std::vector<int32_t>, std::vector<float>>>;
RouteMap routeMap(const RoutingCapture& c) {
    RouteMap m;
    for (const auto& [l, L] : c.layers())
        for (size_t i = 0; i < L.positions.size(); ++i) m[{l, L.positions[i]}] = {L.experts[i], L.weights[i]};
    return m;
}

std::vector<float> softmax(const std::vector<float>& z) {
    float mx = -INFINITY;
    for (float v : z) mx = std::max(mx, v);
    std::vector<float> p(z.size());
    float s = 0;
    for (size_t i = 0; i < z.size(); ++i) s += p[i] = std::exp(z[i] - mx);
    for (float& v : p) v /= s;
    return p;
}

}  // namespace

class TestFixtureModels : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::map<QString, std::string> dirs_;

    std::unique_ptr<Model> load(const QString& name) {
        auto m = Model::load(dirs_.at(name));
        if (!m.ok()) qFatal("%s", m.message().c_str());
        return std::move(m.value());
    }
    void addRows() {
        QTest::addColumn<QString>("name");
        for (const auto& r : rows()) QTest::newRow(r.name) << QString(r.name);
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        int i = 0;
        for (const auto& r : rows()) {
            dirs_[r.name] = test::writeFixture(tmp_.path().toStdString(), r.spec, "m" + std::to_string(i++));
        }
    }

    void loadsWithExpectedLayout_data() { addRows(); }
    void loadsWithExpectedLayout() {
        QFETCH(QString, name);
        for (const auto& r : rows()) {
            if (name != r.name) continue;
            auto m = load(name);
            QCOMPARE(m->config().moe_layers, r.moe_layers);
            QCOMPARE(m->summary().n_experts, r.spec.experts);
            QVERIFY(m->summary().params_active < m->summary().params_total);
            QCOMPARE(m->config().tie_word_embeddings, r.spec.tie_embeddings);
            if (r.spec.arch == "qwen2_moe") QVERIFY(m->config().qkv_bias);          // HF default when absent
            if (r.spec.arch == "deepseek_v3") QCOMPARE(m->config().rope_interleave, !r.spec.rope_interleave.has_value());
        }
    }

    // Prefill of the whole prompt equals feeding it one token at a time (logits and routing), and a
    // cached decode step equals recomputing the whole sequence.
    void batchEqualsTokenByToken_data() { addRows(); }
    void batchEqualsTokenByToken() {
        QFETCH(QString, name);
        auto m = load(name);
        const auto ids = prompt(m->config().vocab_size, 10, 7);
        const size_t V = m->config().vocab_size;
        Session batch(*m, SessionOptions{1});
        RoutingCapture cb;
        batch.set_observer(&cb);
        std::vector<float> all;
        batch.prefill(ids, &all);
        Session single(*m, SessionOptions{1});
        RoutingCapture cs;
        single.set_observer(&cs);
        for (size_t t = 0; t < ids.size(); ++t) {
            auto lg = t == 0 ? single.prefill(std::span<const int32_t>(ids.data(), 1)) : single.step(ids[t]);
            const float d = maxAbsDiff(lg, std::span<const float>(all.data() + t * V, V));
            QVERIFY2(d <= 1e-4f, qPrintable(QString("position %1: logits differ by %2").arg(t).arg(d)));
        }
        const auto a = routeMap(cb), b = routeMap(cs);
        QCOMPARE(a.size(), b.size());
        QCOMPARE(a.size(), ids.size() * m->config().moe_layers.size());
        for (const auto& [key, v] : a) {
            QCOMPARE(b.at(key).first, v.first);
            QVERIFY(maxAbsDiff(b.at(key).second, v.second) <= 1e-5f);
        }
        // KV cache vs recompute: one more token.
        auto cached = batch.step(5);
        std::vector<int32_t> longer = ids;
        longer.push_back(5);
        Session fresh(*m, SessionOptions{1});
        auto full = fresh.prefill(longer);
        QVERIFY(maxAbsDiff(cached, full) <= 1e-4f);
        // Multi-threaded run gives the same logits.
        Session threaded(*m, SessionOptions{2});
        auto lt = threaded.prefill(longer);
        QVERIFY(maxAbsDiff(lt, full) <= 1e-5f);
    }

    void disabledNeverSelected_data() { addRows(); }
    void disabledNeverSelected() {
        QFETCH(QString, name);
        auto m = load(name);
        const auto ids = prompt(m->config().vocab_size, 12, 11);
        Session base(*m, SessionOptions{1});
        RoutingCapture cb;
        base.set_observer(&cb);
        base.prefill(ids);
        Interventions iv;
        for (const auto& [l, L] : cb.layers()) {
            std::map<int, int> count;
            for (const auto& e : L.experts) count[e[0]]++;
            int best = 0;
            for (const auto& [e, n] : count)
                if (n > count[best]) best = e;
            iv.disable.push_back({l, best});  // the most popular first choice
        }
        Session s(*m, SessionOptions{1});
        QVERIFY(s.set_interventions(iv).ok());
        RoutingCapture cd;
        s.set_observer(&cd);
        s.prefill(ids);
        s.step(3);
        for (const auto& d : iv.disable) {
            const CapturedLayer& L = cd.layers().at(d.layer);
            for (size_t t = 0; t < L.experts.size(); ++t) {
                QCOMPARE(static_cast<int>(L.experts[t].size()), m->config().top_k);
                for (int32_t e : L.experts[t]) QVERIFY(e != d.expert);
                // Raw router logits are reported before the intervention: in the first MoE layer (whose
                // input the intervention cannot have changed yet) they equal the baseline's.
                if (d.layer == m->config().moe_layers.front() && t < cb.layers().at(d.layer).router_logits.size())
                    QCOMPARE(maxAbsDiff(L.router_logits[t], cb.layers().at(d.layer).router_logits[t]), 0.0f);
            }
        }
    }

    void forcedAlwaysSelected_data() { addRows(); }
    void forcedAlwaysSelected() {
        QFETCH(QString, name);
        auto m = load(name);
        const auto ids = prompt(m->config().vocab_size, 12, 13);
        const int L0 = m->config().moe_layers.back();
        Session base(*m, SessionOptions{1});
        RoutingCapture cb;
        base.set_observer(&cb);
        base.prefill(ids);
        // an expert that is NOT the natural choice of token 0
        const auto& nat = cb.layers().at(L0).experts[0];
        int f = 0;
        while (std::find(nat.begin(), nat.end(), f) != nat.end()) ++f;
        Interventions iv;
        iv.force.push_back({L0, f});
        Session s(*m, SessionOptions{1});
        QVERIFY(s.set_interventions(iv).ok());
        RoutingCapture cf;
        s.set_observer(&cf);
        s.prefill(ids);
        const auto& L = cf.layers().at(L0);
        const auto& B = cb.layers().at(L0);
        for (size_t t = 0; t < L.experts.size(); ++t) {
            const auto& sel = L.experts[t];
            QCOMPARE(static_cast<int>(sel.size()), m->config().top_k);
            QVERIFY(std::find(sel.begin(), sel.end(), f) != sel.end());
            const bool natural = std::find(B.experts[t].begin(), B.experts[t].end(), f) != B.experts[t].end();
            if (!natural) {
                QCOMPARE(sel.back(), f);  // takes the last slot
                // the others are the natural choices minus the lowest-ranked one
                for (size_t j = 0; j + 1 < sel.size(); ++j) QCOMPARE(sel[j], B.experts[t][j]);
            } else {
                QCOMPARE(sel, B.experts[t]);
            }
        }
    }

    // top-k = 1: renormalising routers give weight 1 (x routed_scaling_factor for DeepSeek-V3), the
    // others the expert's own softmax probability.
    void topK1WeightRule_data() { addRows(); }
    void topK1WeightRule() {
        QFETCH(QString, name);
        auto m = load(name);
        const ModelConfig& c = m->config();
        Interventions iv;
        iv.top_k = 1;
        Session s(*m, SessionOptions{1});
        QVERIFY(s.set_interventions(iv).ok());
        RoutingCapture cap;
        s.set_observer(&cap);
        s.prefill(prompt(c.vocab_size, 8, 17));
        for (const auto& [l, L] : cap.layers()) {
            for (size_t t = 0; t < L.experts.size(); ++t) {
                QCOMPARE(L.experts[t].size(), size_t(1));
                const int e = L.experts[t][0];
                float want;
                if (c.model_type == "deepseek_v3") {
                    want = static_cast<float>(c.routed_scaling_factor);  // s/(s+1e-20) * scale
                } else {
                    const auto p = softmax(L.router_logits[t]);
                    // argmax of p (no groups) or of the group-masked p
                    if (c.topk_method == TopkMethod::Greedy) QCOMPARE(e, int(std::max_element(p.begin(), p.end()) - p.begin()));
                    if (c.model_type == "mixtral" || (c.model_type != "deepseek_v2" && c.norm_topk_prob)) want = 1.0f;
                    else if (c.model_type == "deepseek_v2") want = p[e] * static_cast<float>(c.routed_scaling_factor);
                    else want = p[e];
                }
                QVERIFY2(std::fabs(L.weights[t][0] - want) <= 1e-5f,
                         qPrintable(QString("layer %1 token %2: weight %3, want %4").arg(l).arg(t).arg(L.weights[t][0]).arg(want)));
            }
        }
    }

    // A fork continues exactly like the unbranched session; branches share the prefix.
    void forkReproducesUnbranched_data() { addRows(); }
    void forkReproducesUnbranched() {
        QFETCH(QString, name);
        auto m = load(name);
        const auto ids = prompt(m->config().vocab_size, 6, 19);
        Session a(*m, SessionOptions{1});
        auto la = a.prefill(ids);
        std::vector<int32_t> gen_a;
        for (int i = 0; i < 3; ++i) {
            gen_a.push_back(Sampler::argmax(la));
            la = a.step(gen_a.back());
        }
        auto b = a.fork();
        QCOMPARE(b->tokens(), a.tokens());
        QCOMPARE(b->next_step(), a.next_step());
        RoutingCapture ra, rb;
        a.set_observer(&ra);
        b->set_observer(&rb);
        auto lb = b->last_logits();
        for (int i = 0; i < 4; ++i) {
            const int32_t ta = Sampler::argmax(la), tb = Sampler::argmax(lb);
            QCOMPARE(tb, ta);
            la = a.step(ta);
            lb = b->step(tb);
            QCOMPARE(maxAbsDiff(la, lb), 0.0f);
        }
        QCOMPARE(routeMap(ra), routeMap(rb));
        // The branch's cache is independent: changing it does not disturb the parent.
        Interventions iv;
        iv.top_k = 1;
        QVERIFY(b->set_interventions(iv).ok());
        b->step(4);
        QCOMPARE(a.interventions().top_k.has_value(), false);
        QCOMPARE(a.n_past() + 1, b->n_past());
    }

    // Disabling (L,E) at step t changes routing from step t on and never before; the timeline records it.
    void liveChangeAffectsLaterStepsOnly_data() { addRows(); }
    void liveChangeAffectsLaterStepsOnly() {
        QFETCH(QString, name);
        auto m = load(name);
        const auto ids = prompt(m->config().vocab_size, 5, 23);
        const auto feed = prompt(m->config().vocab_size, 6, 29);  // teacher-forced decode inputs
        const int t_change = 3;
        const int L0 = m->config().moe_layers.front();
        Session base(*m, SessionOptions{1});
        RoutingCapture cb;
        base.set_observer(&cb);
        base.prefill(ids);
        for (int32_t tok : feed) base.step(tok);
        // disable the first choice of layer L0 at the position of step t_change
        const int64_t pos_change = static_cast<int64_t>(ids.size()) + t_change;
        const auto& BL = cb.layers().at(L0);
        int target = -1;
        for (size_t i = 0; i < BL.positions.size(); ++i)
            if (BL.positions[i] == pos_change) target = BL.experts[i][0];
        QVERIFY(target >= 0);

        Session live(*m, SessionOptions{1});
        RoutingCapture cl;
        live.set_observer(&cl);
        live.prefill(ids);
        for (int i = 0; i < static_cast<int>(feed.size()); ++i) {
            if (i == t_change) {
                Interventions iv;
                iv.disable.push_back({L0, target});
                QVERIFY(live.set_interventions(iv).ok());
            }
            live.step(feed[i]);
        }
        QCOMPARE(live.timeline().size(), size_t(2));
        QCOMPARE(live.timeline()[1].step, t_change);
        const auto a = routeMap(cb), b = routeMap(cl);
        for (const auto& [key, v] : a) {
            if (key.second < pos_change) {
                QCOMPARE(b.at(key).first, v.first);  // earlier steps untouched
                QCOMPARE(b.at(key).second, v.second);
            } else if (key.first == L0) {
                for (int32_t e : b.at(key).first) QVERIFY(e != target);
            }
        }
        QVERIFY(b.at({L0, pos_change}).first != a.at({L0, pos_change}).first);
    }
};

QTEST_GUILESS_MAIN(TestFixtureModels)
#include "test_fixture_models.moc"
