// moescope-cli generate (token-id prompts; the golden files have no tokenizer) and info.
#include <QtTest>

#include <filesystem>

#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/fixture_model.h"
#include "tests/support/golden.h"
#include "tests/support/testsupport.h"

using moescope::test::runCli;

namespace {
QString goldenIds(const moescope::test::GoldenCase& g) {
    QStringList ids;
    for (const auto& t : g.expected["input_ids"]) ids << QString::number(t.get<int>());
    return ids.join(',');
}
}  // namespace

class TestCliGenerate : public QObject {
    Q_OBJECT
private slots:
    // Greedy generate --json reproduces the golden greedy tokens of every setting.
    void greedyMatchesGolden_data() {
        QTest::addColumn<QString>("setting");
        QTest::addColumn<QStringList>("flags");
        QTest::newRow("baseline") << "baseline" << QStringList{};
        QTest::newRow("disable") << "disable" << QStringList{"--disable", "1:0"};
        QTest::newRow("force") << "force" << QStringList{"--force", "1:5"};
        QTest::newRow("topk1") << "topk1" << QStringList{"--top-k-experts", "1"};
        // the BF16 KV cache keeps the greedy continuation (its stated tolerance, tests/engine/test_kv_bf16.cpp)
        QTest::newRow("baseline, bf16 kv cache") << "baseline" << QStringList{"--kv-dtype", "bf16"};
    }
    void greedyMatchesGolden() {
        QFETCH(QString, setting);
        QFETCH(QStringList, flags);
        moescope::test::GoldenCase g;
        QString err;
        QVERIFY2(moescope::test::loadGolden("mixtral", setting, g, err), qPrintable(err));
        auto r = runCli(QStringList{"generate", moescope::test::testdataPath("golden/mixtral"), "--tokens", goldenIds(g),
                                    "--max-new", "16", "--greedy", "--ignore-eos", "--json", "--threads", "1"} + flags);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(j["tokens"], g.result["greedy"]["new_tokens"]);
        QCOMPARE(j["steps"].size(), size_t(16));
        QCOMPARE(j["steps"][0]["routing"].size(), size_t(3));
        QCOMPARE(j["stop_reason"], "max_new_tokens");
        // steps[0].routing is the last prompt position's routing (the golden prompt forward)
        for (int l = 0; l < 3; ++l) {
            auto want = g.result["routing"][l]["experts"].back();
            auto got = j["steps"][0]["routing"][l]["experts"];
            std::sort(want.begin(), want.end());
            std::sort(got.begin(), got.end());
            QCOMPARE(got, want);
        }
    }

    void seededSamplingIsReproducible() {
        const QStringList args{"generate", moescope::test::testdataPath("golden/qwen3_moe"), "--tokens", "1,2,3",
                               "--max-new", "12", "--temperature", "0.9", "--top-p", "0.95", "--seed", "5", "--json", "--ignore-eos"};
        auto a = runCli(args), b = runCli(args);
        QCOMPARE(a.exitCode, 0);
        QCOMPARE(nlohmann::json::parse(a.out.toStdString())["tokens"], nlohmann::json::parse(b.out.toStdString())["tokens"]);
    }

    void usageErrors_data() {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("expected");
        QTest::newRow("prompt and tokens") << QStringList{"--prompt", "x", "--tokens", "1"} << "exactly one of --prompt or --tokens";
        QTest::newRow("neither") << QStringList{} << "exactly one of --prompt or --tokens";
        QTest::newRow("greedy and temperature") << QStringList{"--tokens", "1", "--greedy", "--temperature", "0.5"} << "--greedy cannot be combined";
        QTest::newRow("bad temperature") << QStringList{"--tokens", "1", "--temperature", "0"} << "temperature must be > 0";
        QTest::newRow("disable out of range") << QStringList{"--tokens", "1", "--disable", "1:99"} << "expert 99 is out of range";
        QTest::newRow("chat without prompt") << QStringList{"--tokens", "1", "--chat"} << "--chat needs --prompt";
        QTest::newRow("bad max-new") << QStringList{"--tokens", "1", "--max-new", "-3"} << "--max-new";
    }
    void usageErrors() {
        QFETCH(QStringList, extra);
        QFETCH(QString, expected);
        auto r = runCli(QStringList{"generate", moescope::test::testdataPath("golden/mixtral")} + extra);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
    }

    // Text prompts go through the model folder's tokenizer; --chat renders the chat template.
    void textPromptAndChat_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("tokenizer");
        QTest::addColumn<int>("vocab");
        QTest::addColumn<bool>("chat");
        QTest::newRow("olmoe text") << "olmoe" << "olmoe-gpt-neox-olmo-dolma-v1_5" << 50304 << false;
        QTest::newRow("qwen3 chat template") << "qwen3_moe" << "qwen3" << 151669 << true;
    }
    void textPromptAndChat() {
        QFETCH(QString, arch);
        QFETCH(QString, tokenizer);
        QFETCH(int, vocab);
        QFETCH(bool, chat);
        QTemporaryDir tmp;
        auto spec = moescope::test::FixtureSpec::forArch(arch.toStdString());
        spec.vocab = vocab;
        spec.tie_embeddings = true;
        spec.hidden = 16;
        spec.heads = 2;
        spec.kv_heads = 1;
        const std::string dir = moescope::test::writeFixture(tmp.path().toStdString(), spec);
        namespace fs = std::filesystem;
        const fs::path src = moescope::test::testdataPath("tokenizers/" + tokenizer).toStdString();
        for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
            if (fs::exists(src / f)) fs::copy_file(src / f, fs::path(dir) / f);
        const QString prompt = "Hello, world! Tell me a story.";
        QStringList args{"generate", QString::fromStdString(dir), "--prompt", prompt, "--max-new", "5", "--greedy",
                         "--ignore-eos", "--json", "--threads", "1"};
        if (chat) args << "--chat";
        auto r = runCli(args);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        auto j = nlohmann::json::parse(r.out.toStdString());
        auto tok = moescope::Tokenizer::from_model_dir(dir);
        QVERIFY2(tok.ok(), tok.message().c_str());
        std::vector<int32_t> want;
        if (chat) {
            auto text = moescope::render_chat(tok.value(), {{"user", prompt.toStdString()}}, true);
            QVERIFY(text.ok());
            QVERIFY(text.value().find("<|im_start|>assistant") != std::string::npos);
            want = tok.value().encode(text.value(), false);
        } else {
            want = tok.value().encode(prompt.toStdString(), true);
        }
        QCOMPARE(j["prompt_tokens"].get<std::vector<int32_t>>(), want);
        const auto ids = j["tokens"].get<std::vector<int32_t>>();
        QCOMPARE(ids.size(), size_t(5));
        QCOMPARE(j["text"].get<std::string>(), tok.value().decode(ids));
        // streaming mode prints the same text
        args.removeAll("--json");
        auto s = runCli(args);
        QCOMPARE(s.exitCode, 0);
        QCOMPARE(s.out.toStdString(), j["text"].get<std::string>() + "\n");
    }

    // Non-MoE layers are rejected with exit 2 (DeepSeek fixture: layer 0 is dense).
    void nonMoeLayerRejected() {
        QTemporaryDir tmp;
        const std::string dir = moescope::test::writeFixture(tmp.path().toStdString(),
                                                             moescope::test::FixtureSpec::forArch("deepseek_v3"));
        auto r = runCli({"eval", QString::fromStdString(dir), "--tokens", "1,2", "--disable", "0:1"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("layer 0 is not a MoE layer (MoE layers: 1,2)"), qPrintable(r.err));
        auto info = runCli({"info", QString::fromStdString(dir), "--context", "100"});
        QCOMPARE(info.exitCode, 0);
        auto j = nlohmann::json::parse(info.out.toStdString());
        QCOMPARE(j["architecture"], "deepseek_v3");
        QCOMPARE(j["moe_layers"], nlohmann::json::array({1, 2}));
        QCOMPARE(j["dense_layers"], nlohmann::json::array({0}));
        QCOMPARE(j["attention"], "mla");
        QCOMPARE(j["router"], "sigmoid_group_limited");
        QCOMPARE(j["n_shared_experts"], 1);
        QCOMPARE(j["memory_bytes"].get<uint64_t>(),
                 j["weight_bytes"].get<uint64_t>() + 100 * j["kv_bytes_per_token"].get<uint64_t>());
        QVERIFY(j["params_active"].get<int64_t>() < j["params_total"].get<int64_t>());
    }
};

QTEST_GUILESS_MAIN(TestCliGenerate)
#include "test_cli_generate.moc"
