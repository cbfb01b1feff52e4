// The slow variant of test_recorder_crash: 200 kill -9 cycles over several seeds.
#include "tests/storage/crash_harness.h"

class TestRecorderCrashSlow : public QObject {
    Q_OBJECT
private slots:
    void kill9_many_data() {
        QTest::addColumn<int>("kills");
        QTest::addColumn<qulonglong>("seed");
        for (int s = 10; s < 14; ++s)
            QTest::newRow(qPrintable(QString("kill -9 x50, seed %1").arg(s))) << 50 << qulonglong(s);
    }
    void kill9_many() {
        QFETCH(int, kills);
        QFETCH(qulonglong, seed);
        QString err = moescope::test::run_kill_cycles(kills, seed);
        QVERIFY2(err.isEmpty(), qPrintable(err));
    }
};

MOESCOPE_CRASH_TEST_MAIN(TestRecorderCrashSlow)
#include "test_recorder_crash_slow.moc"
