// Tokenizer building blocks against independent expectations: the regex engine vs Python's
// `regex` module (data/regex_cases.json), NFC/NFD vs Python's unicodedata (data/nfc_vectors.json),
// pre-tokenizer and decoder behaviours vs the examples in the Hugging Face tokenizers docs, and
// added-token flags on small hand-built tokenizers with hand-derived ids.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/components.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/unicode.h"
#include "tests/engine/tokenizer_test_util.h"

using namespace moescope;
using namespace moescope::test;
using json = nlohmann::json;

namespace {
QByteArray read_all(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
    return f.readAll();
}
QString data_path(const QString& name) { return sourceDir() + "/tests/engine/data/" + name; }

QStringList pre_tokenize(const json& spec, const std::string& text, bool at_origin = true) {
    auto pre = tok::make_pre_tokenizer(spec, "test");
    std::vector<tok::Piece> pieces{{text, at_origin}};
    pre->apply(pieces);
    QStringList out;
    for (const auto& p : pieces) out << QString::fromStdString(p.text);
    return out;
}

QString decode_with(const json& spec, const std::vector<std::string>& tokens) {
    auto dec = tok::make_decoder(spec, "test");
    std::vector<std::string> t = tokens;
    dec->apply(t);
    std::string all;
    for (const auto& s : t) all += s;
    return QString::fromStdString(all);
}

// A tiny BPE over single letters, with merges "a b" -> "ab" and "ab c" -> "abc".
json tiny_tokenizer(json added, json normalizer = nullptr, bool pair_merges = false) {
    json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {" ", 3}, {"ab", 4}, {"abc", 5}, {"x", 6}};
    json merges = pair_merges ? json::array({json::array({"a", "b"}), json::array({"ab", "c"})}) : json::array({"a b", "ab c"});
    return {{"version", "1.0"}, {"added_tokens", added}, {"normalizer", normalizer}, {"pre_tokenizer", nullptr},
            {"post_processor", nullptr}, {"decoder", nullptr},
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"unk_token", nullptr}}}};
}

json added_token(int id, const std::string& content, bool special, bool lstrip = false, bool rstrip = false,
                 bool single_word = false, bool normalized = false) {
    return {{"id", id}, {"content", content}, {"special", special}, {"lstrip", lstrip}, {"rstrip", rstrip},
            {"single_word", single_word}, {"normalized", normalized}};
}
}  // namespace

class TestTokenizerComponents : public QObject {
    Q_OBJECT
private slots:
    void regex_matches_data() {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("matches");
        const QJsonArray cases = QJsonDocument::fromJson(read_all(data_path("regex_cases.json"))).object()["cases"].toArray();
        QVERIFY(cases.size() >= 60);
        int k = 0;
        for (const auto& c : cases) {
            const QJsonObject o = c.toObject();
            QStringList m;
            for (const auto& x : o["matches"].toArray()) m << x.toString();
            QTest::newRow(qPrintable(QString("case %1").arg(k++))) << o["pattern"].toString() << o["text"].toString() << m;
        }
    }
    void regex_matches() {
        QFETCH(QString, pattern);
        QFETCH(QString, text);
        QFETCH(QStringList, matches);
        const tok::Regex re = tok::Regex::compile(pattern.toStdString());
        const auto cps = tok::utf8_to_codepoints(text.toStdString());
        std::vector<std::pair<std::size_t, std::size_t>> spans;
        re.find_all(cps.data(), cps.size(), spans);
        QStringList got;
        for (const auto& [b, e] : spans) {
            std::string s;
            for (std::size_t i = b; i < e; ++i) tok::utf8_append(s, cps[i]);
            got << QString::fromStdString(s);
        }
        QCOMPARE(got, matches);
    }

    void regex_rejects_unsupported_data() {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<QString>("message");
        QTest::newRow("anchor") << "^abc" << "anchors";
        QTest::newRow("lookbehind") << "(?<=a)b" << "lookbehind";
        QTest::newRow("backreference") << "(a)\\1" << "back-references";
        QTest::newRow("possessive") << "a++" << "possessive";
        QTest::newRow("unknown property") << "\\p{Greek}" << "\\p{Greek}";
        QTest::newRow("unbalanced") << "(ab" << "missing ')'";
        QTest::newRow("loop over empty match") << "(a*)*" << "empty string";
        QTest::newRow("nesting too deep") << QString(150, '(') + "a" + QString(150, ')') << "nested too deeply";
        QTest::newRow("class intersection") << "[a-z&&[^x]]" << "intersection";
    }
    void regex_rejects_unsupported() {
        QFETCH(QString, pattern);
        QFETCH(QString, message);
        try {
            tok::Regex::compile(pattern.toStdString());
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains(message), e.what());
        }
    }

    void nfc_vectors() {
        const QJsonArray cases = QJsonDocument::fromJson(read_all(data_path("nfc_vectors.json"))).object()["cases"].toArray();
        QVERIFY(cases.size() >= 1000);
        int changed = 0;
        for (const auto& c : cases) {
            const QJsonObject o = c.toObject();
            const std::string in = o["in"].toString().toStdString();
            const std::string nfc = o["nfc"].toString().toStdString();
            QCOMPARE(tok::nfc(in), nfc);
            QCOMPARE(tok::nfd(in), o["nfd"].toString().toStdString());
            changed += in != nfc;
        }
        QVERIFY(changed > 100);   // the vectors really exercise composition
    }

    // tokenizers' SplitDelimiterBehavior documentation example: "the-final--countdown" split on "-".
    void split_behaviors_data() {
        QTest::addColumn<QString>("behavior");
        QTest::addColumn<QStringList>("pieces");
        QTest::newRow("Removed") << "Removed" << QStringList{"the", "final", "countdown"};
        QTest::newRow("Isolated") << "Isolated" << QStringList{"the", "-", "final", "-", "-", "countdown"};
        QTest::newRow("MergedWithPrevious") << "MergedWithPrevious" << QStringList{"the-", "final-", "-", "countdown"};
        QTest::newRow("MergedWithNext") << "MergedWithNext" << QStringList{"the", "-final", "-", "-countdown"};
        QTest::newRow("Contiguous") << "Contiguous" << QStringList{"the", "-", "final", "--", "countdown"};
    }
    void split_behaviors() {
        QFETCH(QString, behavior);
        QFETCH(QStringList, pieces);
        const json spec = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior.toStdString()}, {"invert", false}};
        QCOMPARE(pre_tokenize(spec, "the-final--countdown"), pieces);
    }

    void pre_tokenizers_data() {
        QTest::addColumn<QByteArray>("spec");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("at_origin");
        QTest::addColumn<QStringList>("pieces");
        QTest::newRow("Split regex Removed invert keeps matches")
            << QByteArray(R"({"type":"Split","pattern":{"Regex":"\\p{L}+"},"behavior":"Removed","invert":true})") << "ab 12 cd" << true
            << QStringList{"ab", "cd"};
        QTest::newRow("Digits individual")
            << QByteArray(R"({"type":"Digits","individual_digits":true})") << "Call 123 please" << true
            << QStringList{"Call ", "1", "2", "3", " please"};
        QTest::newRow("Digits contiguous")
            << QByteArray(R"({"type":"Digits","individual_digits":false})") << "Call 123 please" << true
            << QStringList{"Call ", "123", " please"};
        QTest::newRow("Metaspace always split")
            << QByteArray(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true})") << "Hey friend!" << true
            << QStringList{"▁Hey", "▁friend!"};
        QTest::newRow("Metaspace no split")
            << QByteArray(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false})") << "Hey friend!" << true
            << QStringList{"▁Hey▁friend!"};
        QTest::newRow("Metaspace first, not at origin")
            << QByteArray(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false})") << "Hey" << false
            << QStringList{"Hey"};
        QTest::newRow("Metaspace first, at origin")
            << QByteArray(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false})") << "Hey" << true
            << QStringList{"▁Hey"};
        QTest::newRow("ByteLevel with GPT-2 regex")
            << QByteArray(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true})") << "Hello my friend, how is your day going?" << true
            << QStringList{"Hello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ġis", "Ġyour", "Ġday", "Ġgoing", "?"};
        QTest::newRow("ByteLevel prefix space, no regex")
            << QByteArray(R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":false})") << "Hi\n" << true << QStringList{"ĠHiĊ"};
        QTest::newRow("Sequence applies each step to every piece")
            << QByteArray(R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]})")
            << "a 12345" << true << QStringList{"aĠ", "123", "45"};
    }
    void pre_tokenizers() {
        QFETCH(QByteArray, spec);
        QFETCH(QString, text);
        QFETCH(bool, at_origin);
        QFETCH(QStringList, pieces);
        QCOMPARE(pre_tokenize(json::parse(spec.toStdString()), text.toStdString(), at_origin), pieces);
    }

    void decoders_data() {
        QTest::addColumn<QByteArray>("spec");
        QTest::addColumn<QStringList>("tokens");
        QTest::addColumn<QString>("text");
        const QByteArray sp = R"({"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})";
        QTest::newRow("sentencepiece chain") << sp << QStringList{"▁Hello", "▁world"} << "Hello world";
        QTest::newRow("byte fallback joins bytes") << sp << QStringList{"▁", "<0xE6>", "<0x97>", "<0xA5>", "x"} << "日x";
        QTest::newRow("invalid bytes: one U+FFFD each") << sp << QStringList{"<0xE6>", "<0x97>", "x"} << "\uFFFD\uFFFDx";
        QTest::newRow("strip only the first space") << sp << QStringList{"▁▁a"} << " a";
        QTest::newRow("Metaspace decoder") << QByteArray(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always"})")
                                           << QStringList{"▁Hey", "▁friend"} << "Hey friend";
        QTest::newRow("ByteLevel decoder") << QByteArray(R"({"type":"ByteLevel"})") << QStringList{"Hello", "Ġw", "orld", "Ċ", "<|im_end|>"}
                                           << "Hello world\n<|im_end|>";
        QTest::newRow("ByteLevel passes through tokens outside the alphabet")
            << QByteArray(R"({"type":"ByteLevel"})") << QStringList{"<｜User｜>", "Hi"} << "<｜User｜>Hi";
    }
    void decoders() {
        QFETCH(QByteArray, spec);
        QFETCH(QStringList, tokens);
        QFETCH(QString, text);
        std::vector<std::string> t;
        for (const auto& s : tokens) t.push_back(s.toStdString());
        QCOMPARE(decode_with(json::parse(spec.toStdString()), t), text);
    }

    // Ids derived by hand from tokenizers' AddedVocabulary rules.
    void added_tokens_data() {
        QTest::addColumn<QByteArray>("added");
        QTest::addColumn<QByteArray>("normalizer");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("ids");
        const auto row = [](const char* name, json added, json norm, const char* text, const char* ids) {
            QTest::newRow(name) << QByteArray::fromStdString(added.dump()) << QByteArray::fromStdString(norm.dump()) << text << ids;
        };
        row("plain text merges", json::array(), nullptr, "abc ab", "[5,3,4]");
        row("special token split before BPE", json::array({added_token(10, "<x>", true)}), nullptr, "ab<x>c", "[4,10,2]");
        row("longest match wins", json::array({added_token(10, "<x>", true), added_token(11, "<x>>", true)}), nullptr, "a<x>>", "[0,11]");
        row("lstrip absorbs spaces before", json::array({added_token(10, "<x>", true, true)}), nullptr, "a  <x>b", "[0,10,1]");
        row("rstrip absorbs spaces after", json::array({added_token(10, "<x>", true, false, true)}), nullptr, "a<x>  b", "[0,10,1]");
        row("no strip keeps spaces", json::array({added_token(10, "<x>", true)}), nullptr, "a <x> b", "[0,3,10,3,1]");
        row("single_word at word boundary", json::array({added_token(12, "abc", false, false, false, true)}), nullptr, "abc ab", "[12,3,4]");
        row("single_word inside a word is skipped", json::array({added_token(12, "bc", false, false, false, true)}), nullptr, "abc", "[5]");
        row("non-normalized token matched on raw text",
            json::array({added_token(13, "xx", false, false, false, false, false)}),
            json{{"type", "Replace"}, {"pattern", {{"String", "x"}}}, {"content", "c"}}, "axx", "[0,13]");
        row("normalized token matched after normalization",
            json::array({added_token(14, "cc", false, false, false, false, true)}),
            json{{"type", "Replace"}, {"pattern", {{"String", "x"}}}, {"content", "c"}}, "axx", "[0,14]");
        row("normalized token pattern is normalized too",
            json::array({added_token(14, "xx", false, false, false, false, true)}),
            json{{"type", "Replace"}, {"pattern", {{"String", "x"}}}, {"content", "c"}}, "acc", "[0,14]");
    }
    void added_tokens() {
        QFETCH(QByteArray, added);
        QFETCH(QByteArray, normalizer);
        QFETCH(QString, text);
        QFETCH(QString, ids);
        const json spec = tiny_tokenizer(json::parse(added.toStdString()), json::parse(normalizer.toStdString()));
        auto tok = Tokenizer::from_json(spec.dump());
        QVERIFY2(tok.ok(), tok.message().c_str());
        QCOMPARE(ids_str(tok.value().encode(text.toStdString())), ids);
    }

    // Both merges formats, on a tiny file and on a real one converted from pairs to strings.
    void merges_formats() {
        auto strings = Tokenizer::from_json(tiny_tokenizer(json::array()).dump());
        auto pairs = Tokenizer::from_json(tiny_tokenizer(json::array(), nullptr, true).dump());
        QVERIFY(strings.ok() && pairs.ok());
        QCOMPARE(ids_str(strings.value().encode("abcab")), QString("[5,4]"));
        QCOMPARE(ids_str(pairs.value().encode("abcab")), QString("[5,4]"));

        json real = json::parse(read_all(testdataPath("tokenizers/gpt2-olmo-test-fixture/tokenizer.json")).toStdString());
        QVERIFY(real["model"]["merges"][0].is_array());
        json as_strings = real;
        for (auto& m : as_strings["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
        auto a = Tokenizer::from_json(real.dump());
        auto b = Tokenizer::from_json(as_strings.dump());
        QVERIFY(a.ok() && b.ok());
        const std::string text = "The quick brown fox's 12345 jumps\n\tover ünïcödé 日本語 🦙";
        const auto ids = a.value().encode(text);
        QCOMPARE(ids_str(b.value().encode(text)), ids_str(ids));
        QVERIFY(ids.size() < 40);   // merges really applied (byte-level would give ~60 ids)
        QCOMPARE(a.value().decode(ids), text);
    }

    void bad_input_data() {
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<QString>("message");
        const std::string good = tiny_tokenizer(json::array()).dump();
        QTest::newRow("truncated") << QByteArray::fromStdString(good.substr(0, good.size() / 2)) << "invalid JSON";
        QTest::newRow("not json") << QByteArray("tokenizer") << "invalid JSON";
        QTest::newRow("not an object") << QByteArray("[1,2]") << "not a JSON object";
        json t = tiny_tokenizer(json::array());
        t["model"]["type"] = "WordPiece";
        QTest::newRow("unknown model type") << QByteArray::fromStdString(t.dump()) << "unsupported model type 'WordPiece'";
        t = tiny_tokenizer(json::array());
        t["model"]["merges"].push_back("a q");
        QTest::newRow("merge with unknown token") << QByteArray::fromStdString(t.dump()) << "refers to unknown token 'q'";
        t = tiny_tokenizer(json::array());
        t["model"]["merges"].push_back("c c");
        QTest::newRow("merge result not in vocab") << QByteArray::fromStdString(t.dump()) << "produces 'cc'";
        t = tiny_tokenizer(json::array());
        t["model"]["merges"].push_back(42);
        QTest::newRow("malformed merge") << QByteArray::fromStdString(t.dump()) << "merge #2";
        t = tiny_tokenizer(json::array());
        t["pre_tokenizer"] = {{"type", "Whitespace"}};
        QTest::newRow("unknown pre-tokenizer") << QByteArray::fromStdString(t.dump()) << "unsupported pre_tokenizer type 'Whitespace'";
        t = tiny_tokenizer(json::array());
        t["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(?<=a)b"}}}, {"behavior", "Isolated"}};
        QTest::newRow("unsupported regex") << QByteArray::fromStdString(t.dump()) << "lookbehind is not supported";
        t = tiny_tokenizer(json::array());
        t["model"].erase("vocab");
        QTest::newRow("missing vocab") << QByteArray::fromStdString(t.dump()) << "'vocab' must be an object";
        t = tiny_tokenizer(json::array());
        t["model"]["vocab"]["a"] = "zero";
        QTest::newRow("non-integer id") << QByteArray::fromStdString(t.dump()) << "non-integer id";
    }
    void bad_input() {
        QFETCH(QByteArray, file);
        QFETCH(QString, message);
        auto r = Tokenizer::from_json(file.toStdString(), {}, "bad/tokenizer.json");
        QVERIFY(!r.ok());
        QVERIFY2(QString::fromStdString(r.message()).contains(message), r.message().c_str());
        QVERIFY2(r.message().rfind("bad/tokenizer.json", 0) == 0, r.message().c_str());   // names the file
    }

    void bad_text_and_ids() {
        const Tokenizer& tok = real_tokenizer("qwen3");
        for (const char* bad : {"abc\xff", "\xc3", "\xed\xa0\x80", "ok\xe2\x82"}) {
            try {
                tok.encode(bad);
                QFAIL("invalid UTF-8 accepted");
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains("not valid UTF-8"), e.what());
            }
        }
        QVERIFY_THROWS_EXCEPTION(Error, tok.decode({1, 999999}));
        QVERIFY_THROWS_EXCEPTION(Error, tok.decode({-1}));
        const Tokenizer unloaded;
        QVERIFY_THROWS_EXCEPTION(Error, unloaded.encode("x"));
        QVERIFY_THROWS_EXCEPTION(Error, unloaded.vocab_size());
        auto missing = Tokenizer::from_file("/nonexistent/tokenizer.json");
        QVERIFY(!missing.ok());
        QVERIFY(QString::fromStdString(missing.message()).contains("/nonexistent/tokenizer.json: cannot open"));
        auto no_dir = Tokenizer::from_model_dir("/nonexistent");
        QVERIFY(!no_dir.ok());
        QVERIFY(QString::fromStdString(no_dir.message()).contains("not found"));
    }
};

QTEST_GUILESS_MAIN(TestTokenizerComponents)
#include "test_tokenizer_components.moc"
