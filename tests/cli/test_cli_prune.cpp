// `moescope-cli prune` on the golden tiny models: the pruned checkpoint loads and computes exactly what the
// original computes with the dropped experts disabled (softmax routers: removing router rows == masking
// their logits to -inf), with routing mapped back through the kept-id list.
#include <QtTest>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/support/testsupport.h"

using moescope::test::runCli;
using moescope::test::testdataPath;

namespace {
const char* kTokens = "1,17,42,99,7,128,200,3";

nlohmann::json parse(const QString& s) { return nlohmann::json::parse(s.toStdString()); }

void write_file(const QString& path, const std::string& text) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text.data(), static_cast<qint64>(text.size()));
}
}  // namespace

class TestCliPrune : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private slots:
    void matches_disabled_original_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("count_key");
        QTest::newRow("mixtral") << "mixtral" << "num_local_experts";
        QTest::newRow("qwen3_moe") << "qwen3_moe" << "num_experts";
    }
    void matches_disabled_original() {
        QFETCH(QString, model);
        QFETCH(QString, count_key);
        const QString src = testdataPath("golden/" + model);
        // Layer L drops experts (L+1) % 8 and (L+4) % 8; keeps the other 6.
        nlohmann::json plan = {{"kind", "moescope.prune_plan"}, {"n_experts", 8}, {"layers", nlohmann::json::array()}};
        QStringList disable;
        std::map<int, std::vector<int>> kept;
        for (int L = 0; L < 3; ++L) {
            std::vector<int> keep;
            for (int e = 0; e < 8; ++e) {
                if (e == (L + 1) % 8 || e == (L + 4) % 8) {
                    disable << "--disable" << QString("%1:%2").arg(L).arg(e);
                } else {
                    keep.push_back(e);
                }
            }
            kept[L] = keep;
            plan["layers"].push_back({{"layer", L}, {"keep", keep}});
        }
        const QString plan_path = dir_.filePath(model + "-plan.json");
        write_file(plan_path, plan.dump());
        const QString out = dir_.filePath(model + "-pruned");
        auto p = runCli({"prune", src, "--plan", plan_path, "--out", out});
        QVERIFY2(p.finished && p.exitCode == 0, qPrintable(p.err));
        const auto report = parse(p.out);
        QCOMPARE(report.at("num_experts").get<int>(), 6);
        QCOMPARE(report.at("removed_tensors").get<int>(), 3 * 2 * 3);  // 3 layers x 2 experts x 3 matrices
        QFile cfg(out + "/config.json");
        QVERIFY(cfg.open(QIODevice::ReadOnly));
        const auto config = nlohmann::json::parse(cfg.readAll().toStdString());
        QCOMPARE(config.at(count_key.toStdString()).get<int>(), 6);
        QCOMPARE(config.at("moescope_prune").at("kept_experts").at("1"), nlohmann::json(kept[1]));

        QStringList orig_args{"eval", src, "--tokens", kTokens};
        orig_args << disable;
        auto a = runCli(orig_args);
        auto b = runCli({"eval", out, "--tokens", kTokens});
        QVERIFY2(a.exitCode == 0, qPrintable(a.err));
        QVERIFY2(b.exitCode == 0, qPrintable(b.err));
        const auto ja = parse(a.out), jb = parse(b.out);
        const auto& la = ja.at("logits_last");
        const auto& lb = jb.at("logits_last");
        QCOMPARE(la.size(), lb.size());
        double worst = 0;
        for (size_t i = 0; i < la.size(); ++i) worst = std::max(worst, std::abs(la[i].get<double>() - lb[i].get<double>()));
        QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
        // Routing: pruned ids mapped through the kept list equal the original's choices under --disable.
        for (size_t m = 0; m < ja.at("routing").size(); ++m) {
            const auto& ra = ja["routing"][m];
            const auto& rb = jb["routing"][m];
            const int L = ra.at("layer").get<int>();
            for (size_t t = 0; t < ra.at("experts").size(); ++t) {
                std::set<int> sa, sb;
                for (const auto& e : ra["experts"][t]) sa.insert(e.get<int>());
                for (const auto& e : rb["experts"][t]) sb.insert(kept[L].at(e.get<int>()));
                QCOMPARE(sa, sb);
            }
        }
        // Greedy decoding agrees too.
        QStringList ga{"eval", src, "--tokens", kTokens, "--greedy", "4"};
        ga << disable;
        auto g1 = runCli(ga);
        auto g2 = runCli({"eval", out, "--tokens", kTokens, "--greedy", "4"});
        QCOMPARE(parse(g1.out).at("greedy").at("new_tokens"), parse(g2.out).at("greedy").at("new_tokens"));
    }

    void bad_plans_data() {
        QTest::addColumn<QString>("plan");
        QTest::addColumn<QString>("message");
        QTest::newRow("uneven") << R"({"layers":[{"layer":0,"keep":[0,1,2]},{"layer":1,"keep":[0,1]},{"layer":2,"keep":[0,1]}]})"
                                << "same number";
        QTest::newRow("fewer than k") << R"({"layers":[{"layer":0,"keep":[0]},{"layer":1,"keep":[0]},{"layer":2,"keep":[0]}]})"
                                      << "num_experts_per_tok";
        QTest::newRow("missing layer") << R"({"layers":[{"layer":0,"keep":[0,1]},{"layer":1,"keep":[0,1]}]})"
                                       << "missing from the plan";
        QTest::newRow("not MoE") << R"({"layers":[{"layer":7,"keep":[0,1]}]})" << "not a MoE layer";
        QTest::newRow("bad id") << R"({"layers":[{"layer":0,"keep":[0,9]}]})" << "[0, 8)";
        QTest::newRow("wrong model") << R"({"n_experts":64,"layers":[{"layer":0,"keep":[0,1]}]})" << "64 experts";
        QTest::newRow("not json") << "{oops" << "invalid JSON";
    }
    void bad_plans() {
        QFETCH(QString, plan);
        QFETCH(QString, message);
        const QString path = dir_.filePath("bad-plan.json");
        write_file(path, plan.toStdString());
        const QString out = dir_.filePath("never-written");
        auto r = runCli({"prune", testdataPath("golden/mixtral"), "--plan", path, "--out", out});
        QVERIFY(r.finished);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QVERIFY(!QFileInfo::exists(out));
    }
};

QTEST_GUILESS_MAIN(TestCliPrune)
#include "test_cli_prune.moc"
