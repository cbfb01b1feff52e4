// Exactness against independent references: ids produced by the Hugging Face `tokenizers` library
// (testdata/tokenizer-vectors/*.json, all five tokenizers, every case) and llama.cpp's tokenizer
// test vectors (testdata/llamacpp-vocab/*.inp/.out) for the tokenizers they cross-validate.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "tests/engine/tokenizer_test_util.h"

using namespace moescope;
using namespace moescope::test;

namespace {
std::vector<int32_t> to_ids(const QJsonArray& a) {
    std::vector<int32_t> v;
    for (const auto& x : a) v.push_back(static_cast<int32_t>(x.toInteger()));
    return v;
}
QByteArray read_all(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
    return f.readAll();
}
}  // namespace

class TestTokenizerVectors : public QObject {
    Q_OBJECT
private slots:
    void hf_vectors_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("ids");
        QTest::addColumn<QString>("ids_add_special");
        QTest::addColumn<QByteArray>("decoded");
        const QStringList families = {"qwen3", "deepseek-v3", "mixtral-8x7b", "olmoe-gpt-neox-olmo-dolma-v1_5", "olmo2-dolma2"};
        for (const QString& fam : families) {
            const QJsonObject doc = QJsonDocument::fromJson(read_all(testdataPath("tokenizer-vectors/" + fam + ".json"))).object();
            const QJsonArray cases = doc["cases"].toArray();
            QVERIFY2(cases.size() >= 46, qPrintable(fam));
            int k = 0;
            for (const auto& c : cases) {
                const QJsonObject o = c.toObject();
                QTest::newRow(qPrintable(QString("%1 #%2").arg(fam).arg(k++)))
                    << fam << o["text"].toString().toUtf8() << ids_str(to_ids(o["ids"].toArray()))
                    << ids_str(to_ids(o["ids_add_special"].toArray())) << o["decoded"].toString().toUtf8();
            }
        }
    }
    void hf_vectors() {
        QFETCH(QString, family);
        QFETCH(QByteArray, text);
        QFETCH(QString, ids);
        QFETCH(QString, ids_add_special);
        QFETCH(QByteArray, decoded);
        const Tokenizer& tok = real_tokenizer(family);
        const std::string t = text.toStdString();
        const auto got = tok.encode(t, false);
        QCOMPARE(ids_str(got), ids);
        QCOMPARE(ids_str(tok.encode(t, true)), ids_add_special);
        QCOMPARE(QByteArray::fromStdString(tok.decode(got)), decoded);
    }

    // llama.cpp .out = common_tokenize(add_special=false, parse_special=false). The inputs contain no
    // special-token text, so parse_special does not matter for them.
    void llamacpp_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("ids");
        const QList<QPair<QString, QString>> pairs = {{"gpt2-olmo-test-fixture", "ggml-vocab-gpt-2"},
                                                      {"qwen3", "ggml-vocab-qwen2"},
                                                      {"qwen3", "ggml-vocab-deepseek-r1-qwen"}};
        for (const auto& [fam, vocab] : pairs) {
            const QByteArray inp = read_all(testdataPath("llamacpp-vocab/" + vocab + ".gguf.inp"));
            const QByteArray out = read_all(testdataPath("llamacpp-vocab/" + vocab + ".gguf.out"));
            QList<QByteArray> inputs;
            const QByteArray sep = "\n__ggml_vocab_test__\n";
            qsizetype from = 0;
            for (qsizetype at; (at = inp.indexOf(sep, from)) >= 0; from = at + sep.size()) inputs << inp.mid(from, at - from);
            const QList<QByteArray> lines = out.split('\n');
            QCOMPARE(inputs.size(), 46);
            QVERIFY(lines.size() >= inputs.size());
            for (int k = 0; k < inputs.size(); ++k) {
                std::vector<int32_t> expect;
                for (const QByteArray& w : lines[k].trimmed().split(' '))
                    if (!w.isEmpty()) expect.push_back(w.toInt());
                QTest::newRow(qPrintable(QString("%1 #%2").arg(vocab).arg(k))) << fam << inputs[k] << ids_str(expect);
            }
        }
    }
    void llamacpp() {
        QFETCH(QString, family);
        QFETCH(QByteArray, text);
        QFETCH(QString, ids);
        QCOMPARE(ids_str(real_tokenizer(family).encode(text.toStdString(), false)), ids);
    }
};

QTEST_GUILESS_MAIN(TestTokenizerVectors)
#include "test_tokenizer_vectors.moc"
