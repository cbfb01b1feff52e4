// CUDA backend against the CPU oracle and the golden files (label `gpu`). Without a GPU (or in a
// CPU-only build) every test QSKIPs with the reason. Tolerances (docs/cuda.md):
//  - kernels in FP32: max |diff| <= 1e-5 * (1 + |ref|) (GEMMs: 1e-4 relative to the row scale);
//    cuBLAS BF16 GEMM: against the CPU product of BF16-rounded activations, 2e-3 relative;
//  - golden files at FP32 compute: the golden README tolerances (tokens and expert sets exact,
//    logits <= 1e-4, router logits and weights <= 1e-5), through the same Session API as the CPU;
//  - BF16 compute: >= 99% of (layer, token) expert sets identical to the golden ones;
//  - interventions, live changes and forks: identical greedy tokens to the CPU backend.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/ops_math.h"
#include "engine/device.h"
#include "engine/model/model.h"
#include "engine/routing_capture.h"
#include "engine/sampling.h"
#include "engine/session.h"
#include "moescope/build_info.h"
#include "tests/support/fixture_model.h"
#include "tests/support/golden.h"
#include "tests/support/testsupport.h"

#if MOESCOPE_HAVE_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/attention.cuh"
#include "engine/cuda/common.cuh"
#include "engine/cuda/gemm.cuh"
#include "engine/cuda/moe.cuh"
#include "engine/cuda/rmsnorm.cuh"
#include "engine/cuda/rope.cuh"
#include "engine/cuda/router.cuh"
#include "engine/cuda/swiglu.cuh"
#include "engine/cuda/taps.cuh"
#endif

using namespace moescope;

namespace {

// Every event, for CPU-vs-GPU comparisons at CaptureLevel::Activations.
struct FullCapture : RoutingObserver {
    struct R {
        int layer;
        int64_t pos;
        std::vector<float> logits, w, norm, dmax;
        std::vector<int32_t> ids, ch;
        float gate;
    };
    struct S {
        int layer;
        int64_t pos;
        float hmax, hnorm, sink;
        int32_t hch;
        std::vector<float> sinks;
    };
    std::vector<R> routing;
    std::vector<S> stats;
    std::vector<StepEvent> steps;
    CaptureLevel capture_level() const override { return CaptureLevel::Activations; }
    void on_routing(const RoutingEvent& e) override {
        routing.push_back({e.layer, e.position, {e.router_logits.begin(), e.router_logits.end()},
                           {e.weights.begin(), e.weights.end()}, {e.expert_out_norm.begin(), e.expert_out_norm.end()},
                           {e.down_proj_max.begin(), e.down_proj_max.end()}, {e.experts.begin(), e.experts.end()},
                           {e.down_proj_channel.begin(), e.down_proj_channel.end()}, e.shared_gate});
    }
    void on_layer_stats(const LayerStatsEvent& e) override {
        stats.push_back({e.layer, e.position, e.hidden_max_abs, e.hidden_norm, e.sink_mass, e.hidden_max_channel,
                         {e.sink_mass_per_head.begin(), e.sink_mass_per_head.end()}});
    }
    void on_step_end(const StepEvent& e) override { steps.push_back(e); }
};

bool close(double a, double b, double rel) { return std::abs(a - b) <= rel * (1.0 + std::abs(b)); }

std::set<int32_t> as_set(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }

std::unique_ptr<Model> load_golden(const QString& arch) {
    auto m = Model::load(test::testdataPath("golden/" + arch).toStdString());
    if (!m) throw Error(m.message());
    return std::move(m.value());
}

std::shared_ptr<gpu::CudaModel> load_gpu(const Model& m, gpu::Precision p) {
    gpu::CudaOptions o;
    o.precision = p;
    auto r = gpu::CudaModel::load(m.config(), m.weights(), o, 512);
    if (!r) throw Error(r.message());
    return r.value();
}


#if MOESCOPE_HAVE_CUDA
template <class T>
struct Dev {
    gpu::DeviceBuffer b;
    explicit Dev(const std::vector<T>& h) : b(std::max<size_t>(h.size(), 1) * sizeof(T), "test") {
        if (!h.empty()) CUDA_CHECK(cudaMemcpy(b.get(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    }
    explicit Dev(size_t n) : b(std::max<size_t>(n, 1) * sizeof(T), "test") {}
    T* p() { return b.as<T>(); }
    std::vector<T> get(size_t n) {
        std::vector<T> h(n);
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaMemcpy(h.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
        return h;
    }
};

std::vector<float> randv(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    return v;
}
std::vector<uint16_t> randbf(size_t n, uint32_t seed, float scale = 0.1f) {
    auto f = randv(n, seed, scale);
    std::vector<uint16_t> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = cudamath::f32_to_bf16(f[i]);
    return b;
}
// Y[n][rows] = X · Wᵀ in double on the CPU.
std::vector<double> ref_linear(const std::vector<uint16_t>& W, int64_t rows, int64_t cols, const std::vector<float>& X,
                               int64_t n) {
    std::vector<double> Y(size_t(n * rows));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t r = 0; r < rows; ++r) {
            double a = 0;
            for (int64_t c = 0; c < cols; ++c) a += double(cudamath::bf16_to_f32(W[r * cols + c])) * X[i * cols + c];
            Y[i * rows + r] = a;
        }
    return Y;
}
#endif

}  // namespace

class TestCudaBackendGpu : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        if (!cuda_compiled()) QSKIP("CUDA backend not compiled in (CPU-only build): GPU tests skipped");
        if (cuda_device_count() == 0)
            QSKIP(qPrintable("no CUDA GPU present (" + QString::fromStdString(cuda_device_description()) +
                             "): GPU tests skipped"));
    }

#if MOESCOPE_HAVE_CUDA
    // ---------------- kernels against CPU references ----------------
    void kernel_rmsnorm_per_head() {
        const int T = 5, groups = 3, width = 32, stride = 128;
        auto x = randv(size_t(T) * stride, 1), w = randv(width, 2);
        Dev<float> dx(x), dw(w);
        gpu::rmsnorm(dx.p(), stride, dx.p(), stride, T, groups, width, dw.p(), 1e-6f, nullptr);
        auto y = dx.get(x.size());
        for (int t = 0; t < T; ++t)
            for (int g = 0; g < groups; ++g) {
                const float* xr = x.data() + t * stride + g * width;
                double ss = 0;
                for (int i = 0; i < width; ++i) ss += double(xr[i]) * xr[i];
                const double inv = 1.0 / std::sqrt(ss / width + 1e-6);
                for (int i = 0; i < width; ++i) QVERIFY(close(y[t * stride + g * width + i], w[i] * xr[i] * inv, 1e-5));
            }
        // Columns outside the groups are untouched.
        QCOMPARE(y[stride - 1], x[stride - 1]);
    }

    void kernel_rope_data() {
        QTest::addColumn<bool>("interleaved");
        QTest::newRow("half") << false;
        QTest::newRow("interleaved") << true;
    }
    void kernel_rope() {
        QFETCH(bool, interleaved);
        const int T = 4, nh = 3, hd = 24, off = 8, rd = 16;
        const int64_t pos0 = 37;
        auto x = randv(size_t(T) * nh * hd, 3);
        Dev<float> dx(x);
        gpu::rope(dx.p(), T, nh, int64_t(nh) * hd, hd, off, rd, pos0, 10000.0f, interleaved, nullptr);
        auto y = dx.get(x.size());
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < nh; ++h) {
                std::vector<float> v(x.begin() + (t * nh + h) * hd + off, x.begin() + (t * nh + h) * hd + off + rd);
                for (int i = 0; i < rd / 2; ++i) {
                    int a, b;
                    cudamath::rope_pair(i, rd, interleaved, &a, &b);
                    const double ang = double(pos0 + t) / std::pow(10000.0, 2.0 * i / rd);
                    const double ya = v[a] * std::cos(ang) - v[b] * std::sin(ang);
                    const double yb = v[b] * std::cos(ang) + v[a] * std::sin(ang);
                    QVERIFY(close(y[(t * nh + h) * hd + off + a], ya, 1e-4));
                    QVERIFY(close(y[(t * nh + h) * hd + off + b], yb, 1e-4));
                }
                for (int i = 0; i < off; ++i) QCOMPARE(y[(t * nh + h) * hd + i], x[(t * nh + h) * hd + i]);
            }
    }

    void kernel_swiglu() {
        const int rows = 7, I = 33;
        auto gu = randv(size_t(rows) * 2 * I, 4, 3.0f);
        Dev<float> dg(gu), dh(size_t(rows) * I);
        gpu::swiglu(dg.p(), dh.p(), rows, I, nullptr);
        auto h = dh.get(size_t(rows) * I);
        for (int r = 0; r < rows; ++r)
            for (int i = 0; i < I; ++i) {
                const double g = gu[r * 2 * I + i], u = gu[r * 2 * I + I + i];
                QVERIFY(close(h[r * I + i], g / (1 + std::exp(-g)) * u, 1e-5));
            }
    }

    void kernel_attention_data() {
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("pos0");
        QTest::addColumn<int>("nh");
        QTest::addColumn<int>("nkv");
        QTest::addColumn<int>("dk");
        QTest::addColumn<int>("dv");
        QTest::newRow("prefill GQA") << 9 << 0 << 4 << 2 << 32 << 32;
        QTest::newRow("decode GQA long") << 1 << 700 << 8 << 2 << 64 << 64;
        QTest::newRow("MLA dims (dk 24, dv 16)") << 3 << 5 << 4 << 4 << 24 << 16;
        QTest::newRow("dv 256") << 2 << 3 << 2 << 1 << 256 << 256;
    }
    void kernel_attention() {
        QFETCH(int, T);
        QFETCH(int, pos0);
        QFETCH(int, nh);
        QFETCH(int, nkv);
        QFETCH(int, dk);
        QFETCH(int, dv);
        const int n = pos0 + T;
        auto q = randv(size_t(T) * nh * dk, 5), k = randv(size_t(n) * nkv * dk, 6), v = randv(size_t(n) * nkv * dv, 7);
        const float scale = 1.0f / std::sqrt(float(dk));
        Dev<float> dq(q), dkc(k), dvc(v), dout(size_t(T) * nh * dv), dsink(size_t(T) * nh);
        gpu::attention(dq.p(), int64_t(nh) * dk, dkc.p(), dvc.p(), dout.p(), int64_t(nh) * dv, T, pos0, nh, nkv, dk, dv,
                       scale, dsink.p(), nullptr);
        auto out = dout.get(size_t(T) * nh * dv);
        auto sink = dsink.get(size_t(T) * nh);
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < nh; ++h) {
                const int kvh = h / (nh / nkv);
                std::vector<double> s(pos0 + t + 1);
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= pos0 + t; ++j) {
                    double d = 0;
                    for (int i = 0; i < dk; ++i) d += double(q[(t * nh + h) * dk + i]) * k[(j * nkv + kvh) * dk + i];
                    s[j] = d * scale;
                    mx = std::max(mx, s[j]);
                }
                for (auto& x : s) sum += (x = std::exp(x - mx));
                for (int c = 0; c < dv; ++c) {
                    double o = 0;
                    for (int j = 0; j <= pos0 + t; ++j) o += s[j] / sum * v[(j * nkv + kvh) * dv + c];
                    QVERIFY2(close(out[(t * nh + h) * dv + c], o, 1e-4), qPrintable(QString("t%1 h%2 c%3").arg(t).arg(h).arg(c)));
                }
                QVERIFY(close(sink[t * nh + h], s[0] / sum, 1e-5));
            }
    }

    void kernel_router_matches_host() {
        // Device routing (one thread per token) equals the host route_token on random logits, with
        // every intervention kind active.
        const int T = 64, E = 16, k = 3;
        auto z = randv(size_t(T) * E, 8, 2.0f);
        std::vector<float> eb(E);
        for (int e = 0; e < E; ++e) eb[e] = 0.01f * e;
        std::vector<uint8_t> dis(E, 0);
        dis[3] = dis[9] = 1;
        std::vector<float> lb(E, 0.0f);
        lb[5] = 1.5f;
        std::vector<int32_t> forced{11};
        for (int scoring : {0, 1}) {
            cudamath::RouteParams p;
            p.n_experts = E;
            p.k = k;
            p.scoring = scoring;
            p.norm_topk = 1;
            p.n_group = scoring ? 4 : 1;
            p.topk_group = scoring ? 2 : 1;
            p.weight_mode = scoring ? cudamath::kWeightsDeepseekV3 : cudamath::kWeightsPlain;
            p.scale = scoring ? 2.5f : 1.0f;
            Dev<float> dz(z), deb(eb), dlb(lb);
            Dev<uint8_t> ddis(dis);
            Dev<int32_t> dforced(forced), dids(size_t(T) * k);
            Dev<float> dw(size_t(T) * k);
            gpu::RouterEditsDevice ed{ddis.p(), dlb.p(), dforced.p(), 1};
            gpu::route(dz.p(), scoring ? deb.p() : nullptr, p, ed, dids.p(), dw.p(), T, nullptr);
            auto ids = dids.get(size_t(T) * k);
            auto w = dw.get(size_t(T) * k);
            cudamath::RouteEdits he{dis.data(), lb.data(), forced.data(), 1};
            for (int t = 0; t < T; ++t) {
                std::vector<float> sc(E), ch(E), hw(k);
                std::vector<int32_t> hid(k, -1);
                const int n = cudamath::route_token(p, z.data() + t * E, scoring ? eb.data() : nullptr, he, sc.data(),
                                                    ch.data(), hid.data(), hw.data());
                for (int i = 0; i < k; ++i) {
                    QCOMPARE(ids[t * k + i], i < n ? hid[i] : -1);
                    if (i < n) QVERIFY(close(w[t * k + i], hw[i], 1e-6));
                }
            }
        }
    }

    void kernel_gemm_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::newRow("gemv n1") << 1 << 97 << 256;
        QTest::newRow("gemv n8 odd cols") << 8 << 64 << 77;
        QTest::newRow("gemm 45x70x130") << 45 << 70 << 130;
    }
    void kernel_gemm() {
        QFETCH(int, n);
        QFETCH(int, rows);
        QFETCH(int, cols);
        auto W = randbf(size_t(rows) * cols, 9);
        auto X = randv(size_t(n) * cols, 10);
        const auto ref = ref_linear(W, rows, cols, X, n);
        Dev<uint16_t> dW(W);
        Dev<float> dX(X), dY(size_t(n) * rows);
        if (n <= 8) gpu::gemv_bf16(dW.p(), rows, cols, dX.p(), n, dY.p(), nullptr);
        else gpu::gemm_bf16w_f32(dW.p(), rows, cols, dX.p(), n, dY.p(), nullptr);
        auto Y = dY.get(size_t(n) * rows);
        for (size_t i = 0; i < Y.size(); ++i) QVERIFY2(close(Y[i], ref[i], 1e-4), qPrintable(QString::number(i)));
        // cuBLAS BF16: against the CPU product of BF16-rounded activations.
        std::vector<uint16_t> Xb(X.size());
        std::vector<float> Xr(X.size());
        for (size_t i = 0; i < X.size(); ++i) Xr[i] = cudamath::bf16_to_f32(Xb[i] = cudamath::f32_to_bf16(X[i]));
        const auto refb = ref_linear(W, rows, cols, Xr, n);
        cublasHandle_t h;
        QCOMPARE(int(cublasCreate(&h)), int(CUBLAS_STATUS_SUCCESS));
        Dev<uint16_t> dXb(Xb);
        gpu::gemm_cublas_bf16(h, dW.p(), rows, cols, dXb.p(), n, dY.p());
        auto Yb = dY.get(size_t(n) * rows);
        cublasDestroy(h);
        for (size_t i = 0; i < Yb.size(); ++i) QVERIFY(close(Yb[i], refb[i], 2e-3));
    }

    void kernel_moe_grouped_equals_gemv_and_reference() {
        // 40 tokens x k=2 = 80 n_slots over 6 experts (one expert unused, one slot unused): grouped
        // path (bucket + gather + grouped GEMM) and ids-GEMV both equal the per-slot CPU product.
        const int T = 40, k = 2, E = 6, H = 48, N = 40;
        std::vector<int32_t> ids(size_t(T) * k);
        std::mt19937 rng(11);
        for (auto& e : ids) e = int32_t(rng() % (E - 1));  // expert 5 never used
        ids[7] = -1;
        auto W = randbf(size_t(E) * N * H, 12);
        auto X = randv(size_t(T) * H, 13);
        Dev<int32_t> dids(ids);
        Dev<uint16_t> dW(W);
        Dev<float> dX(X);
        const int64_t n_slots = int64_t(T) * k, max_rows = gpu::moe_max_rows(n_slots, E),
                      max_tiles = gpu::moe_max_tiles(n_slots, E);
        Dev<int32_t> counts(E), cursor(E), offsets(E + 1), tiles(max_tiles), sorted(max_rows), slot_row(n_slots);
        gpu::MoeBuckets b{counts.p(), cursor.p(), offsets.p(), tiles.p(), sorted.p(), slot_row.p()};
        gpu::moe_bucket(dids.p(), n_slots, E, b, nullptr);
        Dev<float> xs(size_t(max_rows) * H), ys(size_t(max_rows) * N), yg(size_t(n_slots) * N);
        gpu::moe_gather(dX.p(), k, sorted.p(), max_rows, H, xs.p(), nullptr);
        gpu::moe_grouped_gemm_f32(dW.p(), int64_t(N) * H, N, H, xs.p(), tiles.p(), max_tiles, ys.p(), nullptr);
        gpu::moe_gemv_ids(dW.p(), int64_t(N) * H, N, H, dX.p(), k, dids.p(), n_slots, yg.p(), nullptr);
        auto Ys = ys.get(size_t(max_rows) * N);
        auto Yg = yg.get(size_t(n_slots) * N);
        auto rowmap = slot_row.get(size_t(n_slots));
        auto cnt = counts.get(E);
        QCOMPARE(cnt[5], 0);
        for (int64_t s = 0; s < n_slots; ++s) {
            if (ids[s] < 0) {
                QCOMPARE(rowmap[s], -1);
                continue;
            }
            std::vector<uint16_t> We(W.begin() + size_t(ids[s]) * N * H, W.begin() + size_t(ids[s] + 1) * N * H);
            std::vector<float> xr(X.begin() + (s / k) * H, X.begin() + (s / k + 1) * H);
            const auto ref = ref_linear(We, N, H, xr, 1);
            for (int r = 0; r < N; ++r) {
                QVERIFY(close(Ys[size_t(rowmap[s]) * N + r], ref[r], 1e-4));
                QVERIFY(close(Yg[size_t(s) * N + r], ref[r], 1e-4));
            }
        }
        // Combine: out[t] = sum_j w * Y[row].
        std::vector<float> w(static_cast<size_t>(n_slots));
        for (auto& x : w) x = float(rng() % 100) / 100.0f;
        Dev<float> dw(w), out(size_t(T) * N);
        gpu::moe_combine(ys.p(), slot_row.p(), dids.p(), dw.p(), T, k, N, out.p(), nullptr);
        auto o = out.get(size_t(T) * N);
        for (int t = 0; t < T; ++t)
            for (int r = 0; r < N; ++r) {
                double ref = 0;
                for (int j = 0; j < k; ++j)
                    if (ids[t * k + j] >= 0) ref += w[t * k + j] * Yg[size_t(t * k + j) * N + r];
                QVERIFY(close(o[t * N + r], ref, 1e-5));
            }
    }

    void kernel_row_stats() {
        const int rows = 5, width = 300;
        auto x = randv(size_t(rows) * width, 14);
        x[2 * width + 17] = -50.0f;  // planted max, negative
        x[4 * width + 3] = 9.0f;
        x[4 * width + 200] = -9.0f;  // tie: lowest channel wins
        Dev<float> dx(x), mx(rows), nr(rows);
        Dev<int32_t> ch(rows);
        gpu::row_stats(dx.p(), width, nullptr, rows, mx.p(), ch.p(), nr.p(), nullptr);
        auto m = mx.get(rows);
        auto c = ch.get(rows);
        auto n = nr.get(rows);
        QCOMPARE(m[2], 50.0f);
        QCOMPARE(c[2], 17);
        QCOMPARE(c[4], 3);
        for (int r = 0; r < rows; ++r) {
            double ss = 0;
            for (int i = 0; i < width; ++i) ss += double(x[r * width + i]) * x[r * width + i];
            QVERIFY(close(n[r], std::sqrt(ss), 1e-5));
        }
    }
#endif

    // ---------------- whole model ----------------
    void golden_fp32_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("setting");
        for (const char* arch : {"mixtral", "qwen3_moe"})
            for (const char* s : {"baseline", "disable", "force", "topk1"})
                QTest::newRow(qPrintable(QString("%1/%2").arg(arch, s))) << QString(arch) << QString(s);
    }
    void golden_fp32() {
        QFETCH(QString, arch);
        QFETCH(QString, setting);
        test::GoldenCase g;
        QString err;
        QVERIFY2(test::loadGolden(arch, setting, g, err), qPrintable(err));
        auto model = load_golden(arch);
        SessionDevice o;
        o.cuda = load_gpu(*model, gpu::Precision::FP32);
        o.max_context = 64;
        Session s(*model, SessionOptions{2}, o);
        QVERIFY(s.set_interventions(g.interventions()).ok());
        const auto ids = g.expected["input_ids"].get<std::vector<int32_t>>();
        auto got = moescope::test::runGoldenSession(s, ids, g.expected["n_new_tokens"].get<int>());
        const QString diff = test::compareWithGolden(got, g.result, setting == "baseline");
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }

    void golden_bf16_selection() {
        int same = 0, total = 0;
        for (const char* arch : {"mixtral", "qwen3_moe"}) {
            for (const char* setting : {"baseline", "disable", "force", "topk1"}) {
                test::GoldenCase g;
                QString err;
                QVERIFY2(test::loadGolden(arch, setting, g, err), qPrintable(err));
                auto model = load_golden(arch);
                SessionDevice o;
                o.cuda = load_gpu(*model, gpu::Precision::BF16);
                o.max_context = 64;
                Session s(*model, SessionOptions{2}, o);
                QVERIFY(s.set_interventions(g.interventions()).ok());
                const auto ids = g.expected["input_ids"].get<std::vector<int32_t>>();
                auto got = moescope::test::runGoldenSession(s, ids, 1);
                for (size_t li = 0; li < got["routing"].size(); ++li)
                    for (size_t t = 0; t < ids.size(); ++t) {
                        ++total;
                        same += as_set(got["routing"][li]["experts"][t].get<std::vector<int32_t>>()) ==
                                as_set(g.result["routing"][li]["experts"][t].get<std::vector<int32_t>>());
                    }
            }
        }
        qInfo("BF16 compute: %d of %d expert sets identical to the golden files", same, total);
        QVERIFY(total > 0);
        QVERIFY2(same >= 0.99 * total, qPrintable(QString("%1 of %2 identical").arg(same).arg(total)));
    }

    // Live intervention changes between tokens and forks give the CPU backend's tokens; every tap
    // (Activations level) agrees with the CPU's.
    void interventions_branches_and_taps_match_cpu_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("mixtral") << "mixtral";
        QTest::newRow("qwen3_moe") << "qwen3_moe";
    }
    void interventions_branches_and_taps_match_cpu() {
        QFETCH(QString, arch);
        auto model = load_golden(arch);
        const std::vector<int32_t> prompt{1, 17, 42, 99, 7, 128, 200, 3, 64, 255, 12, 88};
        auto run = [&](Session& s, FullCapture& cap) {
            std::vector<int32_t> toks;
            s.set_observer(&cap);
            auto logits = s.prefill(prompt);
            for (int i = 0; i < 4; ++i) logits = s.step(toks.emplace_back(Sampler::argmax(logits)));
            Interventions iv;
            iv.disable.push_back({1, 3});
            iv.force.push_back({2, 6});
            if (!s.set_interventions(iv).ok()) throw Error("interventions rejected");
            for (int i = 0; i < 4; ++i) logits = s.step(toks.emplace_back(Sampler::argmax(logits)));
            auto branch = s.fork();
            Interventions iv2;
            iv2.top_k = 1;
            if (!branch->set_interventions(iv2).ok()) throw Error("interventions rejected");
            auto bl = branch->step(Sampler::argmax(logits));
            for (int i = 0; i < 3; ++i) bl = branch->step(toks.emplace_back(Sampler::argmax(bl)));
            for (int i = 0; i < 3; ++i) logits = s.step(toks.emplace_back(Sampler::argmax(logits)));
            s.set_observer(nullptr);
            return toks;
        };
        FullCapture cc, gc;
        Session cpu(*model, SessionOptions{2});
        SessionDevice o;
        o.cuda = load_gpu(*model, gpu::Precision::FP32);
        o.max_context = 64;
        Session gpu_s(*model, SessionOptions{2}, o);
        const auto tc = run(cpu, cc);
        const auto tg = run(gpu_s, gc);
        QCOMPARE(tg, tc);
        QCOMPARE(gc.routing.size(), cc.routing.size());
        QCOMPARE(gc.stats.size(), cc.stats.size());
        QCOMPARE(gc.steps.size(), cc.steps.size());
        for (size_t i = 0; i < cc.routing.size(); ++i) {
            const auto &a = gc.routing[i], &b = cc.routing[i];
            QCOMPARE(a.layer, b.layer);
            QCOMPARE(a.pos, b.pos);
            QCOMPARE(a.ids, b.ids);
            QCOMPARE(a.ch, b.ch);
            QCOMPARE(a.gate, b.gate);
            for (size_t j = 0; j < b.logits.size(); ++j) QVERIFY(close(a.logits[j], b.logits[j], 1e-5));
            for (size_t j = 0; j < b.w.size(); ++j) {
                QVERIFY(close(a.w[j], b.w[j], 1e-5));
                QVERIFY(close(a.norm[j], b.norm[j], 1e-4));
                QVERIFY(close(a.dmax[j], b.dmax[j], 1e-4));
            }
        }
        for (size_t i = 0; i < cc.stats.size(); ++i) {
            const auto &a = gc.stats[i], &b = cc.stats[i];
            QCOMPARE(a.layer, b.layer);
            QCOMPARE(a.hch, b.hch);
            QVERIFY(close(a.hmax, b.hmax, 1e-4));
            QVERIFY(close(a.hnorm, b.hnorm, 1e-4));
            QVERIFY(close(a.sink, b.sink, 1e-5));
            for (size_t h = 0; h < b.sinks.size(); ++h) QVERIFY(close(a.sinks[h], b.sinks[h], 1e-5));
        }
    }

    // A 100-token prompt exercises the expert-grouped prefill path (> 32 slots) in both modes.
    void grouped_prefill_matches_cpu_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<bool>("bf16");
        QTest::newRow("mixtral fp32") << "mixtral" << false;
        QTest::newRow("qwen3_moe fp32") << "qwen3_moe" << false;
        QTest::newRow("mixtral bf16") << "mixtral" << true;
        QTest::newRow("qwen3_moe bf16") << "qwen3_moe" << true;
    }
    void grouped_prefill_matches_cpu() {
        QFETCH(QString, arch);
        QFETCH(bool, bf16);
        auto model = load_golden(arch);
        std::vector<int32_t> prompt(100);
        std::mt19937 rng(5);
        for (auto& t : prompt) t = int32_t(rng() % 256);
        RoutingCapture cc(CaptureLevel::Logits), gc(CaptureLevel::Logits);
        Session cpu(*model, SessionOptions{2});
        cpu.set_observer(&cc);
        std::vector<float> la, lb;
        cpu.prefill(prompt, &la);
        SessionDevice o;
        o.cuda = load_gpu(*model, bf16 ? gpu::Precision::BF16 : gpu::Precision::FP32);
        o.max_context = 128;
        Session g(*model, SessionOptions{2}, o);
        g.set_observer(&gc);
        g.prefill(prompt, &lb);
        QCOMPARE(lb.size(), la.size());
        double maxdiff = 0;
        for (size_t i = 0; i < la.size(); ++i) maxdiff = std::max(maxdiff, double(std::abs(la[i] - lb[i])));
        qInfo("max |logit diff| CPU vs CUDA %s over 100 positions: %g", bf16 ? "bf16" : "fp32", maxdiff);
        QVERIFY(maxdiff <= (bf16 ? 5e-2 : 1e-4));
        int same = 0, total = 0;
        for (const auto& [l, L] : cc.layers()) {
            const auto& G = gc.layers().at(l);
            for (size_t t = 0; t < L.experts.size(); ++t, ++total) same += as_set(L.experts[t]) == as_set(G.experts[t]);
        }
        if (bf16) QVERIFY2(same >= 0.99 * total, qPrintable(QString("%1 of %2").arg(same).arg(total)));
        else QCOMPARE(same, total);
    }

    // Every family and feature through the fixture writer (tests/support/fixture_model.h): CPU vs
    // CUDA fp32 — prompt logits <= 1e-4, expert sets and 6 greedy tokens identical.
    void families_match_cpu_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("variant");
        for (const char* a : {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v2", "deepseek_v3"})
            QTest::newRow(a) << QString(a) << QString();
        QTest::newRow("mixtral fused experts, tied embeddings") << "mixtral" << "fused_tied";
        QTest::newRow("deepseek_v3 no q_lora, rope_interleave false") << "deepseek_v3" << "plain_q";
        QTest::newRow("qwen2_moe mlp_only_layers") << "qwen2_moe" << "mlp_only";
    }
    void families_match_cpu() {
        QFETCH(QString, arch);
        QFETCH(QString, variant);
        auto spec = test::FixtureSpec::forArch(arch.toStdString());
        spec.yarn = false;  // YaRN is refused by the CUDA backend (checked below)
        if (variant == "fused_tied") {
            spec.fused_experts = true;
            spec.tie_embeddings = true;
        } else if (variant == "plain_q") {
            spec.q_lora_rank = 0;
            spec.rope_interleave = false;
        } else if (variant == "mlp_only") {
            spec.mlp_only_layers = {1};
        }
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const std::string dir = test::writeFixture(tmp.path().toStdString(), spec);
        auto loaded = Model::load(dir);
        QVERIFY2(loaded.ok(), loaded.message().c_str());
        const Model& model = *loaded.value();
        std::vector<int32_t> prompt{1, 5, 9, 14, 20, 33, 41, 50, 60, 7};
        RoutingCapture cc(CaptureLevel::Logits), gc(CaptureLevel::Logits);
        Session cpu(model, SessionOptions{2});
        SessionDevice o;
        o.cuda = load_gpu(model, gpu::Precision::FP32);
        o.max_context = 32;
        Session g(model, SessionOptions{2}, o);
        cpu.set_observer(&cc);
        g.set_observer(&gc);
        std::vector<float> la, lb;
        cpu.prefill(prompt, &la);
        g.prefill(prompt, &lb);
        QCOMPARE(lb.size(), la.size());
        for (size_t i = 0; i < la.size(); ++i) QVERIFY2(std::abs(la[i] - lb[i]) <= 1e-4, qPrintable(QString::number(i)));
        QCOMPARE(gc.layers().size(), cc.layers().size());
        for (const auto& [l, L] : cc.layers()) {
            const auto& G = gc.layers().at(l);
            QCOMPARE(G.experts.size(), L.experts.size());
            for (size_t t = 0; t < L.experts.size(); ++t) {
                QCOMPARE(as_set(G.experts[t]), as_set(L.experts[t]));
                QVERIFY(close(G.shared_gate[t], L.shared_gate[t], 1e-5));
            }
        }
        std::vector<int32_t> tc, tg;
        auto lc = cpu.last_logits();
        auto lg = g.last_logits();
        for (int i = 0; i < 6; ++i) {
            tc.push_back(Sampler::argmax(lc));
            tg.push_back(Sampler::argmax(lg));
            lc = cpu.step(tc.back());
            lg = g.step(tg.back());
        }
        QCOMPARE(tg, tc);
    }

    void yarn_is_refused_clearly() {
        auto spec = test::FixtureSpec::forArch("deepseek_v2");  // writes YaRN rope scaling
        QTemporaryDir tmp;
        const std::string dir = test::writeFixture(tmp.path().toStdString(), spec);
        auto loaded = Model::load(dir);
        QVERIFY2(loaded.ok(), loaded.message().c_str());
        auto r = gpu::CudaModel::load(loaded.value()->config(), loaded.value()->weights(), {}, 32);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("YaRN") != std::string::npos, r.message().c_str());
    }

    // ---------------- errors, memory, unload ----------------
    void errors_are_errors() {
        auto model = load_golden("mixtral");
        auto cm = load_gpu(*model, gpu::Precision::FP32);
        auto seq = gpu::CudaSequence::create(cm, 16);
        QVERIFY(seq.ok());
        std::vector<float> last;
        Interventions none;
        const int32_t bad[1] = {9999};
        QVERIFY_THROWS_EXCEPTION(Error, seq.value()->forward(bad, none, nullptr, -1, nullptr, last));
        std::vector<int32_t> many(17, 1);
        QVERIFY_THROWS_EXCEPTION(Error, seq.value()->forward(many, none, nullptr, -1, nullptr, last));
        // Out of memory: a KV reservation far beyond the device is refused with needed vs free.
        auto huge = gpu::CudaModel::load(model->config(), model->weights(), {}, int64_t(1) << 40);
        QVERIFY(!huge.ok());
        QVERIFY2(huge.message().find("needs") != std::string::npos && huge.message().find("free") != std::string::npos,
                 huge.message().c_str());
        // Unload, then load again and run.
        seq.value().reset();
        cm->unload();
        QVERIFY(!cm->loaded());
        QVERIFY(!gpu::CudaSequence::create(cm, 16).ok());
        auto again = load_gpu(*model, gpu::Precision::FP32);
        auto s2 = gpu::CudaSequence::create(again, 16);
        QVERIFY(s2.ok());
        const int32_t good[2] = {1, 17};
        s2.value()->forward(good, none, nullptr, -1, nullptr, last);
        QCOMPARE(int(last.size()), model->config().vocab_size);
    }
};

QTEST_GUILESS_MAIN(TestCudaBackendGpu)
#include "test_cuda_backend_gpu.moc"
