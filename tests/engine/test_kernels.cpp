// CPU kernels: every SIMD path (forced with set_simd_level) against an independent float64 reference,
// on odd sizes and every weight dtype; determinism across thread counts; the opt-in FastBF16 path within
// its stated bound; thread-pool partition properties.
//
// Tolerances are relative to S = sum_c |W[r][c]·x[c]| (the natural scale of float32 rounding in a dot
// product): the exact paths must satisfy |y - y_ref| <= 1e-5·S (float32 summation of up to ~1000
// products in any order stays well below that: the worst case is ~cols·2^-24·S, typical
// sqrt(cols)·2^-24·S); the FastBF16 path rounds each activation to bf16 (relative error <= 2^-9), so
// <= 2^-8·S.
#include <QtTest>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/cpu/thread_pool.h"

using namespace moescope;
using namespace moescope::cpu;

Q_DECLARE_METATYPE(moescope::cpu::SimdLevel)
Q_DECLARE_METATYPE(moescope::DType)

namespace {

struct Shape {
    int64_t rows, cols, n;
};
// Odd sizes on purpose: cols not a multiple of 8/16/32 (tails), rows not a multiple of any tile, n
// around the 6-token tile and the token blocks.
const Shape kShapes[] = {{1, 1, 1},   {1, 7, 2},    {3, 17, 1},   {5, 31, 3},   {4, 32, 6},   {9, 33, 7},
                         {16, 64, 1}, {17, 100, 5}, {37, 129, 13}, {64, 257, 2}, {7, 1000, 1}, {33, 515, 61},
                         {2, 2048, 4},  {1030, 257, 1}, {130, 300, 7},  // these two are big enough to be threaded (kMinParallelMacs)
                         // n >= 16 with even cols: FastBF16 takes the token-lane panel GEMM (partial
                         // token vectors, row tails, several K blocks at 1100 columns)
                         {19, 64, 16}, {13, 1100, 33}, {70, 300, 50}};

// Weights as stored (dtype bits) plus their exact float value. `special` mixes in values that exercise
// the widening: F16 subnormals and large exponents, negative zero.
struct Weights {
    std::vector<uint8_t> bytes;
    std::vector<double> value;
};

Weights make_weights(DType wt, int64_t count, std::mt19937& rng, bool special) {
    std::uniform_real_distribution<float> U(-1.0f, 1.0f);
    Weights w;
    w.bytes.resize(static_cast<size_t>(count) * dtype_size(wt));
    w.value.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
        float f = U(rng);
        if (special) {
            switch (i % 5) {
                case 1: f *= 1e-6f; break;  // F16 subnormal range
                case 2: f *= 3000.0f; break;
                case 3: f = -0.0f; break;
                default: break;
            }
        }
        switch (wt) {
            case DType::F32: std::memcpy(&w.bytes[4 * i], &f, 4); break;
            case DType::BF16: {
                const uint16_t h = f32_to_bf16(f);
                std::memcpy(&w.bytes[2 * i], &h, 2);
                break;
            }
            case DType::F16: {
                const uint16_t h = f32_to_f16(f);
                std::memcpy(&w.bytes[2 * i], &h, 2);
                break;
            }
            case DType::Q8_0: break;  // block format: tests/engine/test_q8_0.cpp
        }
        w.value[static_cast<size_t>(i)] = load_as_f32(wt, w.bytes.data(), static_cast<size_t>(i));
    }
    return w;
}

std::vector<float> make_x(int64_t count, std::mt19937& rng) {
    std::uniform_real_distribution<float> U(-2.0f, 2.0f);
    std::vector<float> x(static_cast<size_t>(count));
    for (auto& v : x) v = U(rng);
    return x;
}

// Checks Y [n][rows] against the float64 reference; returns the largest error in units of S.
double check_product(const Weights& w, const std::vector<float>& X, const std::vector<float>& Y, const Shape& s,
                     double tol, QString* failure) {
    double worst = 0;
    for (int64_t i = 0; i < s.n; ++i)
        for (int64_t r = 0; r < s.rows; ++r) {
            double ref = 0, scale = 0;
            for (int64_t c = 0; c < s.cols; ++c) {
                const double p = w.value[static_cast<size_t>(r * s.cols + c)] * X[static_cast<size_t>(i * s.cols + c)];
                ref += p;
                scale += std::abs(p);
            }
            const double got = Y[static_cast<size_t>(i * s.rows + r)];
            const double err = std::abs(got - ref) / std::max(scale, 1e-30);
            worst = std::max(worst, err);
            if (!(err <= tol) && failure->isEmpty())
                *failure = QString("rows=%1 cols=%2 n=%3: Y[%4][%5] = %6, reference %7, error %8·S > %9·S")
                               .arg(s.rows).arg(s.cols).arg(s.n).arg(i).arg(r).arg(got, 0, 'g', 9)
                               .arg(ref, 0, 'g', 9).arg(err).arg(tol);
        }
    return worst;
}

bool use_level(SimdLevel level) {
    set_simd_level(level);
    return simd_level() == level;
}

}  // namespace

class TestKernels : public QObject {
    Q_OBJECT
private slots:
    void init() { set_matmul_precision(MatmulPrecision::Exact); }
    void cleanupTestCase() {
        set_simd_level(simd_detected());
        set_matmul_precision(MatmulPrecision::Exact);
    }

    void products_data() {
        QTest::addColumn<SimdLevel>("level");
        QTest::addColumn<DType>("wt");
        QTest::addColumn<bool>("special");
        for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::AVX2, SimdLevel::AVX512, SimdLevel::AVX512BF16})
            for (DType t : {DType::F32, DType::F16, DType::BF16})
                for (bool sp : {false, true})
                    QTest::newRow(QString("%1/%2%3").arg(simd_name(l), dtype_name(t), sp ? "/special" : "").toUtf8())
                        << l << t << sp;
    }
    // matvec (n = 1) and matmul on every path vs the float64 reference; 1, 2 and 3 threads must give
    // bit-identical results; a batch must equal the separate products bit for bit.
    void products() {
        QFETCH(SimdLevel, level);
        QFETCH(DType, wt);
        QFETCH(bool, special);
        if (!use_level(level)) QSKIP("this CPU lacks the instruction set");
        ThreadPool p2(2), p3(3);
        std::mt19937 rng(42);
        for (const Shape& s : kShapes) {
            const Weights w = make_weights(wt, s.rows * s.cols, rng, special);
            const std::vector<float> X = make_x(s.n * s.cols, rng);
            std::vector<float> Y1(static_cast<size_t>(s.n * s.rows), -1.0f), Y2 = Y1, Y3 = Y1;
            if (s.n == 1) {
                matvec(wt, w.bytes.data(), s.rows, s.cols, X.data(), Y1.data(), nullptr);
                matvec(wt, w.bytes.data(), s.rows, s.cols, X.data(), Y2.data(), &p2);
                matvec(wt, w.bytes.data(), s.rows, s.cols, X.data(), Y3.data(), &p3);
            } else {
                matmul(wt, w.bytes.data(), s.rows, s.cols, X.data(), s.n, Y1.data(), nullptr);
                matmul(wt, w.bytes.data(), s.rows, s.cols, X.data(), s.n, Y2.data(), &p2);
                matmul(wt, w.bytes.data(), s.rows, s.cols, X.data(), s.n, Y3.data(), &p3);
            }
            QString failure;
            check_product(w, X, Y1, s, 1e-5, &failure);
            QVERIFY2(failure.isEmpty(), qPrintable(failure));
            QVERIFY2(std::memcmp(Y1.data(), Y2.data(), Y1.size() * 4) == 0, "2 threads differ from 1");
            QVERIFY2(std::memcmp(Y1.data(), Y3.data(), Y1.size() * 4) == 0, "3 threads differ from 1");
            // matmul with n = 1 is exactly matvec.
            if (s.n == 1) {
                std::vector<float> Ym(Y1.size());
                matmul(wt, w.bytes.data(), s.rows, s.cols, X.data(), 1, Ym.data(), &p2);
                QVERIFY(std::memcmp(Y1.data(), Ym.data(), Y1.size() * 4) == 0);
            }
        }
    }

    void batch_data() {
        QTest::addColumn<SimdLevel>("level");
        for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::AVX2, SimdLevel::AVX512, SimdLevel::AVX512BF16})
            QTest::newRow(simd_name(l)) << l;
    }
    // Mixed tasks (dtypes, n, shared activations as for gate_proj/up_proj) in one dispatch equal the
    // separate calls bit for bit, for 1..4 threads.
    void batch() {
        QFETCH(SimdLevel, level);
        if (!use_level(level)) QSKIP("this CPU lacks the instruction set");
        std::mt19937 rng(7);
        struct Spec {
            DType wt;
            int64_t rows, cols, n;
            int x_from;  // share the activations of an earlier task (-1: own)
        };
        const Spec specs[] = {{DType::BF16, 400, 96, 1, -1}, {DType::BF16, 400, 96, 1, 0}, {DType::F32, 70, 33, 3, -1},
                              {DType::F16, 1000, 150, 1, -1}, {DType::BF16, 190, 70, 9, -1}, {DType::BF16, 5, 70, 9, 4}};
        int64_t macs = 0;
        for (const Spec& sp : specs) macs += sp.rows * sp.cols * sp.n;
        QVERIFY2(macs >= kMinParallelMacs, "the batch must be big enough to be split over the threads");
        std::vector<Weights> ws;
        std::vector<std::vector<float>> xs, ys_ref, ys;
        std::vector<MatTask> tasks;
        for (const Spec& sp : specs) {
            ws.push_back(make_weights(sp.wt, sp.rows * sp.cols, rng, false));
            xs.push_back(make_x(sp.n * sp.cols, rng));
            ys_ref.emplace_back(static_cast<size_t>(sp.n * sp.rows));
            ys.emplace_back(static_cast<size_t>(sp.n * sp.rows));
        }
        for (size_t k = 0; k < std::size(specs); ++k) {
            const Spec& sp = specs[k];
            const float* X = xs[sp.x_from >= 0 ? static_cast<size_t>(sp.x_from) : k].data();
            matmul(sp.wt, ws[k].bytes.data(), sp.rows, sp.cols, X, sp.n, ys_ref[k].data(), nullptr);
            tasks.push_back(MatTask{sp.wt, ws[k].bytes.data(), sp.rows, sp.cols, X, sp.n, ys[k].data()});
        }
        for (int threads = 1; threads <= 4; ++threads) {
            ThreadPool pool(threads);
            for (auto& y : ys) std::fill(y.begin(), y.end(), -7.0f);
            matmul_batch(tasks.data(), static_cast<int>(tasks.size()), &pool);
            for (size_t k = 0; k < ys.size(); ++k)
                QVERIFY2(std::memcmp(ys[k].data(), ys_ref[k].data(), ys[k].size() * 4) == 0,
                         qPrintable(QString("task %1 with %2 threads").arg(k).arg(threads)));
        }
        matmul_batch(nullptr, 0, nullptr);  // empty batch is a no-op
    }

    // The opt-in FastBF16 precision: within 2^-8·S, actually engaged (differs from Exact somewhere),
    // deterministic across threads, and never applied to matvec or non-BF16 weights.
    void fast_bf16() {
        if (!use_level(SimdLevel::AVX512BF16)) QSKIP("this CPU lacks AVX512-BF16");
        std::mt19937 rng(3);
        ThreadPool p2(2);
        for (const Shape& s : kShapes) {
            const Weights w = make_weights(DType::BF16, s.rows * s.cols, rng, false);
            const std::vector<float> X = make_x(s.n * s.cols, rng);
            std::vector<float> exact(static_cast<size_t>(s.n * s.rows)), fast = exact, fast2 = exact;
            set_matmul_precision(MatmulPrecision::Exact);
            matmul(DType::BF16, w.bytes.data(), s.rows, s.cols, X.data(), s.n, exact.data(), nullptr);
            set_matmul_precision(MatmulPrecision::FastBF16);
            matmul(DType::BF16, w.bytes.data(), s.rows, s.cols, X.data(), s.n, fast.data(), nullptr);
            matmul(DType::BF16, w.bytes.data(), s.rows, s.cols, X.data(), s.n, fast2.data(), &p2);
            QString failure;
            check_product(w, X, fast, s, std::ldexp(1.0, -8), &failure);
            QVERIFY2(failure.isEmpty(), qPrintable(failure));
            QVERIFY(std::memcmp(fast.data(), fast2.data(), fast.size() * 4) == 0);
            const bool differs = std::memcmp(fast.data(), exact.data(), fast.size() * 4) != 0;
            if (s.n == 1) QVERIFY2(!differs, "FastBF16 must not change matvec");
            else if (s.cols >= 100) QVERIFY2(differs, "FastBF16 was not engaged");
        }
        // F32 weights are unaffected by the fast mode.
        const Shape s{9, 77, 5};
        const Weights w = make_weights(DType::F32, s.rows * s.cols, rng, false);
        const std::vector<float> X = make_x(s.n * s.cols, rng);
        std::vector<float> a(static_cast<size_t>(s.n * s.rows)), b = a;
        set_matmul_precision(MatmulPrecision::FastBF16);
        matmul(DType::F32, w.bytes.data(), s.rows, s.cols, X.data(), s.n, a.data(), nullptr);
        set_matmul_precision(MatmulPrecision::Exact);
        matmul(DType::F32, w.bytes.data(), s.rows, s.cols, X.data(), s.n, b.data(), nullptr);
        QVERIFY(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
    }

    void vector_ops_data() { batch_data(); }
    void vector_ops() {
        QFETCH(SimdLevel, level);
        if (!use_level(level)) QSKIP("this CPU lacks the instruction set");
        std::mt19937 rng(11);
        for (int64_t n : {0, 1, 5, 8, 15, 16, 17, 31, 33, 128, 1001}) {
            const std::vector<float> a = make_x(n, rng), b = make_x(n, rng);
            double ref = 0, scale = 0;
            for (int64_t i = 0; i < n; ++i) {
                ref += double(a[i]) * b[i];
                scale += std::abs(double(a[i]) * b[i]);
            }
            QVERIFY(std::abs(dot_f32(a.data(), b.data(), n) - ref) <= 1e-5 * scale + 1e-30);
            std::vector<float> y = b;
            axpy_f32(n, 0.75f, a.data(), y.data());
            for (int64_t i = 0; i < n; ++i) {
                const double want = double(b[i]) + 0.75 * a[i];
                QVERIFY(std::abs(y[i] - want) <= 2e-7 * (std::abs(b[i]) + std::abs(0.75 * a[i])));
            }
        }
    }

    // A matvec row's value does not depend on its neighbours: short rows are reduced four at a time
    // (kernels_avx512.cpp mv4_rows_eo), and must give the bits of the same row computed alone.
    void rows_alone_equal_rows_together_data() {
        QTest::addColumn<SimdLevel>("level");
        for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::AVX2, SimdLevel::AVX512, SimdLevel::AVX512BF16})
            QTest::newRow(simd_name(l)) << l;
    }
    void rows_alone_equal_rows_together() {
        QFETCH(SimdLevel, level);
        if (!use_level(level)) QSKIP("this CPU lacks the instruction set");
        std::mt19937 rng(17);
        for (int64_t cols : {1, 31, 32, 100, 128, 160, 512, 513, 1024}) {
            const int64_t rows = 11;
            const Weights w = make_weights(DType::BF16, rows * cols, rng, false);
            const auto x = make_x(cols, rng);
            std::vector<float> together(static_cast<size_t>(rows)), alone(static_cast<size_t>(rows));
            matvec(DType::BF16, w.bytes.data(), rows, cols, x.data(), together.data(), nullptr);
            for (int64_t r = 0; r < rows; ++r)
                matvec(DType::BF16, w.bytes.data() + r * cols * 2, 1, cols, x.data(), &alone[static_cast<size_t>(r)], nullptr);
            QVERIFY2(std::memcmp(together.data(), alone.data(), together.size() * 4) == 0,
                     qPrintable(QString("cols=%1: a row's value depends on its neighbours").arg(cols)));
        }
    }

    void simd_names() {
        QCOMPARE(QString(simd_name(SimdLevel::Scalar)), QString("scalar"));
        QCOMPARE(QString(simd_name(SimdLevel::AVX512BF16)), QString("avx512bf16"));
        set_simd_level(SimdLevel::AVX512BF16);  // clamps to what the CPU has
        QVERIFY(simd_level() <= simd_detected());
    }

    void chunks_data() {
        QTest::addColumn<int>("threads");
        QTest::addColumn<qint64>("grain");
        for (int T : {1, 2, 3, 5, 8})
            for (qint64 g : {1, 4, 16}) QTest::newRow(QString("T%1 g%2").arg(T).arg(g).toUtf8()) << T << g;
    }
    // chunk_range: chunks are contiguous, cover [0, n) exactly once in thread order, start on a grain
    // boundary, and hold block counts that differ by at most one.
    void chunks() {
        QFETCH(int, threads);
        QFETCH(qint64, grain);
        for (int64_t n : {0, 1, 2, 3, 15, 16, 17, 100, 1023}) {
            int64_t expect_begin = 0, min_blocks = INT64_MAX, max_blocks = 0;
            for (int t = 0; t < threads; ++t) {
                int64_t b, e;
                chunk_range(n, t, threads, grain, b, e);
                QCOMPARE(b, expect_begin);
                QVERIFY(e >= b);
                QVERIFY(b % grain == 0 || b == n);  // an empty chunk sits at n
                const int64_t blocks = (e - b + grain - 1) / grain;
                min_blocks = std::min(min_blocks, blocks);
                max_blocks = std::max(max_blocks, blocks);
                expect_begin = e;
            }
            QCOMPARE(expect_begin, n);
            QVERIFY(max_blocks - min_blocks <= 1);
        }
    }

    void pool_data() {
        QTest::addColumn<int>("threads");
        QTest::addColumn<int>("spin_us");
        for (int T : {1, 2, 3, 4})
            for (int spin : {0, 200}) QTest::newRow(QString("T%1 spin%2").arg(T).arg(spin).toUtf8()) << T << spin;
    }
    // parallel_for visits every index exactly once, in chunks that are exactly chunk_range's (whichever
    // thread runs them), with valid thread indices, and keeps doing so over many back-to-back calls
    // (the spin/sleep hand-off); for_each_chunk runs every chunk exactly once.
    void pool() {
        QFETCH(int, threads);
        QFETCH(int, spin_us);
        ThreadPool pool(threads);
        pool.set_spin_us(spin_us);
        QCOMPARE(pool.size(), threads);
        for (int round = 0; round < 300; ++round) {
            const int64_t n = 1 + (round * 37) % 500;
            const int64_t grain = 1 + round % 7;
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            std::atomic<bool> wrong_chunk{false}, bad_thread{false};
            pool.parallel_for(
                n,
                [&](int64_t b, int64_t e, int t) {
                    if (t < 0 || t >= threads) bad_thread = true;
                    bool matches = n <= grain || threads == 1;  // run whole on the caller
                    for (int c = 0; c < threads && !matches; ++c) {
                        int64_t eb, ee;
                        chunk_range(n, c, threads, grain, eb, ee);
                        matches = eb == b && ee == e;
                    }
                    if (!matches) wrong_chunk = true;
                    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
                },
                grain);
            QVERIFY(!wrong_chunk);
            QVERIFY(!bad_thread);
            for (int64_t i = 0; i < n; ++i) QCOMPARE(hits[static_cast<size_t>(i)].load(), 1);

            const int64_t chunks = (round * 13) % 200;
            std::vector<std::atomic<int>> chits(static_cast<size_t>(chunks));
            pool.for_each_chunk(chunks, [&](int64_t c, int t) {
                if (t < 0 || t >= threads) bad_thread = true;
                chits[static_cast<size_t>(c)].fetch_add(1);
            });
            QVERIFY(!bad_thread);
            for (int64_t c = 0; c < chunks; ++c) QCOMPARE(chits[static_cast<size_t>(c)].load(), 1);
        }
        bool called = false;
        pool.parallel_for(0, [&](int64_t, int64_t, int) { called = true; });
        pool.for_each_chunk(0, [&](int64_t, int) { called = true; });
        QVERIFY(!called);
    }

    // A per-thread scratch slot is never used by two threads at once (thread indices are unique among
    // running calls), even when chunks migrate between threads.
    void pool_thread_index_unique() {
        ThreadPool pool(3);
        std::vector<std::atomic<int>> busy(3);
        std::atomic<bool> clash{false};
        for (int round = 0; round < 200; ++round)
            pool.for_each_chunk(64, [&](int64_t, int t) {
                if (busy[static_cast<size_t>(t)].fetch_add(1) != 0) clash = true;
                volatile double x = 0;
                for (int i = 0; i < 200; ++i) x = x + i;
                busy[static_cast<size_t>(t)].fetch_sub(1);
            });
        QVERIFY(!clash);
    }

    // The bandwidth probe returns consistent, positive figures (values are machine-dependent).
    void bandwidth_probe() {
        ThreadPool pool(2);
        const BandwidthSample s = measure_read_bandwidth(&pool, 8u << 20, 3);
        QCOMPARE(s.repeats, 3);
        QCOMPARE(s.threads, 2);
        QVERIFY(s.bytes >= (4u << 20) && s.bytes <= (8u << 20));
        QVERIFY(s.gbps_min > 0 && s.gbps_min <= s.gbps_median && s.gbps_median <= s.gbps_max);
        QVERIFY(std::isfinite(s.gbps_max));
    }
};

QTEST_GUILESS_MAIN(TestKernels)
#include "test_kernels.moc"
