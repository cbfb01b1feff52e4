// moescope-cli front door: help, version, and clear usage errors with exit code 2.
#include <QtTest>

#include "tests/support/testsupport.h"

using moescope::test::runCli;

class TestCliBasics : public QObject {
    Q_OBJECT
private slots:
    void helpListsEverySubcommand() {
        auto r = runCli({"--help"});
        QVERIFY(r.finished);
        QCOMPARE(r.exitCode, 0);
        for (const char* cmd : {"info", "tokenize", "eval", "generate", "record", "analyze", "export", "import", "bench"})
            QVERIFY2(r.out.contains(QStringLiteral("\n  %1 ").arg(QLatin1String(cmd))), cmd);
    }
    void versionReportsCuda() {
        auto r = runCli({"--version"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.startsWith("moescope-cli 0."));
        QVERIFY(r.out.contains("CUDA backend: "));
        QVERIFY(r.out.contains("GPU: "));
    }
    void usageErrors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown command") << QStringList{"frobnicate"} << "unknown command 'frobnicate'";
        QTest::newRow("no command") << QStringList{} << "usage:";
    }
    void usageErrors() {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        auto r = runCli(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2((r.err + r.out).contains(expected), qPrintable(r.err + r.out));
    }
};

QTEST_GUILESS_MAIN(TestCliBasics)
#include "test_cli_basics.moc"
