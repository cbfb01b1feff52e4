// CPU checks of the per-element math that the CUDA kernels run (engine/cuda/ops_math.h), against
// straightforward reference code written here and against the golden router outputs. This test runs
// in every build (no GPU, no CUDA toolkit needed): the header is plain C++ under g++.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "engine/cuda/ops_math.h"
#include "engine/dtype.h"
#include "tests/support/testsupport.h"

using namespace moescope::cudamath;

namespace {

// ---- reference implementations (double precision, written from the equations) ----

std::vector<double> ref_rmsnorm(const std::vector<float>& x, const std::vector<float>& w, double eps) {
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = w[i] * (x[i] * inv);
    return y;
}

// HF rotate-half RoPE on one head: x*cos + rotate_half(x)*sin with emb = cat(freqs, freqs).
std::vector<double> ref_rope_half(const std::vector<double>& x, int64_t pos, double theta) {
    const int d = int(x.size());
    std::vector<double> y(d);
    for (int j = 0; j < d; ++j) {
        const int i = j % (d / 2);
        const double ang = double(pos) / std::pow(theta, 2.0 * i / d);
        const double rot = j < d / 2 ? -x[j + d / 2] : x[j - d / 2];
        y[j] = x[j] * std::cos(ang) + rot * std::sin(ang);
    }
    return y;
}

// HF DeepSeek interleaved RoPE: de-interleave (2i, 2i+1) -> (i, d/2 + i), then rotate-half.
std::vector<double> deinterleave(const std::vector<double>& x) {
    const int d = int(x.size());
    std::vector<double> y(d);
    for (int i = 0; i < d / 2; ++i) {
        y[i] = x[2 * i];
        y[d / 2 + i] = x[2 * i + 1];
    }
    return y;
}

void apply_rope_math(std::vector<float>& x, int64_t pos, float theta, bool interleaved) {
    const int d = int(x.size());
    for (int i = 0; i < d / 2; ++i) {
        int a, b;
        rope_pair(i, d, interleaved, &a, &b);
        const float ang = rope_angle(pos, i, d, theta);
        float ya, yb;
        rope_rotate(x[a], x[b], std::cos(ang), std::sin(ang), &ya, &yb);
        x[a] = ya;
        x[b] = yb;
    }
}

struct RefRoute {
    std::vector<int> ids;
    std::vector<double> w;
};

// Straight reading of the golden README's DeepSeek router (sigmoid, groups, interventions).
RefRoute ref_deepseek(const std::vector<float>& z, const std::vector<float>& bias, int n_group, int topk_group,
                      int k, bool norm, double scale, const std::set<int>& disabled, const std::vector<int>& forced) {
    const int E = int(z.size());
    const double NEG = -INFINITY;
    std::vector<double> s(E), c(E);
    for (int e = 0; e < E; ++e) {
        s[e] = 1.0 / (1.0 + std::exp(-double(z[e])));
        c[e] = disabled.count(e) ? NEG : s[e] + bias[e];
    }
    const int gs = E / n_group;
    std::vector<std::pair<double, int>> gscore;
    for (int g = 0; g < n_group; ++g) {
        std::vector<double> m;
        for (int j = 0; j < gs; ++j)
            if (c[g * gs + j] != NEG) m.push_back(c[g * gs + j]);
        std::sort(m.rbegin(), m.rend());
        const double sc = m.empty() ? NEG : (m.size() == 1 ? m[0] : m[0] + m[1]);
        gscore.push_back({sc, g});
    }
    std::stable_sort(gscore.begin(), gscore.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::set<int> keep;
    for (int i = 0; i < topk_group; ++i) keep.insert(gscore[i].second);
    for (int e = 0; e < E; ++e)
        if (!keep.count(e / gs) && c[e] != NEG) c[e] = 0.0;
    std::vector<int> order;
    for (int e = 0; e < E; ++e)
        if (!disabled.count(e)) order.push_back(e);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return c[a] > c[b]; });
    RefRoute r;
    r.ids.assign(order.begin(), order.begin() + std::min<size_t>(k, order.size()));
    for (int f : forced) {
        if (std::find(r.ids.begin(), r.ids.end(), f) != r.ids.end()) continue;
        r.ids.back() = f;
    }
    double sum = 0;
    for (int e : r.ids) sum += s[e];
    for (int e : r.ids) r.w.push_back((norm ? s[e] / (sum + 1e-20) : s[e]) * scale);
    return r;
}

nlohmann::json load_json(const QString& path) {
    std::ifstream f(path.toStdString());
    if (!f) return {};
    return nlohmann::json::parse(f);
}

}  // namespace

class TestCudaMath : public QObject {
    Q_OBJECT
private slots:
    void bf16_roundtrip_data() {
        QTest::addColumn<quint32>("bits");
        QTest::addColumn<quint32>("expected");  // bf16 bits
        QTest::newRow("one") << quint32(0x3f800000) << quint32(0x3f80);
        QTest::newRow("tie to even (down)") << quint32(0x3f808000) << quint32(0x3f80);
        QTest::newRow("tie to even (up)") << quint32(0x3f818000) << quint32(0x3f82);
        QTest::newRow("above half rounds up") << quint32(0x3f808001) << quint32(0x3f81);
        QTest::newRow("-inf") << quint32(0xff800000) << quint32(0xff80);
        QTest::newRow("max float overflows to inf") << quint32(0x7f7fffff) << quint32(0x7f80);
        QTest::newRow("quiet NaN") << quint32(0x7fc00001) << quint32(0x7fc0);
        QTest::newRow("signalling NaN stays NaN") << quint32(0x7f800001) << quint32(0x7fc0);
        QTest::newRow("denormal") << quint32(0x00010000) << quint32(0x0001);
    }
    void bf16_roundtrip() {
        QFETCH(quint32, bits);
        QFETCH(quint32, expected);
        const float f = bits_to_f32(bits);
        QCOMPARE(quint32(f32_to_bf16(f)), expected);
        QCOMPARE(f32_to_bits(bf16_to_f32(uint16_t(expected))), quint32(expected) << 16);
    }
    void bf16_matches_engine_dtype() {
        // Independent implementation in engine/dtype.h; compare on many random bit patterns.
        std::mt19937 rng(7);
        for (int i = 0; i < 200000; ++i) {
            const uint32_t u = rng();
            const float f = bits_to_f32(u);
            QCOMPARE(f32_to_bf16(f), moescope::f32_to_bf16(f));
            const uint16_t h = uint16_t(u);
            QCOMPARE(f32_to_bits(bf16_to_f32(h)), f32_to_bits(moescope::bf16_to_f32(h)));
        }
    }

    void rmsnorm_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<double>("eps");
        QTest::newRow("64 eps1e-5") << 64 << 1e-5;
        QTest::newRow("2048 eps1e-6") << 2048 << 1e-6;
        QTest::newRow("7 odd width") << 7 << 1e-6;
    }
    void rmsnorm() {
        QFETCH(int, n);
        QFETCH(double, eps);
        std::mt19937 rng(n);
        std::normal_distribution<float> nd(0.0f, 2.0f);
        std::vector<float> x(n), w(n);
        for (auto& v : x) v = nd(rng);
        for (auto& v : w) v = 1.0f + 0.1f * nd(rng);
        float ss = 0;
        for (float v : x) ss += v * v;
        const float inv = rms_inv(ss, n, float(eps));
        const auto ref = ref_rmsnorm(x, w, eps);
        for (int i = 0; i < n; ++i) {
            const double got = rms_apply(x[i], inv, w[i]);
            QVERIFY2(std::abs(got - ref[i]) <= 1e-5 * (1 + std::abs(ref[i])), qPrintable(QString::number(i)));
        }
    }

    void rope_data() {
        QTest::addColumn<int>("d");
        QTest::addColumn<qint64>("pos");
        QTest::addColumn<bool>("interleaved");
        QTest::newRow("half d32 pos0") << 32 << qint64(0) << false;
        QTest::newRow("half d32 pos11") << 32 << qint64(11) << false;
        QTest::newRow("half d128 pos4000") << 128 << qint64(4000) << false;
        QTest::newRow("interleaved d16 pos7") << 16 << qint64(7) << true;
        QTest::newRow("interleaved d64 pos300") << 64 << qint64(300) << true;
    }
    void rope() {
        QFETCH(int, d);
        QFETCH(qint64, pos);
        QFETCH(bool, interleaved);
        const double theta = 10000.0;
        std::mt19937 rng(d + pos);
        std::normal_distribution<float> nd;
        std::vector<float> x(d);
        for (auto& v : x) v = nd(rng);
        std::vector<double> xd(x.begin(), x.end());
        std::vector<float> y = x;
        apply_rope_math(y, pos, float(theta), interleaved);
        std::vector<double> ref, got(y.begin(), y.end());
        if (interleaved) {
            // HF leaves q/k de-interleaved after rotation; q.k is the same either way, so compare in
            // that order: deinterleave(ours) must equal half-RoPE(deinterleave(x)).
            ref = ref_rope_half(deinterleave(xd), pos, theta);
            got = deinterleave(got);
        } else {
            ref = ref_rope_half(xd, pos, theta);
        }
        // Float32 angles at position 4000 lose ~1e-4 relative precision in the argument (HF does the
        // same float32 product), so the tolerance grows with pos.
        const double tol = 1e-5 + 4e-7 * double(pos);
        for (int j = 0; j < d; ++j) QVERIFY2(std::abs(got[j] - ref[j]) <= tol, qPrintable(QString::number(j)));
        // Rotation preserves the norm.
        double n0 = 0, n1 = 0;
        for (int j = 0; j < d; ++j) {
            n0 += xd[j] * xd[j];
            n1 += double(y[j]) * y[j];
        }
        QVERIFY(std::abs(n0 - n1) < 1e-4 * n0);
    }

    void swiglu() {
        for (float g : {-20.0f, -3.5f, -0.1f, 0.0f, 0.7f, 4.0f, 30.0f}) {
            for (float u : {-2.0f, 0.5f, 3.0f}) {
                const double ref = double(g) / (1.0 + std::exp(-double(g))) * u;
                QVERIFY(std::abs(moescope::cudamath::swiglu(g, u) - ref) <= 1e-6 * (1 + std::abs(ref)));
            }
        }
        QCOMPARE(sigmoidf_(0.0f), 0.5f);
    }

    void online_softmax_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("chunks");
        QTest::newRow("1 key") << 1 << 1;
        QTest::newRow("12 keys 3 chunks") << 12 << 3;
        QTest::newRow("1000 keys 8 chunks") << 1000 << 8;
        QTest::newRow("5 keys 8 chunks (empty chunks)") << 5 << 8;
    }
    void online_softmax() {
        // Attention accumulation: chunks processed with softmax_push, then merged with softmax_merge
        // (one chunk per warp in the kernel), equals the direct softmax-weighted sum of values.
        QFETCH(int, n);
        QFETCH(int, chunks);
        const int dv = 4;
        std::mt19937 rng(n * 31 + chunks);
        std::normal_distribution<float> nd(0.0f, 3.0f);
        std::vector<float> s(n), v(n * dv);
        for (auto& x : s) x = nd(rng);
        for (auto& x : v) x = nd(rng);
        double mx = *std::max_element(s.begin(), s.end()), l = 0;
        std::vector<double> ref(dv, 0.0);
        for (int j = 0; j < n; ++j) {
            const double p = std::exp(s[j] - mx);
            l += p;
            for (int c = 0; c < dv; ++c) ref[c] += p * v[j * dv + c];
        }
        for (auto& r : ref) r /= l;
        SoftmaxState total = softmax_empty();
        std::vector<float> acc(dv, 0.0f);
        for (int ch = 0; ch < chunks; ++ch) {
            SoftmaxState st = softmax_empty();
            std::vector<float> a(dv, 0.0f);
            for (int j = ch; j < n; j += chunks) {
                float alpha, p;
                softmax_push(&st, s[j], &alpha, &p);
                for (int c = 0; c < dv; ++c) a[c] = a[c] * alpha + p * v[j * dv + c];
            }
            float fa, fb;
            softmax_merge(&total, st, &fa, &fb);
            for (int c = 0; c < dv; ++c) acc[c] = acc[c] * fa + a[c] * fb;
        }
        for (int c = 0; c < dv; ++c) QVERIFY(std::abs(acc[c] / total.l - ref[c]) < 1e-5 * (1 + std::abs(ref[c])));
        QVERIFY(std::abs(total.m - mx) == 0.0);
    }

    void absmax_order_independent() {
        std::vector<AbsMax> xs{{1.0f, 5}, {3.0f, 9}, {3.0f, 2}, {0.5f, 0}, {3.0f, 7}};
        AbsMax fwd{-1.0f, 0}, bwd{-1.0f, 0};
        for (auto& x : xs) fwd = absmax_merge(fwd, x);
        for (auto it = xs.rbegin(); it != xs.rend(); ++it) bwd = absmax_merge(bwd, *it);
        QCOMPARE(fwd.v, 3.0f);
        QCOMPARE(fwd.idx, 2);  // lowest channel among ties
        QCOMPARE(bwd.idx, 2);
    }

    // Router math against the golden files: from the recorded raw router logits, route_token must
    // reproduce the experts (best first) and weights of every setting (baseline, disable, force, top-k).
    void router_golden_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("setting");
        for (const char* arch : {"mixtral", "qwen3_moe"})
            for (const char* s : {"baseline", "disable", "force", "topk1"})
                QTest::newRow(qPrintable(QString("%1/%2").arg(arch, s))) << QString(arch) << QString(s);
    }
    void router_golden() {
        QFETCH(QString, arch);
        QFETCH(QString, setting);
        const auto dir = moescope::test::testdataPath("golden/" + arch);
        const auto exp = load_json(dir + "/expected.json");
        const auto cfg = load_json(dir + "/config.json");
        QVERIFY2(!exp.is_null() && !cfg.is_null(), qPrintable("golden files missing in " + dir));
        const auto& res = setting == "baseline" ? exp["baseline"] : exp["interventions"][setting.toStdString()];
        const auto& iv = res["interventions"];
        RouteParams p;
        p.scoring = kScoreSoftmax;
        p.norm_topk = arch == "mixtral" ? 1 : int(cfg.value("norm_topk_prob", false));
        p.k = iv["top_k"].is_null() ? cfg["num_experts_per_tok"].get<int>() : iv["top_k"].get<int>();
        int checked = 0;
        for (const auto& lr : res["routing"]) {
            const int L = lr["layer"];
            const auto& logits = lr["router_logits"];
            const int E = int(logits[0].size());
            p.n_experts = E;
            std::vector<uint8_t> dis(E, 0);
            std::vector<int32_t> forced;
            for (const auto& d : iv["disable"])
                if (d[0] == L) dis[d[1].get<int>()] = 1;
            for (const auto& f : iv["force"])
                if (f[0] == L) forced.push_back(f[1]);
            RouteEdits ed;
            ed.disabled = dis.data();
            ed.forced = forced.data();
            ed.n_forced = int(forced.size());
            for (size_t t = 0; t < logits.size(); ++t) {
                std::vector<float> z = logits[t].get<std::vector<float>>(), score(E), choice(E), w(p.k);
                std::vector<int32_t> ids(p.k);
                const int n = route_token(p, z.data(), nullptr, ed, score.data(), choice.data(), ids.data(), w.data());
                const auto want_ids = lr["experts"][t].get<std::vector<int>>();
                const auto want_w = lr["weights"][t].get<std::vector<double>>();
                QCOMPARE(n, int(want_ids.size()));
                for (int i = 0; i < n; ++i) {
                    QCOMPARE(ids[i], want_ids[i]);
                    QVERIFY2(std::abs(w[i] - want_w[i]) <= 1e-5,
                             qPrintable(QString("layer %1 token %2 slot %3: %4 vs %5")
                                            .arg(L).arg(t).arg(i).arg(w[i]).arg(want_w[i])));
                }
                ++checked;
            }
        }
        QVERIFY(checked > 0);
    }

    // DeepSeek sigmoid router with groups, against the reference reading on random inputs (with
    // biases that keep score+bias > 0, as the README's cases do) and every intervention.
    void router_deepseek_random_data() {
        QTest::addColumn<int>("seed");
        QTest::addColumn<bool>("disable");
        QTest::addColumn<bool>("force");
        QTest::addColumn<int>("k");
        for (int seed = 1; seed <= 4; ++seed) {
            QTest::newRow(qPrintable(QString("seed%1 plain").arg(seed))) << seed << false << false << 2;
            QTest::newRow(qPrintable(QString("seed%1 disable").arg(seed))) << seed << true << false << 2;
            QTest::newRow(qPrintable(QString("seed%1 force").arg(seed))) << seed << false << true << 2;
            QTest::newRow(qPrintable(QString("seed%1 both k1").arg(seed))) << seed << true << true << 1;
        }
    }
    void router_deepseek_random() {
        QFETCH(int, seed);
        QFETCH(bool, disable);
        QFETCH(bool, force);
        QFETCH(int, k);
        const int E = 16, n_group = 4, topk_group = 2;
        std::mt19937 rng(seed);
        std::normal_distribution<float> nd;
        std::uniform_real_distribution<float> ub(0.0f, 0.3f);
        std::uniform_int_distribution<int> pick(0, E - 1);
        for (int trial = 0; trial < 200; ++trial) {
            std::vector<float> z(E), bias(E);
            for (auto& v : z) v = 2 * nd(rng);
            for (auto& v : bias) v = ub(rng);
            std::set<int> dis;
            std::vector<int32_t> forced;
            if (disable) {
                dis.insert(pick(rng));
                dis.insert(pick(rng));
            }
            if (force) {
                int f = pick(rng);
                while (dis.count(f)) f = pick(rng);
                forced.push_back(f);
            }
            std::vector<uint8_t> dmask(E, 0);
            for (int e : dis) dmask[e] = 1;
            RouteParams p;
            p.n_experts = E;
            p.k = k;
            p.scoring = kScoreSigmoid;
            p.weight_mode = kWeightsDeepseekV3;
            p.norm_topk = 1;
            p.scale = 2.5f;
            p.n_group = n_group;
            p.topk_group = topk_group;
            RouteEdits ed;
            ed.disabled = dmask.data();
            ed.forced = forced.data();
            ed.n_forced = int(forced.size());
            std::vector<float> score(E), choice(E), w(k);
            std::vector<int32_t> ids(k);
            const int n = route_token(p, z.data(), bias.data(), ed, score.data(), choice.data(), ids.data(), w.data());
            const auto ref = ref_deepseek(z, bias, n_group, topk_group, k, true, 2.5, dis, forced);
            QCOMPARE(n, int(ref.ids.size()));
            for (int i = 0; i < n; ++i) {
                QCOMPARE(ids[i], ref.ids[i]);
                QVERIFY(std::abs(w[i] - ref.w[i]) < 1e-5);
                QVERIFY(!dis.count(ids[i]));
            }
            for (int f : forced) QVERIFY(std::find(ids.begin(), ids.begin() + n, f) != ids.begin() + n);
            if (k == 1) QVERIFY(std::abs(w[0] - 2.5f) < 1e-5);  // README: with K=1 the weight is 2.5
        }
    }

    // Planted case where removing the disabled expert before choosing groups matters (README reading
    // (iii) differs): group 0 = {0, 1} is strong only because of expert 0.
    void router_deepseek_disable_before_groups() {
        // 8 experts, 4 groups of 2, keep 1 group, k = 1. Scores chosen via logits 0 -> s = 0.5.
        std::vector<float> z{4.0f, 0.0f, 1.0f, 1.0f, -2.0f, -2.0f, -2.0f, -2.0f};
        std::vector<float> bias(8, 0.0f);
        std::vector<uint8_t> dis(8, 0);
        dis[0] = 1;
        RouteParams p;
        p.n_experts = 8;
        p.k = 1;
        p.scoring = kScoreSigmoid;
        p.norm_topk = 1;
        p.n_group = 4;
        p.topk_group = 1;
        RouteEdits ed;
        ed.disabled = dis.data();
        float score[8], choice[8], w[1];
        int32_t ids[1];
        QCOMPARE(route_token(p, z.data(), bias.data(), ed, score, choice, ids, w), 1);
        // Group 0 now scores s(0)=0.5 alone; group 1 scores 2*s(1)=1.46 and wins; expert 2 (lowest
        // id among the tie 2/3). Reading (iii) would keep group 0 and pick expert 1.
        QCOMPARE(ids[0], 2);
        QCOMPARE(w[0], 1.0f);
    }

    // Group score rule: DeepSeek-V2 group_limited_greedy (max per group) vs V3 (sum of top-2).
    // p = softmax(2, -5, 1.5, 1.5) = (0.452, 0.0004, 0.274, 0.274); groups {0,1}, {2,3}, keep 1.
    void router_group_score_rule_data() {
        QTest::addColumn<int>("group_max");
        QTest::addColumn<int>("first");
        QTest::addColumn<int>("second");
        QTest::newRow("max per group keeps {0,1}") << 1 << 0 << 1;
        QTest::newRow("top-2 sum keeps {2,3}") << 0 << 2 << 3;
    }
    void router_group_score_rule() {
        QFETCH(int, group_max);
        QFETCH(int, first);
        QFETCH(int, second);
        std::vector<float> z{2.0f, -5.0f, 1.5f, 1.5f};
        RouteParams p;
        p.n_experts = 4;
        p.k = 2;
        p.n_group = 2;
        p.topk_group = 1;
        p.group_max = group_max;
        RouteEdits ed;
        float score[4], choice[4], w[2];
        int32_t ids[2];
        QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 2);
        QCOMPARE(ids[0], first);
        QCOMPARE(ids[1], second);
    }

    void router_softmax_edits_data() {
        QTest::addColumn<QString>("what");
        QTest::newRow("bias steers") << "bias";
        QTest::newRow("top_p picks the mass prefix") << "top_p";
        QTest::newRow("all disabled selects nothing") << "all_disabled";
        QTest::newRow("two forced replace from the bottom") << "two_forced";
        QTest::newRow("forced replaces within a top-p set") << "force_top_p";
        QTest::newRow("deepseek-v2 weights: k=1 scales, k>1 normalises") << "v2_weights";
    }
    void router_softmax_edits() {
        QFETCH(QString, what);
        // logits chosen so that p = softmax = (0.5, 0.25, 0.125, 0.125) exactly.
        const float l2 = std::log(2.0f);
        std::vector<float> z{3 * l2, 2 * l2, l2, l2};
        RouteParams p;
        p.n_experts = 4;
        p.k = 2;
        RouteEdits ed;
        std::vector<uint8_t> dis(4, 0);
        std::vector<float> bias(4, 0.0f);
        std::vector<int32_t> forced;
        float score[4], choice[4], w[4];
        int32_t ids[4];
        if (what == "bias") {
            bias[3] = 3 * l2;  // expert 3 logit becomes 4 ln2: exp = (8, 4, 2, 16), so 3 ranks first
            ed.logit_bias = bias.data();
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 2);
            QCOMPARE(ids[0], 3);
            QCOMPARE(ids[1], 0);
            // p3 = 16 / (8 + 4 + 2 + 16) = 16/30
            QVERIFY(std::abs(w[0] - 16.0f / 30.0f) < 1e-6);
        } else if (what == "top_p") {
            p.k = 4;  // capacity; top_p picks the dynamic k within it
            p.top_p = 0.7f;
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 2);  // 0.5 + 0.25 >= 0.7
            p.top_p = 0.4f;
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 1);
            QCOMPARE(ids[0], 0);
            p.top_p = 0.8f;
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 3);
            p.top_p_max_k = 2;  // at most 2 even though 0.8 needs 3
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 2);
        } else if (what == "force_top_p") {
            p.k = 4;
            p.top_p = 0.4f;  // natural set {0}
            forced = {3};
            ed.forced = forced.data();
            ed.n_forced = 1;
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 1);
            QCOMPARE(ids[0], 3);
            QCOMPARE(w[0], 0.125f);
        } else if (what == "v2_weights") {
            p.weight_mode = kWeightsDeepseekV2;
            p.norm_topk = 1;
            p.scale = 16.0f;
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 2);
            QVERIFY(std::abs(w[0] - 0.5f / (0.75f + 1e-20f)) < 1e-7);  // k > 1: normalised, not scaled
            p.k = 1;
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 1);
            QCOMPARE(w[0], 8.0f);  // k = 1: 0.5 * 16
        } else if (what == "all_disabled") {
            std::fill(dis.begin(), dis.end(), 1);
            ed.disabled = dis.data();
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 0);
            forced = {2};  // the oracle then uses the forced expert alone (weight 0: its p is 0)
            ed.forced = forced.data();
            ed.n_forced = 1;
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 1);
            QCOMPARE(ids[0], 2);
        } else {
            p.k = 3;
            forced = {3, 2};
            ed.forced = forced.data();
            ed.n_forced = 2;
            // natural (0, 1, 2); expert 2 is itself forced, so forcing 3 evicts the lowest-ranked
            // NON-forced member (1) and 3 takes the last slot: (0, 2, 3).
            QCOMPARE(route_token(p, z.data(), nullptr, ed, score, choice, ids, w), 3);
            QCOMPARE(ids[0], 0);
            QCOMPARE(ids[1], 2);
            QCOMPARE(ids[2], 3);
            QCOMPARE(w[1], 0.125f);
        }
    }
};

QTEST_GUILESS_MAIN(TestCudaMath)
#include "test_cuda_math.moc"
