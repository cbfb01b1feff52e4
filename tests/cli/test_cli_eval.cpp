// moescope-cli eval against the golden files (all four settings), and its usage errors (exit 2).
#include <QtTest>

#include "engine/presets.h"
#include "tests/support/golden.h"
#include "tests/support/testsupport.h"

using moescope::test::runCli;

class TestCliEval : public QObject {
    Q_OBJECT
private slots:
    void golden_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("setting");
        for (const char* arch : {"mixtral", "qwen3_moe"})
            for (const char* setting : {"baseline", "disable", "force", "topk1"})
                QTest::newRow(qPrintable(QString("%1/%2").arg(arch, setting))) << QString(arch) << QString(setting);
    }
    void golden() {
        QFETCH(QString, arch);
        QFETCH(QString, setting);
        moescope::test::GoldenCase g;
        QString err;
        QVERIFY2(moescope::test::loadGolden(arch, setting, g, err), qPrintable(err));
        QStringList ids;
        for (const auto& t : g.expected["input_ids"]) ids << QString::number(t.get<int>());
        QStringList args{"eval", moescope::test::testdataPath("golden/" + arch), "--tokens", ids.join(','), "--greedy",
                         QString::number(g.expected["n_new_tokens"].get<int>())};
        if (setting == "baseline") args << "--all-logits";
        const auto& iv = g.result["interventions"];
        for (const auto& d : iv["disable"]) args << "--disable" << QString("%1:%2").arg(d[0].get<int>()).arg(d[1].get<int>());
        for (const auto& f : iv["force"]) args << "--force" << QString("%1:%2").arg(f[0].get<int>()).arg(f[1].get<int>());
        if (!iv["top_k"].is_null()) args << "--top-k" << QString::number(iv["top_k"].get<int>());
        auto r = runCli(args);
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(r.err));
        auto got = nlohmann::json::parse(r.out.toStdString());
        const QString diff = moescope::test::compareWithGolden(got, g.result, setting == "baseline");
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        // The shared interventions format (engine/presets.h interventions_to_json): the golden keys with the
        // golden values, plus "bias" (always present there), nothing else for these settings.
        for (const auto& [key, value] : iv.items()) QCOMPARE(got["interventions"][key], value);
        QCOMPARE(got["interventions"]["bias"], nlohmann::json::array());
        QCOMPARE(got["interventions"].size(), iv.size() + 1);
    }

    // eval and generate --json print the interventions through the one serialiser: the same object for the
    // same flags, which parse_preset reads back as exactly those interventions.
    void interventionsMatchGenerate() {
        const QString model = moescope::test::testdataPath("golden/mixtral");
        const QStringList iv{"--disable", "1:0", "--force", "1:5", "--zero", "0:2", "--bias", "0:3:0.5",
                             "--route-top-p", "0.5", "--route-top-p-max-k", "3"};
        auto e = runCli(QStringList{"eval", model, "--tokens", "1,17,42"} + iv + QStringList{"--top-k", "2"});
        QVERIFY2(e.finished && e.exitCode == 0, qPrintable(e.err));
        auto g = runCli(QStringList{"generate", model, "--tokens", "1,17,42", "--max-new", "1", "--greedy", "--json"} + iv +
                        QStringList{"--top-k-experts", "2"});
        QVERIFY2(g.finished && g.exitCode == 0, qPrintable(g.err));
        const auto ej = nlohmann::json::parse(e.out.toStdString())["interventions"];
        QCOMPARE(nlohmann::json::parse(g.out.toStdString())["interventions"], ej);
        auto back = moescope::parse_preset(ej.dump(), "eval");
        QVERIFY2(back.ok(), back.message().c_str());
        moescope::Interventions want;
        want.disable = {{1, 0}};
        want.force = {{1, 5}};
        want.zero_output = {{0, 2}};
        want.bias = {{0, 3, 0.5f}};
        want.top_k = 2;
        want.top_p = 0.5f;
        want.top_p_max_k = 3;
        QVERIFY(back.value().interventions == want);
    }

    void usageErrors_data() {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("expected");
        QTest::newRow("layer out of range") << QStringList{"--disable", "7:0"} << "layer 7 is out of range";
        QTest::newRow("expert out of range") << QStringList{"--force", "1:8"} << "expert 8 is out of range";
        QTest::newRow("negative expert") << QStringList{"--disable", "1:-1"} << "expert -1 is out of range";
        QTest::newRow("malformed ref") << QStringList{"--disable", "1-2"} << "expects LAYER:EXPERT";
        QTest::newRow("malformed number") << QStringList{"--force", "a:1"} << "--force layer";
        QTest::newRow("top-k zero") << QStringList{"--top-k", "0"} << "top-k 0 is out of range";
        QTest::newRow("top-k too big") << QStringList{"--top-k", "9"} << "top-k 9 is out of range";
        QTest::newRow("force more than k") << QStringList{"--top-k", "1", "--force", "1:0", "--force", "1:3"} << "2 forced experts";
        QTest::newRow("unknown flag") << QStringList{"--frob"} << "unknown option --frob";
        QTest::newRow("bad greedy") << QStringList{"--greedy", "x"} << "--greedy";
        QTest::newRow("token outside vocab") << QStringList{"--tokens", "1,256"} << "outside the vocabulary";
        QTest::newRow("malformed tokens") << QStringList{"--tokens", "1,,2"} << "--tokens";
    }
    void usageErrors() {
        QFETCH(QStringList, extra);
        QFETCH(QString, expected);
        QStringList args{"eval", moescope::test::testdataPath("golden/mixtral")};
        if (!extra.contains("--tokens")) args << "--tokens" << "1,2,3";
        args << extra;
        auto r = runCli(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
    }

    // --preset FILE gives the same result as the equivalent flags; an unknown key is a usage error.
    void presetFile() {
        moescope::test::GoldenCase g;
        QString err;
        QVERIFY2(moescope::test::loadGolden("qwen3_moe", "disable", g, err), qPrintable(err));
        QTemporaryDir dir;
        const QString preset = dir.filePath("p.json");
        QFile f(preset);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray::fromStdString(nlohmann::json{{"name", "d"}, {"disable", g.result["interventions"]["disable"]}}.dump()));
        f.close();
        QStringList ids;
        for (const auto& t : g.expected["input_ids"]) ids << QString::number(t.get<int>());
        auto r = runCli({"eval", moescope::test::testdataPath("golden/qwen3_moe"), "--tokens", ids.join(','), "--greedy", "16",
                         "--preset", preset});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QString diff = moescope::test::compareWithGolden(nlohmann::json::parse(r.out.toStdString()), g.result, false);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(R"({"disabel": [[1, 2]]})");
        f.close();
        auto bad = runCli({"eval", moescope::test::testdataPath("golden/qwen3_moe"), "--tokens", "1", "--preset", preset});
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains("unknown key 'disabel'"), qPrintable(bad.err));
    }

    void notAModelFolderIsRuntimeError() {
        QTemporaryDir dir;
        auto r = runCli({"eval", dir.path(), "--tokens", "1"});
        QCOMPARE(r.exitCode, 1);  // not a model folder: runtime error, message names config.json
        QVERIFY2(r.err.contains("config.json"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliEval)
#include "test_cli_eval.moc"
