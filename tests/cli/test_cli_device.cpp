// `eval --device cpu|cuda|auto --precision fp32|bf16`: bad values are usage errors (exit 2); without a
// usable GPU, cuda is a clear error (exit 1) and auto falls back to the CPU with the same output as
// --device cpu. (With a GPU, the `gpu`-labelled engine test covers the CUDA results themselves.)
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "engine/device.h"
#include "tests/support/testsupport.h"

using moescope::test::runCli;

class TestCliDevice : public QObject {
    Q_OBJECT
private slots:
    void badValuesAreUsageErrors_data() {
        QTest::addColumn<QStringList>("flags");
        QTest::addColumn<QString>("expected");
        QTest::newRow("device") << QStringList{"--device", "tpu"} << "unknown device 'tpu'";
        QTest::newRow("precision") << QStringList{"--precision", "fp8"} << "unknown precision 'fp8'";
        QTest::newRow("weights") << QStringList{"--weights", "q4_k"} << "--weights must be native or q8_0";
        QTest::newRow("q8_0 on cuda") << QStringList{"--weights", "q8_0", "--device", "cuda"} << "CPU option";
    }
    void badValuesAreUsageErrors() {
        QFETCH(QStringList, flags);
        QFETCH(QString, expected);
        auto r = runCli(QStringList{"eval", moescope::test::testdataPath("golden/mixtral"), "--tokens", "1,17,42"} + flags);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
    }

    void cudaWithoutGpuIsAClearError() {
        if (moescope::cuda_device_count() > 0) QSKIP("a GPU is present: the no-GPU error path cannot be exercised");
        auto r = runCli({"eval", moescope::test::testdataPath("golden/mixtral"), "--tokens", "1,17,42", "--device", "cuda"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("CUDA backend") || r.err.contains("no usable GPU"), qPrintable(r.err));
    }

    // --weights q8_0 (eval and generate share it): the same output shape, different logits, and the
    // demo model's greedy continuation of a prompt it was trained on is unchanged.
    void q8WeightsRun() {
        const QStringList base{"eval", "demo", "--tokens", "1,200,300,400,17,99,23,45", "--greedy", "4", "--threads", "1"};
        auto native = runCli(base);
        auto q8 = runCli(base + QStringList{"--weights", "q8_0"});
        QCOMPARE(native.exitCode, 0);
        QVERIFY2(q8.exitCode == 0, qPrintable(q8.err));
        const QJsonObject a = QJsonDocument::fromJson(native.out.toUtf8()).object();
        const QJsonObject b = QJsonDocument::fromJson(q8.out.toUtf8()).object();
        QCOMPARE(b["logits_last"].toArray().size(), a["logits_last"].toArray().size());
        QVERIFY(b["logits_last"].toArray() != a["logits_last"].toArray());
        QCOMPARE(b["greedy"].toObject()["new_tokens"].toArray(), a["greedy"].toObject()["new_tokens"].toArray());
    }

    void autoWithoutGpuEqualsCpu() {
        if (moescope::cuda_device_count() > 0) QSKIP("a GPU is present: auto runs on it (covered by the gpu tests)");
        const QStringList base{"eval", moescope::test::testdataPath("golden/mixtral"), "--tokens", "1,17,42,99", "--greedy", "3"};
        auto cpu = runCli(base + QStringList{"--device", "cpu"});
        auto aut = runCli(base + QStringList{"--device", "auto"});
        QCOMPARE(cpu.exitCode, 0);
        QCOMPARE(aut.exitCode, 0);
        QVERIFY(!cpu.out.isEmpty());
        QCOMPARE(aut.out, cpu.out);
        QVERIFY2(aut.err.contains("auto: using the CPU"), qPrintable(aut.err));
    }
};

QTEST_GUILESS_MAIN(TestCliDevice)
#include "test_cli_device.moc"
