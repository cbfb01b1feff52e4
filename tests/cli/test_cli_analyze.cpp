// `moescope-cli analyze` end to end on a database written by the real recorder with planted routing.
#include <QtTest>
#include <algorithm>
#include <map>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "planted_db.h"
#include "tests/support/testsupport.h"

using moescope::test::runCli;

class TestCliAnalyze : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString full_, routing_only_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        full_ = dir_.filePath("planted.db");
        routing_only_ = dir_.filePath("routing_only.db");
        moescope::test::write_planted_db(full_.toStdString(), moescope::CaptureLevel::Activations);
        moescope::test::write_planted_db(routing_only_.toStdString(), moescope::CaptureLevel::Routing);
    }

    void ftri_finds_planted_expert() {
        auto r = runCli({"analyze", "ftri", "--db", full_, "--behavior", "behavior", "--control", "control", "--top",
                         "3", "--tokens", "prompt"});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(r.err));
        const auto j = nlohmann::json::parse(r.out.toStdString());
        const auto& first = j.at("ranked").at(0);
        QCOMPARE(first.at("layer").get<int>(), 1);
        QCOMPARE(first.at("expert").get<int>(), 3);
        QVERIFY(first.at("q").get<double>() < 0.01);
        QCOMPARE(first.at("control_freq").get<double>(), 0.0);
        QCOMPARE(j.at("preset").at("name").get<std::string>(), std::string("ftri-behavior-vs-control"));
        QCOMPARE(j.at("preset").at("disable").at(0), (nlohmann::json{1, 3}));
        QVERIFY(j.at("preset").at("disable").size() <= 3);
        const auto& ctl = j.at("random_control").at("disable");
        QCOMPARE(ctl.size(), j.at("preset").at("disable").size());
        for (const auto& e : ctl) QVERIFY(e != (nlohmann::json{1, 3}));
        QCOMPARE(j.at("behavior").at("prompts").get<int>(), 20);
        QCOMPARE(j.at("behavior").at("tokens").get<int>(), 240);
    }

    void kinds_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("analysis");
        QTest::newRow("load") << QStringList{"load"} << "load";
        QTest::newRow("domain") << QStringList{"domain"} << "domain";
        QTest::newRow("tokens") << QStringList{"tokens", "--min-count", "2"} << "tokens";
        QTest::newRow("coactivation") << QStringList{"coactivation", "--pairs", "adjacent"} << "coactivation";
        QTest::newRow("transitions") << QStringList{"transitions"} << "transitions";
        QTest::newRow("router") << QStringList{"router", "--micro-batches", "1,8"} << "router";
        QTest::newRow("dynamic-k") << QStringList{"dynamic-k", "--top-p", "0.5"} << "dynamic-k";
        QTest::newRow("super-experts") << QStringList{"super-experts"} << "super-experts";
        QTest::newRow("massive") << QStringList{"massive"} << "massive-activations";
        QTest::newRow("sinks") << QStringList{"sinks"} << "sinks";
        QTest::newRow("lrc") << QStringList{"lrc", "--seg-lengths", "4,8"} << "lrc";
        QTest::newRow("importance") << QStringList{"importance", "--keep", "4"} << "importance";
    }
    void kinds() {
        QFETCH(QStringList, args);
        QFETCH(QString, analysis);
        QStringList full{"analyze"};
        full << args << "--db" << full_;
        auto r = runCli(full);
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(r.err));
        const auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(QString::fromStdString(j.at("analysis").get<std::string>()), analysis);
        QCOMPARE(j.at("source").at("tokens").get<int>(), 480);
        if (analysis == "super-experts") {
            QCOMPARE(j.at("super_experts").size(), size_t{1});
            QCOMPARE(j.at("super_experts").at(0).at("layer").get<int>(), 0);
            QCOMPARE(j.at("super_experts").at(0).at("expert").get<int>(), 5);
            QCOMPARE(j.at("super_experts").at(0).at("channel").get<int>(), 17);
        }
        if (analysis == "massive-activations") {
            // hidden_size 64 from config.json; layer 1 position 0 of every prompt: 2000 at channel 9
            QCOMPARE(j.at("hits").size(), size_t{40});
            QCOMPARE(j.at("hits").at(0).at("channel").get<int>(), 9);
        }
        if (analysis == "sinks") {
            QVERIFY(j.at("first_token_is_sink").get<bool>());
            // per-head (Gu): alpha_1 = (1 + 11 v) / 12 over 12 positions; heads 0, 1 (v = .95) are sinks, head 2
            // (v = .2: alpha .267) is not, in both layers -> Sink_1 = 4 / 6
            QCOMPARE(j.at("n_heads").get<int>(), 3);
            QCOMPARE(j.at("metric").get<std::string>(), std::string("gu_heads"));
            QVERIFY(std::abs(j.at("sink_fraction").get<double>() - 4.0 / 6) < 1e-12);
            for (int l : {0, 1}) {
                const auto& L = j.at("layers").at(size_t(l));
                QCOMPARE(L.at("sink_heads").get<int>(), 2);
                QVERIFY(std::abs(L.at("heads").at(2).at("alpha_first").get<double>() - (1 + 11 * double(0.2f)) / 12) < 1e-6);
                QVERIFY(!L.at("heads").at(2).at("sink").get<bool>());
            }
        }
        // CSV form too
        full << "--csv";
        auto c = runCli(full);
        QVERIFY2(c.finished && c.exitCode == 0, qPrintable(c.err));
        QVERIFY(c.out.count('\n') >= 2);
    }

    // Full EASY-EP from the recorded s_t (planted .25 in layer 0, .5 in layer 1): easy_ep = s x output per
    // layer, exactly; the partial score stays under "output".
    void importance_easy_ep() {
        auto r = runCli({"analyze", "importance", "--db", full_, "--method", "easy-ep", "--keep", "4"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(j.at("parameters").at("method").get<std::string>(), std::string("easy_ep"));
        const auto& out = j.at("scores").at("output");
        const auto& ep = j.at("scores").at("easy_ep");
        double total = 0;
        for (int m : {0, 1})
            for (int e = 0; e < 8; ++e) {
                const double want = (m == 0 ? 0.25 : 0.5) * out.at(m).at(e).get<double>();
                QVERIFY(std::abs(ep.at(m).at(e).get<double>() - want) <= 1e-9 * std::max(1.0, want));
                total += ep.at(m).at(e).get<double>();
            }
        QVERIFY(total > 0);
        QCOMPARE(j.at("score"), ep);
        // without activations there is no s_t: a clear error naming the capture level
        auto bad = runCli({"analyze", "importance", "--db", routing_only_, "--method", "easy-ep"});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY2(bad.err.contains("capture level 'activations'"), qPrintable(bad.err));
    }

    void importance_plan_file() {
        const QString plan = dir_.filePath("plan.json");
        auto r = runCli({"analyze", "importance", "--db", full_, "--method", "frequency", "--keep", "6", "--plan-out", plan});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile f(plan);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto j = nlohmann::json::parse(f.readAll().toStdString());
        QCOMPARE(j.at("kind").get<std::string>(), std::string("moescope.prune_plan"));
        QCOMPARE(j.at("layers").size(), size_t{2});
        QCOMPARE(j.at("layers").at(1).at("keep").size(), size_t{6});
    }

    void errors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown kind") << QStringList{"nonsense"} << 2 << "unknown analysis";
        QTest::newRow("ftri without sets") << QStringList{"ftri"} << 2 << "--behavior";
        QTest::newRow("bad token kind") << QStringList{"load", "--tokens", "some"} << 2 << "prompt, generated or all";
        QTest::newRow("unknown set") << QStringList{"ftri", "--behavior", "nope", "--control", "control"} << 1 << "nope";
        QTest::newRow("no generated tokens") << QStringList{"ftri", "--behavior", "behavior", "--control", "control", "--tokens", "generated"}
                                             << 1 << "no tokens";
        QTest::newRow("unknown run") << QStringList{"load", "--run", "99"} << 1 << "99";

    }
    void errors() {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, message);
        QStringList full{"analyze"};
        full << args << "--db" << full_;
        auto r = runCli(full);
        QVERIFY(r.finished);
        QCOMPARE(r.exitCode, code);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
    }

    void missing_capture_level_data() {
        QTest::addColumn<QString>("kind");
        QTest::newRow("super-experts") << "super-experts";
        QTest::newRow("router") << "router";
        QTest::newRow("sinks") << "sinks";
        QTest::newRow("massive") << "massive";
    }
    void missing_capture_level() {
        QFETCH(QString, kind);
        auto r = runCli({"analyze", kind, "--db", routing_only_});
        QVERIFY(r.finished);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("capture level"), qPrintable(r.err));
    }

    void what_if_on_golden_model() {
        // Independent expectation from the golden Mixtral (softmax + top-2 renormalisation): disabling experts that
        // layer 1 never selects on this prompt changes nothing (KL exactly 0); disabling a selected one does.
        const QString model = moescope::test::testdataPath("golden/mixtral");
        const QString tokens = "1,17,42,99,7,128,200,3";
        auto ev = runCli({"eval", model, "--tokens", tokens});
        QVERIFY2(ev.exitCode == 0, qPrintable(ev.err));
        const auto routing = nlohmann::json::parse(ev.out.toStdString()).at("routing");
        std::set<int> used;
        for (const auto& l : routing)
            if (l.at("layer").get<int>() == 1)
                for (const auto& t : l.at("experts"))
                    for (const auto& e : t) used.insert(e.get<int>());
        QVERIFY(!used.empty() && used.size() < 8);
        QStringList unused_args{"analyze", "what-if", "--model", model, "--tokens", tokens, "--random-repeats", "2"};
        for (int e = 0; e < 8; ++e)
            if (!used.count(e)) unused_args << "--disable" << QString("1:%1").arg(e);
        auto r0 = runCli(unused_args);
        QVERIFY2(r0.exitCode == 0, qPrintable(r0.err));
        const auto j0 = nlohmann::json::parse(r0.out.toStdString());
        QCOMPARE(j0.at("disabled").at("mean_kl").get<double>(), 0.0);
        QCOMPARE(j0.at("disabled").at("top1_agreement").get<double>(), 1.0);
        QCOMPARE(j0.at("random").size(), size_t{2});
        QCOMPARE(j0.at("random").at(0).at("disable").size(), size_t{8 - used.size()});
        QVERIFY(j0.at("base").at("ppl").get<double>() > 1.0);
        auto r1 = runCli({"analyze", "what-if", "--model", model, "--tokens", tokens, "--disable",
                          QString("1:%1").arg(*used.begin()), "--random-repeats", "0"});
        QVERIFY2(r1.exitCode == 0, qPrintable(r1.err));
        const auto j1 = nlohmann::json::parse(r1.out.toStdString());
        QVERIFY(j1.at("disabled").at("mean_kl").get<double>() > 0.0);
        QCOMPARE(j1.at("scored_positions").get<int>(), 7);
        // No experts -> usage error
        auto bad = runCli({"analyze", "what-if", "--model", model, "--tokens", tokens});
        QCOMPARE(bad.exitCode, 2);
    }

    // --mode zero (default, Super Experts' down_proj zeroing: routing unchanged) vs --mode disable (another
    // expert takes the slot) on an expert layer 1 selects: both change the distribution, by different
    // amounts; `eval --zero` shows the zeroed expert still routed; a bad mode is a usage error.
    void what_if_modes() {
        const QString model = moescope::test::testdataPath("golden/mixtral");
        const QString tokens = "1,17,42,99,7,128,200,3";
        auto ev = runCli({"eval", model, "--tokens", tokens});
        QVERIFY2(ev.exitCode == 0, qPrintable(ev.err));
        const auto routing = nlohmann::json::parse(ev.out.toStdString()).at("routing");
        int expert = -1;
        nlohmann::json layer1;
        for (const auto& l : routing)
            if (l.at("layer").get<int>() == 1) layer1 = l.at("experts"), expert = l.at("experts").at(0).at(0).get<int>();
        QVERIFY(expert >= 0);
        const QString ref = QString("1:%1").arg(expert);
        std::map<std::string, double> kl;
        for (const char* mode : {"zero", "disable", ""}) {
            QStringList args{"analyze", "what-if", "--model", model, "--tokens", tokens, "--disable", ref, "--random-repeats", "1"};
            if (*mode) args << "--mode" << mode;
            auto r = runCli(args);
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            const auto j = nlohmann::json::parse(r.out.toStdString());
            const std::string want = *mode ? mode : "zero";  // zero is the default
            QCOMPARE(j.at("mode").get<std::string>(), want);
            QCOMPARE(j.at("experts").at(0), (nlohmann::json{1, expert}));
            QCOMPARE(j.at("variant"), j.at("disabled"));
            QVERIFY(j.at("variant").at("mean_kl").get<double>() > 0.0);
            kl[*mode ? mode : "default"] = j.at("variant").at("mean_kl").get<double>();
        }
        QCOMPARE(kl["default"], kl["zero"]);
        QVERIFY2(std::abs(kl["zero"] - kl["disable"]) > 1e-9, "zeroing and disabling are different interventions");
        // the zeroed expert keeps its routing slot
        auto ez = runCli({"eval", model, "--tokens", tokens, "--zero", ref});
        QVERIFY2(ez.exitCode == 0, qPrintable(ez.err));
        for (const auto& l : nlohmann::json::parse(ez.out.toStdString()).at("routing"))
            if (l.at("layer").get<int>() == 1) QCOMPARE(l.at("experts"), layer1);
        auto bad = runCli({"analyze", "what-if", "--model", model, "--tokens", tokens, "--disable", ref, "--mode", "off"});
        QCOMPARE(bad.exitCode, 2);
    }

    void preset_out_is_a_valid_preset() {
        const QString preset = dir_.filePath("ftri-preset.json");
        auto r = runCli({"analyze", "ftri", "--db", full_, "--behavior", "behavior", "--control", "control", "--top", "2",
                         "--preset-out", preset});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        // The engine's preset parser (unknown keys are errors) accepts it: what-if loads it.
        auto w = runCli({"analyze", "what-if", "--model", moescope::test::testdataPath("golden/mixtral"), "--tokens",
                         "1,50,51,52", "--preset", preset, "--random-repeats", "1"});
        QVERIFY2(w.exitCode == 0, qPrintable(w.err));
        const auto j = nlohmann::json::parse(w.out.toStdString());
        QCOMPARE(j.at("disable").at(0), (nlohmann::json{1, 3}));
    }

    // Router saturation of two runs on identical tokens (the planted run, then the same run with known changes),
    // layers 0 and 1, k = 2, 40 prompts x 12 positions. Layer 0: the slot order swaps at positions 0, 3, 6, 9
    // (same set) and position 11 gets a new second expert -> 1 of 12 positions differ as a set. Layer 1:
    // positions 1, 5, 9 get a new second expert, positions 2, 6, 10 two new experts -> 6 of 12 differ.
    void saturation_set_differ_data() {
        QTest::addColumn<bool>("csv");
        QTest::newRow("json") << false;
        QTest::newRow("csv") << true;
    }
    void saturation_set_differ() {
        QFETCH(bool, csv);
        const QString path = dir_.filePath("saturation.db");
        if (!QFile::exists(path)) {
            moescope::test::write_planted_db(path.toStdString(), moescope::CaptureLevel::Routing);
            auto outside = [](const std::vector<int32_t>& ex, int skip) {  // smallest expert not in ex, skipping `skip`
                for (int e = 0; e < 8; ++e)
                    if (std::find(ex.begin(), ex.end(), e) == ex.end() && skip-- == 0) return e;
                return -1;
            };
            moescope::test::write_planted_db(
                path.toStdString(), moescope::CaptureLevel::Routing,
                [&](int, int layer, int pos, std::vector<int32_t>& ex) {
                    if (layer == 0 && pos % 3 == 0) std::swap(ex[0], ex[1]);
                    if ((layer == 0 && pos == 11) || (layer == 1 && pos % 4 == 1)) ex[1] = outside(ex, 0);
                    if (layer == 1 && pos % 4 == 2) ex = {outside(ex, 0), outside(ex, 1)};
                });
        }
        QStringList args{"analyze", "saturation", "--db", path, "--run", "2", "--reference-run", "1"};
        if (csv) args << "--csv";
        auto r = runCli(args);
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(r.err));
        const double want_differ[] = {1.0 / 12, 6.0 / 12};
        const double want_saturation[] = {11.5 / 12, 7.5 / 12};  // mean |A n B| / 2
        auto close = [](double a, double b) { return std::abs(a - b) < 1e-12; };
        if (!csv) {
            const auto j = nlohmann::json::parse(r.out.toStdString());
            QCOMPARE(j.at("analysis").get<std::string>(), std::string("saturation"));
            QCOMPARE(j.at("tokens").get<int>(), 480);
            QCOMPARE(j.at("source").at("runs"), (nlohmann::json{2}));
            QCOMPARE(j.at("layers").size(), size_t{2});
            for (int l : {0, 1}) {
                const auto& L = j.at("layers").at(size_t(l));
                QCOMPARE(L.at("layer").get<int>(), l);
                QVERIFY2(close(L.at("set_differ").get<double>(), want_differ[l]), L.dump().c_str());
                QVERIFY2(close(L.at("saturation").get<double>(), want_saturation[l]), L.dump().c_str());
            }
            return;
        }
        const QStringList lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        const QStringList header = lines[0].trimmed().split(',');
        const auto differ_col = header.indexOf("set_differ"), layer_col = header.indexOf("layer");
        QVERIFY2(differ_col >= 0 && layer_col >= 0, qPrintable(lines[0]));
        for (int l : {0, 1}) {
            const QStringList cells = lines[l + 1].trimmed().split(',');
            QCOMPARE(cells.size(), header.size());
            QCOMPARE(cells[layer_col].toInt(), l);
            QVERIFY2(close(cells[differ_col].toDouble(), want_differ[l]), qPrintable(lines[l + 1]));
        }
    }

    void missing_database() {
        auto r = runCli({"analyze", "load", "--db", dir_.filePath("absent.db")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("absent.db"));
    }
};

QTEST_GUILESS_MAIN(TestCliAnalyze)
#include "test_cli_analyze.moc"
