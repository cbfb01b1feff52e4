// Entropy helpers against hand-computed values.
#include <QtTest>
#include <cmath>
#include <vector>

#include "analysis/distribution.h"

using namespace moescope::analysis;

class TestDistribution : public QObject {
    Q_OBJECT
private slots:
    void entropy_data() {
        QTest::addColumn<QVector<double>>("w");
        QTest::addColumn<double>("expected");
        QTest::newRow("uniform4") << QVector<double>{1, 1, 1, 1} << std::log(4.0);
        QTest::newRow("point mass") << QVector<double>{0, 5, 0} << 0.0;
        QTest::newRow("empty") << QVector<double>{} << 0.0;
        QTest::newRow("all zero") << QVector<double>{0, 0} << 0.0;
        // p = (0.25, 0.75): -(0.25 ln 0.25 + 0.75 ln 0.75)
        QTest::newRow("quarter") << QVector<double>{1, 3} << 0.5623351446188083;
    }
    void entropy() {
        QFETCH(QVector<double>, w);
        QFETCH(double, expected);
        std::vector<double> v(w.begin(), w.end());
        QVERIFY(std::abs(entropy_nats(v) - expected) < 1e-12);
    }
    void normalized() {
        std::vector<double> uniform(8, 2.0);
        QVERIFY(std::abs(normalized_entropy(uniform) - 1.0) < 1e-12);
        std::vector<double> one{3.0};
        QCOMPARE(normalized_entropy(one), 0.0);
    }
};

QTEST_GUILESS_MAIN(TestDistribution)
#include "test_distribution.moc"
