// `eval --device cpu|cuda|auto --precision fp32|bf16`: bad values are usage errors (exit 2); without a
// usable GPU, cuda is a clear error (exit 1) and auto falls back to the CPU with the same output as
// --device cpu. (With a GPU, the `gpu`-labelled engine test covers the CUDA results themselves.)
#include <QtTest>

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
