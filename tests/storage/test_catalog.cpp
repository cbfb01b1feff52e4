// Catalogue queries (storage/catalog.h) on a database with known contents: which prompt sets have recorded
// tokens (and their prompt counts), and token rows that line up with read_routing() row for row for every
// kind of selection, with the stored texts where they were set.
#include <QTemporaryDir>
#include <QtTest>

#include "storage/catalog.h"
#include "storage/recorder.h"
#include "storage/routing_reader.h"
#include "tests/storage/record_fixture.h"

using namespace moescope;
using namespace moescope::storage;
using moescope::test::SyntheticModel;

namespace {

// One sequence of `prefill` prompt tokens + `decode` generated tokens per prompt of `sets` (set name per
// prompt); position 1 of every sequence gets the text "<set>#<sequence>".
int64_t record_run(Database& db, const SyntheticModel& m, const std::vector<std::string>& sets, int seq0, int decode) {
    const int64_t run = moescope::test::make_synthetic_run(db, m, CaptureLevel::Routing);
    RecorderOptions opt;
    opt.level = CaptureLevel::Routing;
    Recorder rec(db, run, opt);
    for (size_t i = 0; i < sets.size(); ++i) {
        const int seq = seq0 + static_cast<int>(i);
        rec.begin_sequence(db.add_prompt(db.prompt_set(sets[i]), "p" + std::to_string(seq), ""));
        rec.set_token_text(1, sets[i] + "#" + std::to_string(seq));  // travels with the next step
        m.emit_step(rec, seq, -1, 0, 3);
        for (int t = 0; t < decode; ++t) m.emit_step(rec, seq, t, 3 + t, 1);
    }
    if (!rec.finish().empty()) throw Error("recording failed");
    return run;
}

}  // namespace

class TestCatalog : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::unique_ptr<Database> db_;
    int64_t run1_ = 0, run2_ = 0;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        db_ = Database::open(dir_.filePath("c.db").toStdString(), Access::Write);
        SyntheticModel m;
        // run 1: alpha, beta, alpha (prefill 3 + 2 generated each); run 2: beta (prefill only).
        run1_ = record_run(*db_, m, {"alpha", "beta", "alpha"}, 0, 2);
        run2_ = record_run(*db_, m, {"beta"}, 10, 0);
        // a set with prompts but no recorded tokens, and an empty set: neither is listed
        db_->add_prompt(db_->prompt_set("unrecorded"), "never run", "");
        db_->add_prompt(db_->prompt_set("unrecorded"), "never run either", "");
        (void)db_->prompt_set("empty");
    }

    void prompt_sets() {
        const auto sets = recorded_prompt_sets(*db_);
        QCOMPARE(sets.size(), size_t{2});
        QCOMPARE(sets[0].name, std::string("alpha"));
        QCOMPARE(sets[0].prompts, int64_t{2});
        QCOMPARE(sets[1].name, std::string("beta"));
        QCOMPARE(sets[1].prompts, int64_t{2});
    }

    void token_rows_data() {
        QTest::addColumn<int>("runs");        // 0 all, 1 run 1, 2 run 2, 3 runs 2 then 1
        QTest::addColumn<QString>("set");     // "" = no set filter
        QTest::addColumn<bool>("generated");  // include generated tokens
        QTest::addColumn<int>("rows");        // expected row count
        QTest::addColumn<QStringList>("texts");  // expected texts of the rows that have one, in order
        QTest::newRow("all") << 0 << "" << true << 3 * 5 + 3 << QStringList{"alpha#0", "beta#1", "alpha#2", "beta#10"};
        QTest::newRow("run 1") << 1 << "" << true << 15 << QStringList{"alpha#0", "beta#1", "alpha#2"};
        QTest::newRow("run 2") << 2 << "" << true << 3 << QStringList{"beta#10"};
        // rows follow the database's token order, not the order the runs are named in (as read_routing)
        QTest::newRow("runs 2, 1") << 3 << "" << true << 18 << QStringList{"alpha#0", "beta#1", "alpha#2", "beta#10"};
        QTest::newRow("set beta") << 0 << "beta" << true << 5 + 3 << QStringList{"beta#1", "beta#10"};
        QTest::newRow("set alpha, prompts only") << 0 << "alpha" << false << 2 * 3 << QStringList{"alpha#0", "alpha#2"};
        QTest::newRow("run 1, set beta, prompts only") << 1 << "beta" << false << 3 << QStringList{"beta#1"};
    }
    void token_rows() {
        QFETCH(int, runs);
        QFETCH(QString, set);
        QFETCH(bool, generated);
        QFETCH(int, rows);
        QFETCH(QStringList, texts);
        RoutingSelection sel;
        if (runs == 1) sel.run_ids = {run1_};
        if (runs == 2) sel.run_ids = {run2_};
        if (runs == 3) sel.run_ids = {run2_, run1_};
        if (!set.isEmpty()) sel.prompt_set = set.toStdString();
        sel.generated_tokens = generated;
        const auto got = selection_token_rows(*db_, sel);
        const RoutingArrays a = read_routing(*db_, sel);
        QCOMPARE(static_cast<int>(got.size()), rows);
        QCOMPARE(static_cast<int64_t>(got.size()), a.n_tokens);
        QStringList gotTexts;
        for (size_t r = 0; r < got.size(); ++r) {
            QCOMPARE(got[r].token_id, a.token_id[r]);
            QCOMPARE(got[r].generated, a.generated[r] != 0);
            if (!got[r].text.empty()) {
                QCOMPARE(a.position[r], int32_t{1});  // the only position given a text
                gotTexts << QString::fromStdString(got[r].text);
            }
        }
        QCOMPARE(gotTexts, texts);
    }

    void errors() {
        RoutingSelection unknown_set;
        unknown_set.prompt_set = "nope";
        QVERIFY_THROWS_EXCEPTION(Error, selection_token_rows(*db_, unknown_set));
        RoutingSelection unknown_run;
        unknown_run.run_ids = {99};
        QVERIFY_THROWS_EXCEPTION(Error, selection_token_rows(*db_, unknown_run));
    }
};

QTEST_GUILESS_MAIN(TestCatalog)
#include "test_catalog.moc"
