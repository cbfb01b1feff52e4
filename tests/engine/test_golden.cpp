// Golden vectors (../shared/testdata/golden/{mixtral,qwen3_moe}): all four settings through the
// Session API (interventions set before the prompt = from step 0), within the README tolerances.
#include <QtTest>

#include "engine/model/model.h"
#include "engine/routing_capture.h"
#include "engine/sampling.h"
#include "engine/session.h"
#include "tests/support/golden.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using moescope::test::GoldenCase;

namespace {

nlohmann::json runSession(const Model& model, const std::vector<int32_t>& ids, const Interventions& iv, int n_new) {
    Session s(model, SessionOptions{1});
    auto ok = s.set_interventions(iv);
    if (!ok.ok()) throw Error(ok.message());
    return moescope::test::runGoldenSession(s, ids, n_new);
}

}  // namespace

class TestGolden : public QObject {
    Q_OBJECT
private slots:
    void settings_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("setting");
        for (const char* arch : {"mixtral", "qwen3_moe"})
            for (const char* setting : {"baseline", "disable", "force", "topk1"})
                QTest::newRow(qPrintable(QString("%1/%2").arg(arch, setting))) << QString(arch) << QString(setting);
    }
    void settings() {
        QFETCH(QString, arch);
        QFETCH(QString, setting);
        GoldenCase g;
        QString err;
        QVERIFY2(test::loadGolden(arch, setting, g, err), qPrintable(err));
        auto model = Model::load(test::testdataPath("golden/" + arch).toStdString());
        QVERIFY2(model.ok(), model.message().c_str());
        QCOMPARE(model.value()->config().moe_layers, g.expected["moe_layers"].get<std::vector<int>>());
        const auto ids = g.expected["input_ids"].get<std::vector<int32_t>>();
        auto got = runSession(*model.value(), ids, g.interventions(), g.expected["n_new_tokens"].get<int>());
        const QString diff = test::compareWithGolden(got, g.result, setting == "baseline");
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }

    // The README's no-cache recomputation: feeding the whole sequence each step gives the same tokens
    // and logits within 1e-5 of the cached run.
    void cacheEqualsRecompute_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("mixtral") << "mixtral";
        QTest::newRow("qwen3_moe") << "qwen3_moe";
    }
    void cacheEqualsRecompute() {
        QFETCH(QString, arch);
        GoldenCase g;
        QString err;
        QVERIFY2(test::loadGolden(arch, "baseline", g, err), qPrintable(err));
        auto model = Model::load(test::testdataPath("golden/" + arch).toStdString());
        QVERIFY(model.ok());
        std::vector<int32_t> seq = g.expected["input_ids"].get<std::vector<int32_t>>();
        const auto want = g.result["greedy"]["new_tokens"].get<std::vector<int32_t>>();
        Session cached(*model.value(), SessionOptions{1});
        auto logits = cached.prefill(seq);
        for (size_t i = 0; i < want.size(); ++i) {
            Session fresh(*model.value(), SessionOptions{1});
            auto full = fresh.prefill(seq);
            for (size_t v = 0; v < full.size(); ++v) QVERIFY(std::fabs(full[v] - logits[v]) <= 1e-5f);
            const int32_t id = Sampler::argmax(full);
            QCOMPARE(id, want[i]);
            seq.push_back(id);
            logits = cached.step(id);
        }
    }
};

QTEST_GUILESS_MAIN(TestGolden)
#include "test_golden.moc"
