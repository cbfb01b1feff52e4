// A long prefill (600 tokens on the tiny synthetic OLMoE) gives the same bits on 1, 2 and 3 threads:
// logits and every captured statistic (routing, expert output norms and down_proj maxima, EASY-EP
// s_t, hidden-state and sink statistics). 600 tokens put every per-token loop of the forward pass
// (norms, residual adds, q/k norm + RoPE + cache stores, the expert gather and combine) and the
// products' row blocks over the pool's thresholds, so the threaded paths run against the serial ones
// (1 thread). Exact and FastBF16 precision, and a top-k raised above the config's k (more gathered
// rows per token than the config says).
#include <QtTest>

#include <algorithm>
#include <cstring>
#include <random>

#include "engine/cpu/kernels.h"
#include "engine/model/synthetic_model.h"
#include "engine/session.h"

using namespace moescope;

namespace {

// Everything an Activations-level observer sees, flattened to bytes (NaN-safe bit comparison).
class Recorder : public RoutingObserver {
public:
    CaptureLevel capture_level() const override { return CaptureLevel::Activations; }
    void on_routing(const RoutingEvent& ev) override {
        put(ev.layer);
        put(ev.position);
        for (auto e : ev.experts) put(e);
        for (auto w : ev.weights) put(w);
        for (auto v : ev.router_logits) put(v);
        for (auto v : ev.expert_out_norm) put(v);
        for (auto v : ev.down_proj_max) put(v);
        for (auto v : ev.down_proj_channel) put(v);
        put(ev.token_contribution);
        ++routing_events;
        min_k = std::min(min_k, static_cast<int>(ev.experts.size()));
        max_k = std::max(max_k, static_cast<int>(ev.experts.size()));
    }
    void on_layer_stats(const LayerStatsEvent& ev) override {
        put(ev.layer);
        put(ev.position);
        put(ev.hidden_max_abs);
        put(ev.hidden_max_channel);
        put(ev.hidden_norm);
        for (auto v : ev.sink_mass_per_head) put(v);
    }
    std::vector<unsigned char> bytes;
    int routing_events = 0, min_k = 1 << 30, max_k = 0;

private:
    template <class T>
    void put(T v) {
        unsigned char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        bytes.insert(bytes.end(), b, b + sizeof(T));
    }
};

struct Run {
    std::vector<float> logits;  // [T][V]
    std::vector<float> next;    // logits after one decode step
    Recorder rec;
};

void run(const Model& m, const std::vector<int32_t>& ids, const Interventions& iv, int threads, Run& out) {
    Session s(m, SessionOptions{threads});
    auto ok = s.set_interventions(iv);
    if (!ok.ok()) throw Error(ok.message());
    s.set_observer(&out.rec);
    s.prefill(ids, &out.logits);
    const auto nx = s.step(7);
    out.next.assign(nx.begin(), nx.end());
}

struct Guard {
    ~Guard() { cpu::set_matmul_precision(cpu::MatmulPrecision::Exact); }
};

}  // namespace

class TestPrefillThreads : public QObject {
    Q_OBJECT
private slots:
    void sameBitsOnEveryThreadCount_data() {
        QTest::addColumn<bool>("fast");
        QTest::addColumn<int>("topk");
        QTest::newRow("exact") << false << 0;
        QTest::newRow("exact/top-k 5") << false << 5;
        QTest::newRow("fast-bf16") << true << 0;
    }
    void sameBitsOnEveryThreadCount() {
        QFETCH(bool, fast);
        QFETCH(int, topk);
        if (fast && cpu::simd_detected() < cpu::SimdLevel::AVX512BF16) QSKIP("this CPU lacks AVX512-BF16");
        Guard guard;
        cpu::set_matmul_precision(fast ? cpu::MatmulPrecision::FastBF16 : cpu::MatmulPrecision::Exact);
        auto sm = SyntheticModel::create("tiny-olmoe", 0, 11);
        QVERIFY2(sm.ok(), sm.message().c_str());
        const Model& m = (*sm)->model();
        std::mt19937 g(5);
        std::vector<int32_t> ids(600);
        for (auto& t : ids) t = static_cast<int32_t>(3 + g() % (m.config().vocab_size - 3));
        Interventions iv;
        if (topk) iv.top_k = topk;

        Run one;
        run(m, ids, iv, 1, one);
        const int k = topk ? topk : m.config().top_k;
        // The capture saw every token of every MoE layer (+1 decode step), k experts each.
        QCOMPARE(one.rec.routing_events, static_cast<int>(m.config().moe_layers.size()) * 601);
        QCOMPARE(one.rec.min_k, k);
        QCOMPARE(one.rec.max_k, k);
        QCOMPARE(one.logits.size(), ids.size() * static_cast<size_t>(m.config().vocab_size));
        for (int threads : {2, 3}) {
            Run r;
            run(m, ids, iv, threads, r);
            QVERIFY2(r.logits == one.logits, qPrintable(QString("prefill logits differ on %1 threads").arg(threads)));
            QVERIFY2(r.next == one.next, qPrintable(QString("decode logits differ on %1 threads").arg(threads)));
            QVERIFY2(r.rec.bytes == one.rec.bytes,
                     qPrintable(QString("captured statistics differ on %1 threads").arg(threads)));
        }
    }
};

QTEST_GUILESS_MAIN(TestPrefillThreads)
#include "test_prefill_threads.moc"
