// Tokenizer API around encode/decode: streaming detokenization, special-token ids from
// tokenizer_config.json, BOS handling (post-processor vs add_bos_token), skip_special.
#include <QtTest>

#include "engine/tokenizer/unicode.h"
#include "tests/engine/tokenizer_test_util.h"

using namespace moescope;
using namespace moescope::test;

class TestTokenizerApi : public QObject {
    Q_OBJECT
private slots:
    // Pushing ids one at a time: every chunk is valid UTF-8 (no half characters), the chunks add
    // up to the full decode, and characters split over several byte tokens are held back.
    void incremental_decoding_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<QByteArray>("text");
        QTest::newRow("qwen3 emoji and CJK") << "qwen3" << QByteArray("Hello 🦙 world 日本語 👍🏽 done");
        QTest::newRow("qwen3 rare CJK") << "qwen3" << QByteArray("𠀀𠀁 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢");
        QTest::newRow("mixtral byte fallback") << "mixtral-8x7b" << QByteArray("A 𠀀 B 🦙 C");
        QTest::newRow("mixtral leading space stripped once") << "mixtral-8x7b" << QByteArray(" two  spaces");
        QTest::newRow("deepseek-v3 mixed") << "deepseek-v3" << QByteArray("Привет, 世界! 🏳️‍🌈");
        QTest::newRow("olmoe spaces and tabs") << "olmoe-gpt-neox-olmo-dolma-v1_5" << QByteArray("a\t\tb        c ü");
    }
    void incremental_decoding() {
        QFETCH(QString, family);
        QFETCH(QByteArray, text);
        const Tokenizer& tok = real_tokenizer(family);
        const auto ids = tok.encode(text.toStdString());
        IncrementalDecoder dec(tok);
        std::string all;
        int held = 0;
        for (int32_t id : ids) {
            const std::string piece = dec.push(id);
            QVERIFY2(tok::utf8_valid(piece), piece.c_str());
            QVERIFY2(piece.find("\xEF\xBF\xBD") == std::string::npos, "emitted U+FFFD for a split character");
            held += piece.empty();
            all += piece;
        }
        all += dec.finish();
        QCOMPARE(QByteArray::fromStdString(all), QByteArray::fromStdString(tok.decode(ids)));
        if (family != "olmoe-gpt-neox-olmo-dolma-v1_5" && !text.startsWith(' ')) QVERIFY(held > 0);
    }

    // An id sequence that ends inside a character: the tail is held back, then flushed by finish().
    void incremental_holds_incomplete_tail() {
        const Tokenizer& tok = real_tokenizer("qwen3");
        auto ids = tok.encode("ab𠀀");   // [ab, 3 byte-level tokens for U+20000]
        QVERIFY(ids.size() >= 3);
        ids.pop_back();   // drop the last byte token of the emoji
        IncrementalDecoder dec(tok);
        std::string streamed;
        for (int32_t id : ids) streamed += dec.push(id);
        QCOMPARE(QByteArray::fromStdString(streamed), QByteArray("ab"));
        QCOMPARE(QByteArray::fromStdString(dec.finish()), QByteArray("\xEF\xBF\xBD"));
    }

    void special_ids_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<int>("bos");
        QTest::addColumn<int>("eos");
        QTest::addColumn<int>("pad");
        QTest::addColumn<int>("vocab");
        QTest::newRow("qwen3") << "qwen3" << -1 << 151645 << 151643 << 151669;
        QTest::newRow("deepseek-v3") << "deepseek-v3" << 0 << 1 << 1 << 128815;
        QTest::newRow("mixtral") << "mixtral-8x7b" << 1 << 2 << -1 << 32000;
    }
    void special_ids() {
        QFETCH(QString, family);
        QFETCH(int, bos);
        QFETCH(int, eos);
        QFETCH(int, pad);
        QFETCH(int, vocab);
        const Tokenizer& tok = real_tokenizer(family, true);
        QCOMPARE(tok.bos_id().value_or(-1), bos);
        QCOMPARE(tok.eos_id().value_or(-1), eos);
        QCOMPARE(tok.pad_id().value_or(-1), pad);
        QCOMPARE(tok.vocab_size(), vocab);
        QVERIFY(tok.is_special(eos));
        QCOMPARE(*tok.token_to_id(tok.token_to_piece(eos)), eos);
    }

    // DeepSeek-V3's tokenizer.json adds no BOS; transformers adds it from add_bos_token (config).
    void bos_from_config_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<bool>("with_config");
        QTest::addColumn<QString>("ids");
        QTest::newRow("deepseek json only") << "deepseek-v3" << false << "[19923]";
        QTest::newRow("deepseek with config") << "deepseek-v3" << true << "[0,19923]";
        QTest::newRow("mixtral json only") << "mixtral-8x7b" << false << "[1,22557]";
        QTest::newRow("mixtral with config") << "mixtral-8x7b" << true << "[1,22557]";
        QTest::newRow("qwen3 with config") << "qwen3" << true << "[9707]";
    }
    void bos_from_config() {
        QFETCH(QString, family);
        QFETCH(bool, with_config);
        QFETCH(QString, ids);
        QCOMPARE(ids_str(real_tokenizer(family, with_config).encode("Hello", true)), ids);
    }

    void skip_special_and_pieces() {
        const Tokenizer& tok = real_tokenizer("qwen3");
        const auto ids = tok.encode("<|im_start|>user\nHi<|im_end|>");
        QCOMPARE(ids_str(ids), QString("[151644,872,198,13048,151645]"));
        QCOMPARE(QByteArray::fromStdString(tok.decode(ids, true)), QByteArray("user\nHi"));
        QCOMPARE(QByteArray::fromStdString(tok.decode(ids, false)), QByteArray("<|im_start|>user\nHi<|im_end|>"));
        QCOMPARE(QByteArray::fromStdString(tok.token_to_piece(198)), QByteArray("Ċ"));
        QVERIFY(!tok.is_special(198));
        QVERIFY(!tok.token_to_id("no such token").has_value());
        QVERIFY_THROWS_EXCEPTION(Error, tok.token_to_piece(10000000));
    }
};

QTEST_GUILESS_MAIN(TestTokenizerApi)
#include "test_tokenizer_api.moc"
