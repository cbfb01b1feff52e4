// Chat templates: the Jinja subset (data/chat_template_cases.json, expectations written by hand
// and cross-checked against Python Jinja2 3.1.6 with transformers' environment during development)
// and the real templates of each family rendered to hand-checked prompts.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "engine/tokenizer/chat_template.h"
#include "tests/engine/tokenizer_test_util.h"

using namespace moescope;
using namespace moescope::test;

namespace {
QByteArray read_all(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
    return f.readAll();
}
QString data_path(const QString& name) { return sourceDir() + "/tests/engine/data/" + name; }

std::vector<ChatMessage> msgs(const QStringList& flat) {   // role, content, role, content, ...
    std::vector<ChatMessage> out;
    for (int k = 0; k + 1 < flat.size(); k += 2) out.push_back({flat[k].toStdString(), flat[k + 1].toStdString()});
    return out;
}
}  // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT
private slots:
    void subset_data() {
        QTest::addColumn<QByteArray>("tmpl");
        QTest::addColumn<QByteArray>("context");
        QTest::addColumn<QByteArray>("expected");
        QTest::addColumn<QByteArray>("error");
        const QJsonArray cases = QJsonDocument::fromJson(read_all(data_path("chat_template_cases.json"))).array();
        QVERIFY(cases.size() >= 30);
        for (const auto& c : cases) {
            const QJsonObject o = c.toObject();
            QTest::newRow(qPrintable(o["name"].toString()))
                << o["template"].toString().toUtf8() << QJsonDocument(o["context"].toObject()).toJson(QJsonDocument::Compact)
                << o["expected"].toString().toUtf8() << o["error"].toString().toUtf8();
        }
    }
    void subset() {
        QFETCH(QByteArray, tmpl);
        QFETCH(QByteArray, context);
        QFETCH(QByteArray, expected);
        QFETCH(QByteArray, error);
        std::string message;
        std::string out;
        auto t = ChatTemplate::parse(tmpl.toStdString());
        if (!t) {
            message = t.message();
        } else {
            auto r = t.value().render_context(nlohmann::json::parse(context.toStdString()));
            if (r) out = r.value(); else message = r.message();
        }
        if (error.isEmpty()) {
            QVERIFY2(message.empty(), message.c_str());
            QCOMPARE(QByteArray::fromStdString(out), expected);
        } else {
            QVERIFY2(message.find(error.toStdString()) != std::string::npos, message.c_str());
            QVERIFY(message.find("chat template") != std::string::npos);
        }
    }

    void families_data() {
        QTest::addColumn<QString>("family");      // testdata tokenizer folder ("" = template file only)
        QTest::addColumn<QString>("tmpl_file");   // tests/engine/data file ("" = the config's template)
        QTest::addColumn<QStringList>("messages");
        QTest::addColumn<bool>("gen");
        QTest::addColumn<QByteArray>("extra");
        QTest::addColumn<QByteArray>("expected");
        const QByteArray none = "{}";
        QTest::newRow("qwen3 system+user, generation prompt")
            << "qwen3" << "" << QStringList{"system", "You are helpful.", "user", "Hi"} << true << none
            << QByteArray("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        QTest::newRow("qwen3 enable_thinking=false")
            << "qwen3" << "" << QStringList{"system", "You are helpful.", "user", "Hi"} << true << QByteArray(R"({"enable_thinking": false})")
            << QByteArray("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
        QTest::newRow("qwen3 earlier reasoning dropped")
            << "qwen3" << "" << QStringList{"user", "2+2?", "assistant", "<think>\nadd\n</think>\n\n4", "user", "3+3?"} << true << none
            << QByteArray("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n");
        QTest::newRow("qwen3 last turn keeps reasoning")
            << "qwen3" << "" << QStringList{"user", "Q", "assistant", "<think>\nR\n</think>\n\nA"} << false << none
            << QByteArray("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nR\n</think>\n\nA<|im_end|>\n");
        QTest::newRow("qwen3 last turn without reasoning gets empty think")
            << "qwen3" << "" << QStringList{"user", "Q", "assistant", "A"} << false << none
            << QByteArray("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
        QTest::newRow("deepseek-v3 systems joined, multi-turn")
            << "deepseek-v3" << "" << QStringList{"system", "S1", "system", "S2", "user", "Hi", "assistant", "Hello", "user", "Bye"} << true << none
            << QByteArray("<｜begin▁of▁sentence｜>S1\n\nS2<｜User｜>Hi<｜Assistant｜>Hello<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜>");
        QTest::newRow("deepseek-v3 no generation prompt")
            << "deepseek-v3" << "" << QStringList{"user", "Hi"} << false << none << QByteArray("<｜begin▁of▁sentence｜><｜User｜>Hi");
        const QByteArray mixtral = R"({"bos_token": "<s>", "eos_token": "</s>"})";
        QTest::newRow("mixtral-instruct multi-turn")
            << "" << "mixtral-instruct.jinja" << QStringList{"user", "Hi", "assistant", "Hello", "user", "Bye"} << true << mixtral
            << QByteArray("<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]");
        const QByteArray olmoe = R"({"bos_token": "", "eos_token": "<|endoftext|>"})";
        QTest::newRow("olmoe-instruct system+user, generation prompt")
            << "" << "olmoe-instruct.jinja" << QStringList{"system", "S", "user", "Hi"} << true << olmoe
            << QByteArray("<|system|>\nS\n<|user|>\nHi\n<|assistant|>\n");
        QTest::newRow("olmoe-instruct history")
            << "" << "olmoe-instruct.jinja" << QStringList{"user", "Hi", "assistant", "Hello", "user", "Bye"} << false << olmoe
            << QByteArray("<|user|>\nHi\n<|assistant|>\nHello<|endoftext|>\n<|user|>\nBye\n");
        QTest::newRow("olmoe-instruct last assistant has no newline")
            << "" << "olmoe-instruct.jinja" << QStringList{"user", "Hi", "assistant", "Hello"} << false << olmoe
            << QByteArray("<|user|>\nHi\n<|assistant|>\nHello<|endoftext|>");
    }
    void families() {
        QFETCH(QString, family);
        QFETCH(QString, tmpl_file);
        QFETCH(QStringList, messages);
        QFETCH(bool, gen);
        QFETCH(QByteArray, extra);
        QFETCH(QByteArray, expected);
        const auto x = nlohmann::json::parse(extra.toStdString());
        Result<std::string> r = std::string();
        if (!family.isEmpty()) {
            std::string notice = "unset";
            r = render_chat(real_tokenizer(family, true), msgs(messages), gen, x, &notice);
            QVERIFY(notice.empty());
        } else {
            auto t = ChatTemplate::parse(read_all(data_path(tmpl_file)).toStdString());
            QVERIFY2(t.ok(), t.message().c_str());
            r = t.value().render(msgs(messages), gen, x);
        }
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(QByteArray::fromStdString(r.value()), expected);
    }

    void mixtral_rejects_bad_roles_data() {
        QTest::addColumn<QStringList>("messages");
        QTest::newRow("two users") << QStringList{"user", "Hi", "user", "Hi again"};
        QTest::newRow("system first") << QStringList{"system", "S", "user", "Hi"};
    }
    void mixtral_rejects_bad_roles() {
        QFETCH(QStringList, messages);
        auto t = ChatTemplate::parse(read_all(data_path("mixtral-instruct.jinja")).toStdString());
        QVERIFY(t.ok());
        auto r = t.value().render(msgs(messages), true, {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("Conversation roles must alternate") != std::string::npos, r.message().c_str());
    }

    // No template (the Mixtral base config): plain text plus a notice.
    void fallback_without_template() {
        std::string notice;
        auto r = render_chat(real_tokenizer("mixtral-8x7b", true), msgs({"user", "Hi", "assistant", "Yo"}), true, {}, &notice);
        QVERIFY(r.ok());
        QCOMPARE(QByteArray::fromStdString(r.value()), QByteArray("user: Hi\nassistant: Yo\nassistant:"));
        QVERIFY(notice.find("no chat template") != std::string::npos);
    }

    // The rendered prompt already holds the BOS text, so it is tokenized with add_special=false
    // (as apply_chat_template does) and BOS appears exactly once.
    void deepseek_prompt_has_one_bos() {
        const Tokenizer& tok = real_tokenizer("deepseek-v3", true);
        auto r = render_chat(tok, msgs({"user", "Hi"}), true);
        QVERIFY(r.ok());
        const auto ids = tok.encode(r.value(), false);
        QVERIFY(ids.size() >= 4);
        QCOMPARE(ids.front(), *tok.bos_id());
        QCOMPARE(std::count(ids.begin(), ids.end(), *tok.bos_id()), 1);
        QCOMPARE(ids.back(), *tok.token_to_id("<｜Assistant｜>"));
    }
};

QTEST_GUILESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"
