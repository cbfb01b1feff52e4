// Intervention presets (engine/presets.h): round trip and every malformed-input class.
#include <QtTest>

#include "engine/presets.h"

using namespace moescope;

class TestPresets : public QObject {
    Q_OBJECT
private slots:
    void roundTrip() {
        Preset p;
        p.name = "no refusal";
        p.interventions.disable = {{12, 87}, {3, 1}};
        p.interventions.force = {{5, 2}};
        p.interventions.bias = {{7, 4, -1.5f}};
        p.interventions.top_k = 4;
        p.interventions.top_k_per_layer = {{2, 1}};
        p.interventions.top_p = 0.75f;
        p.interventions.top_p_max_k = 6;
        p.interventions.zero_output = {{1, 5}, {2, 0}};
        auto back = parse_preset(preset_to_json(p), "mem");
        QVERIFY2(back.ok(), back.message().c_str());
        QCOMPARE(back.value().name, p.name);
        QVERIFY(back.value().interventions == p.interventions);
        QTemporaryDir dir;
        const std::string path = dir.filePath("p.json").toStdString();
        QVERIFY(save_preset_file(path, p).ok());
        auto loaded = load_preset_file(path);
        QVERIFY(loaded.ok());
        QVERIFY(loaded.value().interventions == p.interventions);
        auto minimal = parse_preset(R"({"disable": [[1, 2]]})", "m");
        QVERIFY(minimal.ok());
        QVERIFY(!minimal.value().interventions.top_k);
        auto zero = parse_preset(R"({"zero_output": [[3, 7]]})", "z");
        QVERIFY2(zero.ok(), zero.message().c_str());
        QVERIFY(zero.value().interventions.zero_output == (std::vector<ExpertRef>{{3, 7}}));
        QVERIFY(zero.value().interventions.disable.empty());
    }

    // interventions_to_json: the preset format without "name", compact, unset keys left out (the four base keys
    // stay), and parse_preset reads every set field back.
    void interventionsJson_data() {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("expected");
        QTest::newRow("none") << 0 << R"({"disable":[],"force":[],"bias":[],"top_k":null})";
        QTest::newRow("disable+zero") << 1 << R"({"disable":[[1,0]],"force":[],"bias":[],"top_k":null,"zero_output":[[2,3]]})";
        QTest::newRow("everything") << 2
            << R"({"disable":[[12,87]],"force":[[5,2]],"bias":[[7,4,-1.5]],"top_k":4,"top_k_per_layer":[[2,1]],)"
               R"("top_p":0.75,"top_p_max_k":6,"rank_only":2,"rank_only_layers":[1,3],"zero_output":[[1,5]]})";
    }
    void interventionsJson() {
        QFETCH(int, which);
        QFETCH(QString, expected);
        Interventions iv;
        if (which == 1) {
            iv.disable = {{1, 0}};
            iv.zero_output = {{2, 3}};
        } else if (which == 2) {
            iv.disable = {{12, 87}};
            iv.force = {{5, 2}};
            iv.bias = {{7, 4, -1.5f}};
            iv.top_k = 4;
            iv.top_k_per_layer = {{2, 1}};
            iv.top_p = 0.75f;
            iv.top_p_max_k = 6;
            iv.rank_only = 2;
            iv.rank_only_layers = {1, 3};
            iv.zero_output = {{1, 5}};
        }
        const std::string text = interventions_to_json(iv);
        QCOMPARE(QString::fromStdString(text), expected);
        auto back = parse_preset(text, "iv");
        QVERIFY2(back.ok(), back.message().c_str());
        QVERIFY(back.value().interventions == iv);
        QVERIFY(back.value().name.empty());
    }

    void badPresets_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown key") << R"({"disabel": [[1,2]]})" << "x.json: unknown key 'disabel'";
        QTest::newRow("not object") << "[1]" << "must be a JSON object";
        QTest::newRow("malformed") << "{\"disable\": [" << "malformed JSON";
        QTest::newRow("pair arity") << R"({"force": [[1,2,3]]})" << "'force'[0]: expected [layer, expert]";
        QTest::newRow("non-integer") << R"({"disable": [[1, "a"]]})" << "'disable'[0]: expected an integer";
        QTest::newRow("bias arity") << R"({"bias": [[1, 2]]})" << "'bias'[0]: expected [layer, expert, bias]";
        QTest::newRow("top_p range") << R"({"top_p": 1.5})" << "'top_p' must be in (0, 1]";
        QTest::newRow("name type") << R"({"name": 3})" << "'name' must be a string";
        QTest::newRow("zero_output arity") << R"({"zero_output": [[1]]})" << "'zero_output'[0]: expected [layer, expert]";
        QTest::newRow("disable not array") << R"({"disable": 3})" << "'disable' must be an array";
    }
    void badPresets() {
        QFETCH(QString, json);
        QFETCH(QString, expected);
        auto r = parse_preset(json.toStdString(), "x.json");
        QVERIFY(!r.ok());
        QVERIFY2(QString::fromStdString(r.message()).contains(expected), r.message().c_str());
    }

    void missingFile() {
        auto r = load_preset_file("/nonexistent/p.json");
        QVERIFY(!r.ok());
        QVERIFY(r.message().find("/nonexistent/p.json") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestPresets)
#include "test_presets.moc"
