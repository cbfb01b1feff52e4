// moescope-cli tokenize: JSON lines in, JSON lines out; ids checked against the HF vectors.
#include <QtTest>

#include "tests/support/testsupport.h"

using moescope::test::runCli;
using moescope::test::testdataPath;

class TestCliTokenize : public QObject {
    Q_OBJECT
private slots:
    void encode_decode_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QByteArray>("in");
        QTest::addColumn<QString>("out");
        const QString qwen = testdataPath("tokenizers/qwen3/tokenizer.json");
        // ids from testdata/tokenizer-vectors/qwen3.json ("Führer") and mixtral-8x7b.json ("<s>literal bos</s>").
        QTest::newRow("stdin lines") << QStringList{"tokenize", "--tokenizer", qwen}
                                     << QByteArray("\"Führer\"\n\n\"<|im_start|>user\\nHi<|im_end|>\"\n")
                                     << "[37,50753,261]\n[151644,872,198,13048,151645]\n";
        QTest::newRow("--text") << QStringList{"tokenize", "--tokenizer", qwen, "--text", "Führer"} << QByteArray() << "[37,50753,261]\n";
        QTest::newRow("add-special mixtral") << QStringList{"tokenize", testdataPath("tokenizers/mixtral-8x7b"), "--add-special", "--text", "<s>literal bos</s>"}
                                             << QByteArray() << "[1,1,20819,16158,2]\n";
        QTest::newRow("model dir adds deepseek BOS from config")
            << QStringList{"tokenize", testdataPath("tokenizers/deepseek-v3"), "--add-special", "--text", "Hello"} << QByteArray() << "[0,19923]\n";
        QTest::newRow("decode stdin") << QStringList{"tokenize", "--tokenizer", qwen, "--decode"}
                                      << QByteArray("[37,50753,261]\n[151644,872]\n") << "\"Führer\"\n\"<|im_start|>user\"\n";
        QTest::newRow("decode skip special") << QStringList{"tokenize", "--tokenizer", qwen, "--decode", "--skip-special", "--text", "[151644,872]"}
                                             << QByteArray() << "\"user\"\n";
    }
    void encode_decode() {
        QFETCH(QStringList, args);
        QFETCH(QByteArray, in);
        QFETCH(QString, out);
        const auto r = runCli(args, in);
        QVERIFY(r.finished);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(r.out, out);
    }

    void errors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QByteArray>("in");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        const QString qwen = testdataPath("tokenizers/qwen3/tokenizer.json");
        QTest::newRow("no tokenizer") << QStringList{"tokenize"} << QByteArray() << 2 << "missing MODEL_DIR or --tokenizer";
        QTest::newRow("both sources") << QStringList{"tokenize", "dir", "--tokenizer", qwen} << QByteArray() << 2 << "not both";
        QTest::newRow("bad json line") << QStringList{"tokenize", "--tokenizer", qwen} << QByteArray("\"ok\"\nnot json\n") << 1 << "stdin line 2: invalid JSON";
        QTest::newRow("not a string") << QStringList{"tokenize", "--tokenizer", qwen} << QByteArray("[1]\n") << 1 << "expected a JSON string";
        QTest::newRow("invalid utf-8 on stdin") << QStringList{"tokenize", "--tokenizer", qwen} << QByteArray("\"a\xff\"\n") << 1
                                                << "stdin line 1: invalid JSON";
        QTest::newRow("id out of range") << QStringList{"tokenize", "--tokenizer", qwen, "--decode", "--text", "[1, 99999999]"}
                                         << QByteArray() << 1 << "outside the vocabulary";
        QTest::newRow("missing file") << QStringList{"tokenize", "--tokenizer", "/nonexistent/tokenizer.json", "--text", "x"}
                                      << QByteArray() << 1 << "/nonexistent/tokenizer.json: cannot open";
        QTest::newRow("model dir without tokenizer") << QStringList{"tokenize", "/nonexistent", "--text", "x"} << QByteArray() << 1 << "not found";
    }
    void errors() {
        QFETCH(QStringList, args);
        QFETCH(QByteArray, in);
        QFETCH(int, code);
        QFETCH(QString, message);
        const auto r = runCli(args, in);
        QVERIFY(r.finished);
        QCOMPARE(r.exitCode, code);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliTokenize)
#include "test_cli_tokenize.moc"
