// moescope-cli record / generate --record on the golden Mixtral checkpoint: the recorded routing of
// the prompt equals the golden reference (independent float32 HF implementation), the generated token
// ids equal the golden greedy tokens, and bad inputs give clear errors.
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <set>

#include "storage/database.h"
#include "storage/routing_reader.h"
#include "tests/support/golden.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using namespace moescope::storage;
using moescope::test::runCli;

namespace {

void write(const QString& path, const QByteArray& b) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(b);
}

QString ids_json(const nlohmann::json& ids) { return QString::fromStdString(ids.dump()); }

// (expert, weight) pairs compared as sets (README: DeepSeek uses topk(sorted=False)).
QString compare_routing(const RoutingArrays& a, int64_t row, const nlohmann::json& golden, int t) {
    for (int m = 0; m < a.n_moe; ++m) {
        const auto& ge = golden[size_t(m)]["experts"][size_t(t)];
        const auto& gw = golden[size_t(m)]["weights"][size_t(t)];
        std::vector<std::pair<int, float>> got, want;
        for (int j = 0; j < a.k_max; ++j)
            if (a.experts[a.slot(row, m, j)] >= 0) got.emplace_back(a.experts[a.slot(row, m, j)], a.weights[a.slot(row, m, j)]);
        for (size_t j = 0; j < ge.size(); ++j) want.emplace_back(ge[j].get<int>(), gw[j].get<float>());
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        if (got.size() != want.size()) return QString("position %1 layer slot %2: %3 experts, golden %4").arg(t).arg(m).arg(got.size()).arg(want.size());
        for (size_t j = 0; j < got.size(); ++j)
            if (got[j].first != want[j].first || std::abs(got[j].second - want[j].second) > 1e-5f)
                return QString("position %1 layer slot %2: expert/weight differ").arg(t).arg(m);
    }
    return {};
}

}  // namespace

class TestRecordCli : public QObject {
    Q_OBJECT
private slots:
    void record_matches_golden() {
        moescope::test::GoldenCase g;
        QString err;
        QVERIFY2(moescope::test::loadGolden("mixtral", "baseline", g, err), qPrintable(err));
        QTemporaryDir dir;
        const QString prompts = dir.filePath("p.jsonl");
        write(prompts, "{\"tokens\": " + ids_json(g.expected["input_ids"]).toUtf8() + ", \"set\": \"behavior\"}\n\n"
                       "{\"tokens\": [5, 6, 7]}\n");
        const QString db = dir.filePath("r.db");
        auto r = runCli({"record", moescope::test::testdataPath("golden/mixtral"), "--prompts", prompts, "--db", db,
                         "--set", "control", "--capture", "logits", "--logits-f32", "--max-new", "4", "--ignore-eos",
                         "--threads", "1"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains("per token"), qPrintable(r.err));  // the size estimate is shown first
        QVERIFY2(r.out.contains("(complete): 2/2 prompts"), qPrintable(r.out));

        auto d = Database::open(db.toStdString(), Access::ReadOnly);
        RunInfo run = d->run(1);
        QCOMPARE(run.status, RunStatus::Complete);
        QCOMPARE(run.kind, RunKind::Record);
        QCOMPARE(run.moe_layers, (std::vector<int>{0, 1, 2}));
        const int P = int(g.expected["input_ids"].size());
        // tokens fed: prompt + the first 3 of 4 new tokens (the last one is never fed back)
        QCOMPARE(d->token_count(1), int64_t(P + 3 + 3 + 3));
        RoutingSelection sel;
        sel.prompt_set = "behavior";
        sel.logits = true;
        RoutingArrays a = read_routing(*d, sel);
        QCOMPARE(a.n_tokens, int64_t(P + 3));
        QVERIFY(a.has_logits());
        for (int t = 0; t < P; ++t) {
            QCOMPARE(a.token_id[size_t(t)], g.expected["input_ids"][size_t(t)].get<int32_t>());
            QString diff = compare_routing(a, t, g.result["routing"], t);
            QVERIFY2(diff.isEmpty(), qPrintable(diff));
            for (int m = 0; m < a.n_moe; ++m)
                for (int e = 0; e < a.n_experts; ++e)
                    QVERIFY(std::abs(a.router_logits[(size_t(t) * size_t(a.n_moe) + size_t(m)) * size_t(a.n_experts) + size_t(e)] -
                                     g.result["routing"][size_t(m)]["router_logits"][size_t(t)][size_t(e)].get<float>()) < 1e-5f);
        }
        for (int i = 0; i < 3; ++i) {  // the fed generated tokens are the golden greedy ones
            QCOMPARE(a.token_id[size_t(P + i)], g.result["greedy"]["new_tokens"][size_t(i)].get<int32_t>());
            QCOMPARE(a.generated[size_t(P + i)], uint8_t(1));
        }
        // the second prompt went to the --set default
        sel.prompt_set = "control";
        QCOMPARE(read_routing(*d, sel).n_tokens, int64_t(3 + 3));
        // aggregates: every token x MoE layer selected top_k experts
        int64_t total = 0;
        for (const auto& x : expert_aggregates(*d, 1)) total += x.count;
        QCOMPARE(total, d->token_count(1) * 3 * 2);
    }

    void generate_record() {
        QTemporaryDir dir;
        const QString db = dir.filePath("g.db");
        auto r = runCli({"generate", moescope::test::testdataPath("golden/mixtral"), "--tokens", "1,17,42", "--max-new", "5",
                         "--greedy", "--ignore-eos", "--threads", "1", "--record", db});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains("recorded run 1"), qPrintable(r.err));
        auto d = Database::open(db.toStdString(), Access::ReadOnly);
        QCOMPARE(d->run(1).kind, RunKind::Generation);
        QCOMPARE(d->run(1).status, RunStatus::Complete);
        QCOMPARE(d->token_count(1), int64_t(3 + 4));
        // a second generation appends a second run to the same file
        r = runCli({"generate", moescope::test::testdataPath("golden/mixtral"), "--tokens", "3", "--max-new", "1", "--greedy",
                    "--threads", "1", "--record", db});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(Database::open(db.toStdString(), Access::ReadOnly)->runs().size(), size_t(2));
    }

    void errors_data() {
        QTest::addColumn<QByteArray>("jsonl");
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<int>("exit_code");
        QTest::addColumn<QString>("message");
        QTest::newRow("bad json line") << QByteArray("{\"tokens\": [1]}\nnot json\n") << QStringList{} << 1 << "line 2: not a JSON object";
        QTest::newRow("two prompt kinds") << QByteArray("{\"tokens\": [1], \"text\": \"x\"}\n") << QStringList{} << 1 << "exactly one of";
        QTest::newRow("text without tokenizer") << QByteArray("{\"text\": \"hello\"}\n") << QStringList{} << 1 << "tokenizer.json";
        QTest::newRow("id beyond vocab") << QByteArray("{\"tokens\": [999999]}\n") << QStringList{} << 1 << "outside the model's vocabulary";
        QTest::newRow("empty file") << QByteArray("\n") << QStringList{} << 1 << "no prompts";
        QTest::newRow("bad capture") << QByteArray("{\"tokens\": [1]}\n") << QStringList{"--capture", "everything"} << 2 << "--capture";
    }
    void errors() {
        QFETCH(QByteArray, jsonl);
        QFETCH(QStringList, extra);
        QFETCH(int, exit_code);
        QFETCH(QString, message);
        QTemporaryDir dir;
        write(dir.filePath("p.jsonl"), jsonl);
        auto r = runCli(QStringList{"record", moescope::test::testdataPath("golden/mixtral"), "--prompts", dir.filePath("p.jsonl"),
                                    "--db", dir.filePath("x.db"), "--max-new", "1"} + extra);
        QCOMPARE(r.exitCode, exit_code);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QVERIFY(!QFile::exists(dir.filePath("x.db")));  // nothing created before the input was validated
    }

    // Recording into a database another process is writing: clear "in use" error, exit 1.
    void db_in_use() {
        QTemporaryDir dir;
        write(dir.filePath("p.jsonl"), "{\"tokens\": [1, 2]}\n");
        const std::string db = dir.filePath("busy.db").toStdString();
        auto holder = Database::open(db, Access::Write);
        auto r = runCli({"record", moescope::test::testdataPath("golden/mixtral"), "--prompts", dir.filePath("p.jsonl"),
                         "--db", QString::fromStdString(db), "--max-new", "1"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("in use by another writer"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestRecordCli)
#include "test_record_cli.moc"
