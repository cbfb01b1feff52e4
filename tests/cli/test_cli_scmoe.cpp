// moescope-cli generate --scmoe: per-token strong/weak/contrast JSON, β = 0 equal to the ordinary greedy
// path (an independent code path: Session + generate()), and bad specs exiting 2 with a clear message.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "tests/support/testsupport.h"

using moescope::test::runCli;

namespace {

QStringList base() {
    return {"generate", moescope::test::testdataPath("golden/mixtral"), "--tokens", "1,17,42", "--max-new", "6",
            "--greedy", "--ignore-eos", "--threads", "1", "--json"};
}

QJsonObject parse(const QString& out) {
    return QJsonDocument::fromJson(out.toUtf8()).object();
}

}  // namespace

class TestCliScmoe : public QObject {
    Q_OBJECT

private slots:
    void betaZeroMatchesGreedy() {
        auto plain = runCli(base());
        QVERIFY2(plain.exitCode == 0, qPrintable(plain.err));
        auto sc = runCli(base() << "--scmoe" << "beta=0,alpha=0.1,weak=rank2");
        QVERIFY2(sc.exitCode == 0, qPrintable(sc.err));
        const QJsonObject p = parse(plain.out), s = parse(sc.out);
        QCOMPARE(s["tokens"].toArray(), p["tokens"].toArray());
        QCOMPARE(s["tokens"].toArray().size(), 6);
        QCOMPARE(s["scmoe"].toObject()["weak"].toString(), QString("rank2"));
    }

    void perTokenDistributions() {
        auto r = runCli(base() << "--scmoe" << "beta=0.9,alpha=0.1,weak=top1");
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject o = parse(r.out);
        const QJsonArray steps = o["steps"].toArray();
        QCOMPARE(steps.size(), 6);
        for (const auto& v : steps) {
            const QJsonObject st = v.toObject();
            for (const char* side : {"strong", "weak", "contrast"}) {
                const QJsonArray top = st[side].toObject()["top"].toArray();
                QVERIFY2(!top.isEmpty(), side);
                // best first
                for (int i = 1; i < top.size(); ++i)
                    QVERIFY(top[i - 1].toObject()["logprob"].toDouble() >= top[i].toObject()["logprob"].toDouble());
            }
            // the chosen token is the contrast argmax and plausible under strong (α = 0.1)
            QCOMPARE(st["contrast"].toObject()["top"].toArray()[0].toObject()["id"].toInt(), st["id"].toInt());
            const double best = st["strong"].toObject()["top"].toArray()[0].toObject()["logprob"].toDouble();
            QVERIFY(st["strong"].toObject()["logprob"].toDouble() >= std::log(0.1) + best - 1e-5);
        }
    }

    void badSpecs_data() {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("needle");
        QTest::newRow("unknown weak") << "weak=rank2x" << "weak routing";
        QTest::newRow("weak other") << "weak=random1" << "unknown weak routing";
        QTest::newRow("negative beta") << "beta=-1" << "beta";
        QTest::newRow("alpha above 1") << "alpha=2" << "alpha";
        QTest::newRow("not a number") << "beta=abc" << "not a number";
        QTest::newRow("unknown key") << "gamma=1" << "unknown key";
        QTest::newRow("rank beyond experts") << "weak=rank9" << "out of range";
        QTest::newRow("dense/unknown layer") << "weak=rank2,layers=99" << "layer 99";
    }
    void badSpecs() {
        QFETCH(QString, spec);
        QFETCH(QString, needle);
        auto r = runCli(base() << "--scmoe" << spec);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(needle), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliScmoe)
#include "test_cli_scmoe.moc"
