// Q8_0 weights (engine/model/quantize.h): the block quantisation against its definition, every kernel
// path against a float64 reference over the dequantised weights (and the VNNI path's extra activation
// rounding against its stated bound), determinism across thread counts, and a quantised model:
// which matrices change, what the summary says, and how far the demo model's routing and logits move
// from the exact oracle.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/cpu/thread_pool.h"
#include "engine/model/quantize.h"
#include "engine/model/synthetic_model.h"
#include "engine/routing_capture.h"
#include "engine/session.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using namespace moescope::cpu;

Q_DECLARE_METATYPE(moescope::cpu::SimdLevel)
Q_DECLARE_METATYPE(moescope::DType)

namespace {

float block_scale(const uint8_t* row, int64_t b) { return f16_to_f32(q8_scales(row)[b]); }

// Source values in dtype `wt`: random, with planted blocks: all zero, one huge value among tiny ones,
// all negative.
std::vector<uint8_t> make_source(DType wt, int64_t rows, int64_t cols, std::mt19937& rng) {
    std::uniform_real_distribution<float> U(-1.0f, 1.0f);
    std::vector<uint8_t> out(static_cast<size_t>(rows) * row_bytes(wt, cols));
    for (int64_t i = 0; i < rows * cols; ++i) {
        const int64_t blk = i / 32;
        float f = U(rng);
        if (blk % 7 == 1) f = 0.0f;
        if (blk % 7 == 2) f = (i % 32 == 5) ? 900.0f : f * 1e-3f;
        if (blk % 7 == 3) f = -std::fabs(f) - 0.25f;
        switch (wt) {
            case DType::F32: std::memcpy(&out[4 * i], &f, 4); break;
            case DType::BF16: {
                const uint16_t h = f32_to_bf16(f);
                std::memcpy(&out[2 * i], &h, 2);
                break;
            }
            default: {
                const uint16_t h = f32_to_f16(f);
                std::memcpy(&out[2 * i], &h, 2);
                break;
            }
        }
    }
    return out;
}

struct Restore {
    ~Restore() {
        set_simd_level(simd_detected());
        set_matmul_precision(MatmulPrecision::Exact);
    }
};

}  // namespace

class TestQ8_0 : public QObject {
    Q_OBJECT
private slots:
    void quantise_data() {
        QTest::addColumn<DType>("wt");
        for (DType t : {DType::F32, DType::BF16, DType::F16}) QTest::newRow(dtype_name(t)) << t;
    }
    // Per block: d = fp16(max|w| / 127); q = round(w / d) within [-127, 127]; |d·q - w| <= d/2; the largest
    // value gets |q| >= 126 (127 up to the rounding of d); an all-zero block is all zero; dequantising
    // gives exactly d·q, and so does q8_value.
    void quantise() {
        QFETCH(DType, wt);
        std::mt19937 rng(3);
        const int64_t rows = 5, cols = 224;
        const auto src = make_source(wt, rows, cols, rng);
        std::vector<uint8_t> q(static_cast<size_t>(rows) * row_bytes(DType::Q8_0, cols));
        QCOMPARE(q.size(), static_cast<size_t>(rows * (cols / 32) * 34));
        std::vector<float> deq(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
            const uint8_t* qr = q.data() + r * row_bytes(DType::Q8_0, cols);
            quantize_row_q8_0(wt, src.data() + r * row_bytes(wt, cols), cols, q.data() + r * row_bytes(DType::Q8_0, cols));
            dequantize_row_q8_0(qr, cols, deq.data());
            for (int64_t b = 0; b < cols / 32; ++b) {
                double amax = 0;
                for (int j = 0; j < 32; ++j)
                    amax = std::max(amax, std::fabs(double(load_as_f32(wt, src.data(), size_t(r * cols + b * 32 + j)))));
                const double d = block_scale(qr, b);
                QCOMPARE(d, double(f16_to_f32(f32_to_f16(float(amax / 127.0)))));
                int qmax = 0;
                for (int j = 0; j < 32; ++j) {
                    const int qi = q8_values(qr, cols)[b * 32 + j];
                    QVERIFY(qi >= -127 && qi <= 127);
                    qmax = std::max(qmax, std::abs(qi));
                    const double w = load_as_f32(wt, src.data(), size_t(r * cols + b * 32 + j));
                    const float back = deq[size_t(b * 32 + j)];
                    QCOMPARE(double(back), d * qi);  // exact
                    QCOMPARE(q8_value(qr, cols, b * 32 + j), back);
                    QVERIFY2(std::fabs(back - w) <= d / 2 * (1 + 1e-6) + 1e-30,
                             qPrintable(QString("row %1 block %2 [%3]: %4 -> %5, d %6").arg(r).arg(b).arg(j).arg(w).arg(back).arg(d)));
                }
                if (amax == 0) QCOMPARE(qmax, 0);
                else QVERIFY2(qmax >= 126, qPrintable(QString("block %1: largest |q| %2").arg(b).arg(qmax)));
            }
        }
    }

    void products_data() {
        QTest::addColumn<SimdLevel>("level");
        for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::AVX2, SimdLevel::AVX512, SimdLevel::AVX512BF16})
            QTest::newRow(simd_name(l)) << l;
    }
    // matvec and matmul over Q8_0 weights vs float64 with the dequantised weights (tolerance 1e-5·S, S =
    // sum |w·x|, as for the float kernels), except the VNNI decode path (avx512bf16 level on a VNNI CPU),
    // whose activations are rounded to 8 bits per 32-block: there |y - ref| <= sum_b (max_b|x| / 254)
    // sum_{j in b} |w_j| + 1e-5·S. 1, 2 and 3 threads agree bit for bit.
    void products() {
        QFETCH(SimdLevel, level);
        Restore restore;
        set_simd_level(level);
        if (simd_level() != level) QSKIP("this CPU lacks the instruction set");
        std::mt19937 rng(11);
        std::uniform_real_distribution<float> U(-2.0f, 2.0f);
        for (const auto& [rows, cols, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 32, 1}, {7, 96, 1}, {33, 160, 1},
                                            {300, 256, 1}, {5, 64, 3}, {37, 224, 13}, {70, 128, 40}}) {
            const auto src = make_source(DType::BF16, rows, cols, rng);
            std::vector<uint8_t> Wq(static_cast<size_t>(rows) * row_bytes(DType::Q8_0, cols));
            for (int64_t r = 0; r < rows; ++r)
                quantize_row_q8_0(DType::BF16, src.data() + r * row_bytes(DType::BF16, cols), cols,
                                  Wq.data() + r * row_bytes(DType::Q8_0, cols));
            std::vector<float> X(static_cast<size_t>(n * cols));
            for (auto& v : X) v = U(rng);
            std::vector<float> Y1;
            for (int threads : {1, 2, 3}) {
                ThreadPool pool(threads);
                std::vector<float> Y(static_cast<size_t>(n * rows), NAN);
                matmul(DType::Q8_0, Wq.data(), rows, cols, X.data(), n, Y.data(), &pool);
                if (threads == 1) Y1 = Y;
                else QVERIFY2(std::memcmp(Y.data(), Y1.data(), Y.size() * 4) == 0, "thread counts differ");
            }
            const bool vnni = level == SimdLevel::AVX512BF16 && n == 1;  // VNNI where the CPU has it
            for (int64_t i = 0; i < n; ++i)
                for (int64_t r = 0; r < rows; ++r) {
                    double ref = 0, S = 0, act = 0;
                    for (int64_t b = 0; b < cols / 32; ++b) {
                        double xmax = 0, wsum = 0;
                        for (int j = 0; j < 32; ++j) {
                            const int64_t c = b * 32 + j;
                            const double w = q8_value(Wq.data() + r * row_bytes(DType::Q8_0, cols), cols, c);
                            const double x = X[size_t(i * cols + c)];
                            ref += w * x;
                            S += std::fabs(w * x);
                            xmax = std::max(xmax, std::fabs(x));
                            wsum += std::fabs(w);
                        }
                        act += xmax / 254.0 * wsum;
                    }
                    const double tol = 1e-5 * S + (vnni ? act * (1 + 1e-3) : 0.0) + 1e-30;
                    const double got = Y1[size_t(i * rows + r)];
                    QVERIFY2(std::fabs(got - ref) <= tol,
                             qPrintable(QString("%1x%2 n=%3 Y[%4][%5] = %6, reference %7, tolerance %8")
                                            .arg(rows).arg(cols).arg(n).arg(i).arg(r).arg(got, 0, 'g', 9).arg(ref, 0, 'g', 9).arg(tol)));
                }
        }
    }

    // A quantised tiny OLMoE: attention, experts and lm_head become Q8_0 (2 layers x (4 + 8 x 3) + 1 = 57
    // matrices), routers and embeddings keep their BF16 data, the summary says Q8_0 with fewer bytes, a
    // second call converts nothing, and it is deterministic across thread counts.
    void quantised_model() {
        auto sm = SyntheticModel::create("tiny-olmoe", 0, 5);
        QVERIFY2(sm.ok(), sm.message().c_str());
        Model& m = (*sm)->model();
        std::vector<int32_t> ids;
        for (int i = 0; i < 40; ++i) ids.push_back(3 + (i * 37) % 500);
        auto run = [&](int threads) {
            Session s(m, SessionOptions{threads});
            std::vector<float> all;
            s.prefill(ids, &all);
            return all;
        };
        const auto exact = run(1);
        const void* router0 = m.weights().layers[0].moe.router.data;
        const uint64_t bytes0 = m.summary().weight_bytes;
        auto n = m.quantize_q8_0();
        QVERIFY2(n.ok(), n.message().c_str());
        QCOMPARE(*n, 57);
        QCOMPARE(m.weights().layers[0].moe.experts[3].down.dtype, DType::Q8_0);
        QCOMPARE(m.weights().layers[1].attn.o.dtype, DType::Q8_0);
        QCOMPARE(m.weights().lm_head.dtype, DType::Q8_0);
        QCOMPARE(m.weights().layers[0].moe.router.dtype, DType::BF16);
        QCOMPARE(m.weights().layers[0].moe.router.data, router0);
        QCOMPARE(m.weights().embed.dtype, DType::BF16);
        QCOMPARE(m.summary().dtype, std::string("Q8_0"));
        QVERIFY(m.summary().weight_bytes < bytes0 * 0.6);
        QCOMPARE(*m.quantize_q8_0(), 0);
        const auto q1 = run(1), q2 = run(2);
        QVERIFY(q1 == q2);
        QVERIFY(q1 != exact);
    }

    // What Q8_0 costs on a trained model (the demo): over a 64-token prompt, at least 95% of the
    // (token, layer) expert sets are the exact model's (measured 99.2%), and the logits of every position
    // are within a relative L2 error of 3% (measured 0.9%). A routing flip changes a token's output
    // discontinuously, so the per-logit error is not bounded; the router itself is never quantised.
    void demo_quality() {
        auto loaded = Model::load("demo");
        QVERIFY2(loaded.ok(), loaded.message().c_str());
        Model& m = *loaded.value();
        std::vector<int32_t> ids;
        for (int i = 0; i < 64; ++i) ids.push_back(3 + (i * 37 + i * i) % (m.config().vocab_size - 3));
        struct Run {
            std::vector<float> logits;
            RoutingCapture cap{CaptureLevel::Routing};
        };
        auto run = [&](Run& r) {
            Session s(m, SessionOptions{1});
            s.set_observer(&r.cap);
            s.prefill(ids, &r.logits);
        };
        Run exact, q8;
        run(exact);
        QVERIFY(*m.quantize_q8_0() > 0);
        run(q8);
        int same = 0, total = 0;
        for (const auto& [layer, el] : exact.cap.layers()) {
            const auto& ql = q8.cap.layers().at(layer);
            for (size_t t = 0; t < el.experts.size(); ++t) {
                auto a = el.experts[t], b = ql.experts[t];
                std::sort(a.begin(), a.end());
                std::sort(b.begin(), b.end());
                same += a == b;
                ++total;
            }
        }
        double num = 0, den = 0;
        for (size_t i = 0; i < exact.logits.size(); ++i) {
            const double d = double(q8.logits[i]) - exact.logits[i];
            num += d * d;
            den += double(exact.logits[i]) * exact.logits[i];
        }
        const double rel = std::sqrt(num / den);
        qInfo("Q8_0 demo: %d of %d expert sets unchanged, relative L2 logit error %.4f", same, total, rel);
        QCOMPARE(total, 64 * static_cast<int>(m.config().moe_layers.size()));
        QVERIFY2(same >= 0.95 * total, qPrintable(QString("%1 of %2 expert sets unchanged").arg(same).arg(total)));
        QVERIFY2(rel > 0 && rel <= 0.03, qPrintable(QString("relative L2 logit error %1").arg(rel)));
    }
};

QTEST_GUILESS_MAIN(TestQ8_0)
#include "test_q8_0.moc"
