// Run administration (storage/run_admin.h): delete removes exactly one run's rows from every table and
// leaves the others bit-identical; every table of the schema is known to delete_run (a new per-run table
// must be added there); rename; token rows in routing-row order; clear errors.
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <set>

#include "storage/recorder.h"
#include "storage/routing_reader.h"
#include "storage/run_admin.h"
#include "storage/sqlite.h"
#include "tests/storage/record_fixture.h"

using namespace moescope;
using namespace moescope::storage;
using moescope::test::SyntheticModel;

namespace {

// Records `prompts` sequences (prefill 4 + 2 decode steps each) at the Activations level.
int64_t record_run(Database& db, const SyntheticModel& m, const std::string& label, int seq0) {
    const int64_t run = moescope::test::make_synthetic_run(db, m, CaptureLevel::Activations, label);
    RecorderOptions opt;
    opt.level = CaptureLevel::Activations;
    opt.sink_per_head = true;
    Recorder rec(db, run, opt);
    for (int s = 0; s < 2; ++s) {
        rec.begin_sequence(db.add_prompt(db.prompt_set("set"), "p", ""));
        m.emit_step(rec, seq0 + s, -1, 0, 4);
        for (int t = 0; t < 2; ++t) m.emit_step(rec, seq0 + s, t, 4 + t, 1);
    }
    rec.set_token_text(0, "first");  // position 0 of the current (second) sequence
    if (!rec.finish().empty()) throw Error("recording failed");
    return run;
}

std::vector<std::string> table_names(Database& db) {
    std::vector<std::string> names;
    Stmt s = db.db().prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    while (s.step()) names.push_back(s.text(0));
    return names;
}

bool has_run_id(Database& db, const std::string& table) {
    Stmt s = db.db().prepare("SELECT COUNT(*) FROM pragma_table_info(?) WHERE name='run_id'");
    s.bind(1, table);
    return s.step() && s.int64(0) > 0;
}

int64_t count(Database& db, const std::string& sql, int64_t run) {
    Stmt s = db.db().prepare(sql);
    s.bind(1, run);
    return s.step() ? s.int64(0) : -1;
}

}  // namespace

class TestRunAdmin : public QObject {
    Q_OBJECT
private slots:
    void every_table_is_known() {
        // Tables that hold no per-run data; everything else must be in kPerRunTables or kPerTokenTables.
        const std::set<std::string> global = {"meta", "model", "prompt_set", "prompt", "run"};
        QTemporaryDir dir;
        auto db = Database::open(dir.filePath("a.db").toStdString(), Access::Write);
        std::set<std::string> known(global);
        known.insert(kPerRunTables.begin(), kPerRunTables.end());
        known.insert(kPerTokenTables.begin(), kPerTokenTables.end());
        for (const std::string& t : table_names(*db)) {
            if (!known.count(t)) QFAIL(qPrintable(QString("table '%1' is unknown to delete_run (storage/run_admin.cpp)").arg(t.c_str())));
            if (std::count(kPerRunTables.begin(), kPerRunTables.end(), t)) QVERIFY2(has_run_id(*db, t), t.c_str());
        }
    }

    void delete_run_data() {
        QTest::addColumn<int>("victim");  // which of the three runs is deleted
        QTest::newRow("first") << 0;
        QTest::newRow("middle") << 1;
        QTest::newRow("last") << 2;
    }
    void delete_run() {
        QFETCH(int, victim);
        QTemporaryDir dir;
        const std::string path = dir.filePath("a.db").toStdString();
        SyntheticModel m;
        auto db = Database::open(path, Access::Write);
        std::vector<int64_t> runs;
        for (int r = 0; r < 3; ++r) runs.push_back(record_run(*db, m, "run" + std::to_string(r), 10 * r));
        std::vector<RoutingArrays> before;
        for (int64_t r : runs) {
            RoutingSelection sel;
            sel.run_ids = {r};
            sel.activations = sel.layer_stats = true;
            before.push_back(read_routing(*db, sel));
        }
        const int64_t gone = runs[static_cast<size_t>(victim)];
        const int64_t tokensOfVictim = count(*db, "SELECT COUNT(*) FROM token WHERE run_id=?", gone);
        QVERIFY(tokensOfVictim > 0);
        const int64_t routingRows = db->db().query_int("SELECT COUNT(*) FROM routing");

        storage::delete_run(*db, gone);

        QVERIFY_THROWS_EXCEPTION(Error, db->run(gone));
        for (const std::string& t : kPerRunTables)
            QCOMPARE(count(*db, "SELECT COUNT(*) FROM " + t + " WHERE run_id=?", gone), int64_t(0));
        // Every per-token row left belongs to a token that still exists.
        for (const std::string& t : kPerTokenTables)
            QCOMPARE(db->db().query_int("SELECT COUNT(*) FROM " + t + " WHERE (id >> 10) NOT IN (SELECT id FROM token)"), int64_t(0));
        QCOMPARE(db->db().query_int("SELECT COUNT(*) FROM routing"), routingRows - tokensOfVictim * int64_t(m.moe_layers.size()));
        // The other runs read back exactly as before.
        for (size_t i = 0; i < runs.size(); ++i) {
            if (runs[i] == gone) continue;
            RoutingSelection sel;
            sel.run_ids = {runs[i]};
            sel.activations = sel.layer_stats = true;
            const RoutingArrays a = read_routing(*db, sel);
            QCOMPARE(a.n_tokens, before[i].n_tokens);
            QVERIFY(a.experts == before[i].experts);
            QVERIFY(a.weights == before[i].weights);
            QVERIFY(a.down_proj_max == before[i].down_proj_max);
            QVERIFY(a.sink_mass == before[i].sink_mass);
        }
        QVERIFY_THROWS_EXCEPTION(Error, storage::delete_run(*db, gone));  // already gone: named error
    }

    void rename_and_errors() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("a.db").toStdString();
        SyntheticModel m;
        int64_t run = 0;
        {
            auto db = Database::open(path, Access::Write);
            run = record_run(*db, m, "old", 0);
            rename_run(*db, run, "new name, with comma");
            QCOMPARE(QString::fromStdString(db->run(run).label), QString("new name, with comma"));
            try {
                rename_run(*db, run + 99, "x");
                QFAIL("renaming a missing run must throw");
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains(QString::number(run + 99)), e.what());
            }
        }
        auto ro = Database::open(path, Access::ReadOnly);
        try {
            storage::delete_run(*ro, run);
            QFAIL("deleting through a read-only connection must throw");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("read-only"), e.what());
        }
        QCOMPARE(QString::fromStdString(ro->run(run).label), QString("new name, with comma"));  // nothing lost
    }

    void token_rows_follow_routing_rows() {
        QTemporaryDir dir;
        SyntheticModel m;
        auto db = Database::open(dir.filePath("a.db").toStdString(), Access::Write);
        const int64_t run = record_run(*db, m, "r", 0);
        const std::vector<TokenRow> rows = token_rows(*db, run);
        const RoutingArrays a = read_run_routing(*db, run);
        QCOMPARE(int64_t(rows.size()), a.n_tokens);
        for (size_t i = 0; i < rows.size(); ++i) {
            QCOMPARE(rows[i].token_id, a.token_id[i]);
            QCOMPARE(rows[i].generated, a.generated[i] != 0);
        }
        // set_token_text(0, ...) after the second sequence names that sequence's first token (row 6).
        QCOMPARE(QString::fromStdString(rows[6].text), QString("first"));
        QCOMPARE(QString::fromStdString(rows[0].text), QString());
        QCOMPARE(rows.size(), size_t(12));  // 2 sequences x (4 prompt + 2 generated)
    }
};

QTEST_MAIN(TestRunAdmin)
#include "test_run_admin.moc"
