// kill -9 of a recording process at seeded random points, 24 times per seed row (style.md §2F).
#include "tests/storage/crash_harness.h"

class TestRecorderCrash : public QObject {
    Q_OBJECT
private slots:
    void kill9_data() {
        QTest::addColumn<int>("kills");
        QTest::addColumn<qulonglong>("seed");
        QTest::newRow("kill -9 x12, seed 1") << 12 << qulonglong(1);
        QTest::newRow("kill -9 x12, seed 2") << 12 << qulonglong(2);
    }
    void kill9() {
        QFETCH(int, kills);
        QFETCH(qulonglong, seed);
        QString err = moescope::test::run_kill_cycles(kills, seed);
        QVERIFY2(err.isEmpty(), qPrintable(err));
    }
};

MOESCOPE_CRASH_TEST_MAIN(TestRecorderCrash)
#include "test_recorder_crash.moc"
