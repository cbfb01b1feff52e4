// deepseek_v3 (MLA, sigmoid group routing, shared expert, dense first layer), qwen2_moe (q/k/v bias
// by default, gated shared expert) and olmoe (full-width q/k norm) against an independent pure-Python
// float64 reference (tools/reference/moe_reference.py -> tests/data/reference/<arch>/): prompt logits,
// routing and greedy tokens, with the golden tolerances; the same through `moescope-cli eval`.
#include <QtTest>

#include <QFile>

#include "engine/model/model.h"
#include "engine/routing_capture.h"
#include "engine/sampling.h"
#include "engine/session.h"
#include "tests/support/golden.h"
#include "tests/support/testsupport.h"

using namespace moescope;

class TestReferenceModels : public QObject {
    Q_OBJECT
    static QString dir(const QString& arch) { return test::sourceDir() + "/tests/data/reference/" + arch; }
    static nlohmann::json expected(const QString& arch) {
        QFile f(dir(arch) + "/expected.json");
        if (!f.open(QIODevice::ReadOnly)) return {};
        return nlohmann::json::parse(f.readAll().toStdString());
    }

private slots:
    void engine_data() {
        QTest::addColumn<QString>("arch");
        for (const char* a : {"deepseek_v3", "qwen2_moe", "olmoe"}) QTest::newRow(a) << QString(a);
    }
    void engine() {
        QFETCH(QString, arch);
        const auto want = expected(arch);
        QVERIFY2(!want.is_null(), "missing expected.json");
        auto m = Model::load(dir(arch).toStdString());
        QVERIFY2(m.ok(), m.message().c_str());
        const auto ids = want["input_ids"].get<std::vector<int32_t>>();
        Session s(*m.value(), SessionOptions{1});
        RoutingCapture cap;
        s.set_observer(&cap);
        std::vector<float> all;
        auto last = s.prefill(ids, &all);
        s.set_observer(nullptr);
        nlohmann::json got;
        got["logits_last"] = std::vector<float>(last.begin(), last.end());
        const size_t V = m.value()->config().vocab_size;
        for (size_t t = 0; t < ids.size(); ++t) got["logits_all"].push_back(std::vector<float>(all.begin() + t * V, all.begin() + (t + 1) * V));
        got["routing"] = nlohmann::json::array();
        for (const auto& [l, L] : cap.layers())
            got["routing"].push_back({{"layer", l}, {"router_logits", L.router_logits}, {"experts", L.experts}, {"weights", L.weights}});
        std::vector<int32_t> gen;
        std::span<const float> lg = last;
        for (int i = 0; i < 4; ++i) {
            gen.push_back(Sampler::argmax(lg));
            if (i < 3) lg = s.step(gen.back());
        }
        got["greedy"]["new_tokens"] = gen;
        const QString diff = test::compareWithGolden(got, want, true);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }

    void cli_data() { engine_data(); }
    void cli() {
        QFETCH(QString, arch);
        const auto want = expected(arch);
        QStringList ids;
        for (const auto& t : want["input_ids"]) ids << QString::number(t.get<int>());
        auto r = test::runCli({"eval", dir(arch), "--tokens", ids.join(','), "--greedy", "4", "--all-logits", "--threads", "1"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QString diff = test::compareWithGolden(nlohmann::json::parse(r.out.toStdString()), want, true);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }
};

QTEST_GUILESS_MAIN(TestReferenceModels)
#include "test_reference_models.moc"
