// The optional BF16 KV cache (SessionOptions::kv_dtype): the attention helpers over bf16 rows against a
// float64 reference, and whole sessions against the FP32-cache oracle on the golden models and an MLA
// fixture. Stated tolerance (docs/cpu_kernels.md): the greedy continuation is identical and every logit
// is within 1e-2 * max|logit| of the FP32-cache run (keys and values carry bf16's 8 significant bits;
// the attention arithmetic stays float32); results are deterministic across thread counts.
#include <QtTest>

#include <cmath>
#include <random>

#include "engine/cpu/kernels.h"
#include "engine/model/model.h"
#include "engine/session.h"
#include "tests/support/fixture_model.h"
#include "tests/support/golden.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using moescope::cpu::SimdLevel;
using moescope::test::GoldenCase;

Q_DECLARE_METATYPE(moescope::cpu::SimdLevel)

namespace {

struct LevelGuard {
    ~LevelGuard() { cpu::set_simd_level(cpu::simd_detected()); }
};

nlohmann::json run(const Model& model, const std::vector<int32_t>& ids, int n_new, DType kv, int threads) {
    SessionOptions so;
    so.n_threads = threads;
    so.kv_dtype = kv;
    Session s(model, so);
    return moescope::test::runGoldenSession(s, ids, n_new);
}

// max |a - b| and max |a| over logits_all + logits_last
void logit_error(const nlohmann::json& a, const nlohmann::json& b, double& worst, double& scale) {
    worst = scale = 0;
    for (const char* key : {"logits_all"})
        for (size_t t = 0; t < a[key].size(); ++t)
            for (size_t v = 0; v < a[key][t].size(); ++v) {
                const double x = a[key][t][v].get<double>(), y = b[key][t][v].get<double>();
                worst = std::max(worst, std::fabs(x - y));
                scale = std::max(scale, std::fabs(x));
            }
}

}  // namespace

class TestKvBf16 : public QObject {
    Q_OBJECT
private slots:
    void helpers_data() {
        QTest::addColumn<SimdLevel>("level");
        for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::AVX2, SimdLevel::AVX512, SimdLevel::AVX512BF16})
            QTest::newRow(cpu::simd_name(l)) << l;
    }
    // dot_rows_bf16 / weighted_rows_bf16 compute with the exact widened bf16 values: float32 rounding only.
    void helpers() {
        QFETCH(SimdLevel, level);
        if (level > cpu::simd_detected()) QSKIP("this CPU lacks the instruction set");
        LevelGuard guard;
        cpu::set_simd_level(level);
        std::mt19937 rng(5);
        std::uniform_real_distribution<float> U(-2.0f, 2.0f);
        for (int64_t d : {1, 15, 16, 17, 64, 128, 200}) {
            const int64_t m = 37, ld = d + 3;
            std::vector<uint16_t> K(static_cast<size_t>(m * ld));
            for (auto& k : K) k = f32_to_bf16(U(rng));
            std::vector<float> q(static_cast<size_t>(d)), p(static_cast<size_t>(m)), s(static_cast<size_t>(m)),
                o(static_cast<size_t>(d), 123.0f);
            for (auto& x : q) x = U(rng);
            for (auto& x : p) x = U(rng);
            cpu::dot_rows_bf16(q.data(), K.data(), ld, m, d, s.data());
            cpu::weighted_rows_bf16(p.data(), K.data(), ld, m, d, o.data());
            for (int64_t j = 0; j < m; ++j) {
                double ref = 0, sc = 0;
                for (int64_t i = 0; i < d; ++i) {
                    const double t = double(q[i]) * bf16_to_f32(K[j * ld + i]);
                    ref += t;
                    sc += std::fabs(t);
                }
                QVERIFY2(std::fabs(s[j] - ref) <= 1e-5 * sc + 1e-30, qPrintable(QString("dot d=%1 j=%2").arg(d).arg(j)));
            }
            for (int64_t i = 0; i < d; ++i) {
                double ref = 0, sc = 0;
                for (int64_t j = 0; j < m; ++j) {
                    const double t = double(p[j]) * bf16_to_f32(K[j * ld + i]);
                    ref += t;
                    sc += std::fabs(t);
                }
                QVERIFY2(std::fabs(o[i] - ref) <= 1e-5 * sc + 1e-30, qPrintable(QString("wsum d=%1 i=%2").arg(d).arg(i)));
            }
        }
    }

    void sessions_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("mixtral") << "mixtral";
        QTest::newRow("qwen3_moe") << "qwen3_moe";
    }
    void sessions() {
        QFETCH(QString, arch);
        GoldenCase g;
        QString err;
        QVERIFY2(test::loadGolden(arch, "baseline", g, err), qPrintable(err));
        auto model = Model::load(test::testdataPath("golden/" + arch).toStdString());
        QVERIFY2(model.ok(), model.message().c_str());
        const auto ids = g.expected["input_ids"].get<std::vector<int32_t>>();
        const int n_new = g.expected["n_new_tokens"].get<int>();
        const auto f32 = run(*model.value(), ids, n_new, DType::F32, 1);
        const auto b16 = run(*model.value(), ids, n_new, DType::BF16, 1);
        const auto b16t2 = run(*model.value(), ids, n_new, DType::BF16, 2);
        QVERIFY2(b16 == b16t2, "BF16 KV cache: 1 and 2 threads differ");
        QCOMPARE(b16["greedy"]["new_tokens"], f32["greedy"]["new_tokens"]);
        double worst = 0, scale = 0;
        logit_error(f32, b16, worst, scale);
        qInfo("%s: max |logit bf16-kv - f32-kv| = %.3g, max |logit| = %.3g", qPrintable(arch), worst, scale);
        QVERIFY2(worst > 0, "the BF16 cache was not used");
        QVERIFY2(worst <= 1e-2 * scale, qPrintable(QString("logit error %1 > 1e-2 * %2").arg(worst).arg(scale)));
    }

    // MLA (DeepSeek) caches per-head keys built from the latent: same tolerance on a random fixture.
    void mla_fixture() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        test::FixtureSpec spec;
        spec.arch = "deepseek_v2";
        spec.kv_heads = spec.heads;  // MLA: one cache head per query head
        const std::string path = test::writeFixture(dir.path().toStdString(), spec);
        auto model = Model::load(path);
        QVERIFY2(model.ok(), model.message().c_str());
        std::vector<int32_t> ids;
        for (int i = 0; i < 12; ++i) ids.push_back((7 * i + 3) % model.value()->config().vocab_size);
        const auto f32 = run(*model.value(), ids, 5, DType::F32, 1);
        const auto b16 = run(*model.value(), ids, 5, DType::BF16, 2);
        QCOMPARE(b16["greedy"]["new_tokens"], f32["greedy"]["new_tokens"]);
        double worst = 0, scale = 0;
        logit_error(f32, b16, worst, scale);
        QVERIFY2(worst > 0 && worst <= 1e-2 * scale, qPrintable(QString("logit error %1 vs max %2").arg(worst).arg(scale)));
    }

    void bad_dtype() {
        auto model = Model::load(test::testdataPath("golden/mixtral").toStdString());
        QVERIFY2(model.ok(), model.message().c_str());
        SessionOptions so;
        so.kv_dtype = DType::F16;
        bool threw = false;
        try {
            Session s(*model.value(), so);
        } catch (const Error& e) {
            threw = QString(e.what()).contains("bf16");
        }
        QVERIFY(threw);
    }
};

QTEST_GUILESS_MAIN(TestKvBf16)
#include "test_kv_bf16.moc"
