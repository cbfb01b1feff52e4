// Distribution shift between base and variant logits against hand-computed KL / NLL.
#include <QtTest>
#include <cmath>

#include "analysis/what_if.h"

using namespace moescope::analysis;

class TestWhatIf : public QObject {
    Q_OBJECT
private slots:
    void identical_runs() {
        LogitRun a{3, {1, 2, 3, 0, 0, 5}, {2, -1}};
        auto d = distribution_shift({a}, {a});
        QVERIFY2(d.ok(), d.message().c_str());
        QCOMPARE(d->positions, int64_t{2});
        QVERIFY(std::abs(d->mean_kl) < 1e-12);
        QCOMPARE(d->top1_agreement, 1.0);
        QCOMPARE(d->scored, int64_t{1});
        // NLL of token 2 under softmax(1,2,3) = log(e + e^2 + e^3) - 3
        const double nll = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
        QVERIFY(std::abs(d->nll_base - nll) < 1e-12);
        QVERIFY(std::abs(d->ppl_variant - std::exp(nll)) < 1e-12);
    }
    void known_kl() {
        // base p = (.5, .5) (logits 0, 0); variant q = (.8, .2) (logits ln 4, 0): KL = .5 ln(.5/.8) + .5 ln(.5/.2)
        LogitRun b{2, {0, 0}, {1}};
        LogitRun v{2, {static_cast<float>(std::log(4.0)), 0}, {1}};
        auto d = distribution_shift({b}, {v});
        QVERIFY(d.ok());
        const double kl = 0.5 * std::log(0.5 / 0.8) + 0.5 * std::log(0.5 / 0.2);
        QVERIFY(std::abs(d->mean_kl - kl) < 1e-6);
        QCOMPARE(d->top1_agreement, 1.0);  // tie in base resolves to id 0, variant argmax 0
        QVERIFY(std::abs(d->nll_variant + std::log(0.2)) < 1e-6);
        QVERIFY(std::abs(d->nll_base + std::log(0.5)) < 1e-12);
    }
    void bad_shapes() {
        QVERIFY(!distribution_shift({}, {}).ok());
        LogitRun a{2, {0, 0}, {}}, b{3, {0, 0, 0}, {}};
        QVERIFY(!distribution_shift({a}, {b}).ok());
        LogitRun c{2, {0, 0}, {1, 1}};
        QVERIFY(!distribution_shift({c}, {c}).ok());
    }
};

QTEST_GUILESS_MAIN(TestWhatIf)
#include "test_what_if.moc"
