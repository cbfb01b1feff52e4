// Opening databases: schema creation and migration, and clear errors for everything that is not a
// usable moescope database (corrupt, foreign, newer, read-only, in use by another writer).
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <unistd.h>

#include "storage/database.h"
#include "storage/routing_reader.h"
#include "storage/schema.h"
#include "tests/storage/record_fixture.h"

using namespace moescope;
using namespace moescope::storage;

namespace {

std::string open_error(const std::string& path, Access access) {
    try {
        Database::open(path, access);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

void write_file(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
}

}  // namespace

class TestDatabase : public QObject {
    Q_OBJECT
private slots:
    void create_and_reopen() {
        QTemporaryDir dir;
        std::string path = dir.filePath("a.db").toStdString();
        {
            auto db = Database::open(path, Access::Write);
            QCOMPARE(db->schema_version(), kSchemaVersion);
            QCOMPARE(QString::fromStdString(db->db().query_text("SELECT value FROM meta WHERE key='app'")), QString("moescope"));
            QCOMPARE(QString::fromStdString(db->db().query_text("PRAGMA journal_mode")), QString("wal"));
            QCOMPARE(db->db().query_int("PRAGMA synchronous"), int64_t(1));  // NORMAL
        }
        auto ro = Database::open(path, Access::ReadOnly);
        QCOMPARE(ro->schema_version(), kSchemaVersion);
        QVERIFY(ro->runs().empty());
        // a read-only connection refuses writes
        QVERIFY_THROWS_EXCEPTION(Error, ro->prompt_set("x"));
    }

    void bad_files_data() {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<int>("access");  // 0 read-only, 1 write
        QTest::addColumn<QString>("expected");
        QByteArray random(8192, 0);
        for (int i = 0; i < random.size(); ++i) random[i] = char((i * 7919 + 13) & 0xff);
        QByteArray header_then_garbage = QByteArray("SQLite format 3", 16) + random;
        QTest::newRow("random bytes, write") << random << 1 << "not an SQLite file";
        QTest::newRow("random bytes, read") << random << 0 << "not an SQLite file";
        QTest::newRow("text file") << QByteArray("{\"json\": true}\n") << 1 << "not an SQLite file";
        QTest::newRow("truncated header") << QByteArray("SQLite") << 0 << "not an SQLite file";
        QTest::newRow("sqlite header, corrupt body") << header_then_garbage << 0 << "not a moescope database";
        QTest::newRow("sqlite header, corrupt body, write") << header_then_garbage << 1 << "not a moescope database";
        QTest::newRow("empty file, read") << QByteArray() << 0 << "empty file";
    }
    void bad_files() {
        QFETCH(QByteArray, content);
        QFETCH(int, access);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        QString path = dir.filePath("bad.db");
        write_file(path, content);
        std::string err = open_error(path.toStdString(), access ? Access::Write : Access::ReadOnly);
        QVERIFY2(QString::fromStdString(err).contains(expected), err.c_str());
        QVERIFY2(QString::fromStdString(err).contains(path), err.c_str());  // names the file
        // the file was not modified by the failed open
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), content);
    }

    void foreign_sqlite_data() {
        QTest::addColumn<QString>("sql");
        QTest::addColumn<QString>("expected");
        QTest::newRow("other app's tables") << "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);"
                                            << "not a moescope database";
        QTest::newRow("user_version without meta") << "CREATE TABLE t(x); PRAGMA user_version=2;"
                                                   << "no moescope meta table";
        QTest::newRow("meta of another app")
            << "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES('app','other'); "
               "PRAGMA user_version=1;"
            << "no moescope meta table";
    }
    void foreign_sqlite() {
        QFETCH(QString, sql);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        std::string path = dir.filePath("foreign.db").toStdString();
        {
            Db db(path, Db::Mode::ReadWriteCreate);
            db.exec(sql.toStdString());
        }
        for (Access a : {Access::Write, Access::ReadOnly}) {
            std::string err = open_error(path, a);
            QVERIFY2(QString::fromStdString(err).contains(expected), err.c_str());
        }
        Db check(path, Db::Mode::ReadOnly);  // untouched: still not in WAL mode, no moescope tables
        QCOMPARE(QString::fromStdString(check.query_text("PRAGMA journal_mode")), QString("delete"));
        QCOMPARE(check.query_int("SELECT count(*) FROM sqlite_schema WHERE name='run'"), int64_t(0));
    }

    void newer_schema_data() {
        QTest::addColumn<int>("access");
        QTest::newRow("write") << 1;
        QTest::newRow("read") << 0;
    }
    void newer_schema() {
        QFETCH(int, access);
        QTemporaryDir dir;
        std::string path = dir.filePath("new.db").toStdString();
        {
            auto db = Database::open(path, Access::Write);
            db->db().exec("PRAGMA user_version=" + std::to_string(kSchemaVersion + 5));
            db->db().exec("UPDATE meta SET value='moescope 9.9.9' WHERE key='written_by'");
        }
        std::string err = open_error(path, access ? Access::Write : Access::ReadOnly);
        QVERIFY2(err.find("schema version " + std::to_string(kSchemaVersion + 5)) != std::string::npos, err.c_str());
        QVERIFY2(err.find("newer moescope (moescope 9.9.9)") != std::string::npos, err.c_str());
    }

    // Migration by code: a version-1 database gains the v2 columns and keeps its rows.
    void migrate_v1() {
        QTemporaryDir dir;
        std::string path = dir.filePath("v1.db").toStdString();
        {
            Db db(path, Db::Mode::ReadWriteCreate);
            migrate(db, 1);
            QCOMPARE(db.query_int("PRAGMA user_version"), int64_t(1));
            db.exec("INSERT INTO run(kind, created_at, capture_level, status) VALUES ('record', 'then', 1, 'complete')");
        }
        QVERIFY(open_error(path, Access::ReadOnly).find("older") != std::string::npos);
        auto db = Database::open(path, Access::Write);
        QCOMPARE(db->schema_version(), kSchemaVersion);
        RunInfo r = db->run(1);
        QCOMPARE(r.status, RunStatus::Complete);
        QCOMPARE(r.dropped_steps, int64_t(0));
        QCOMPARE(QString::fromStdString(db->db().query_text("SELECT value FROM meta WHERE key='schema_version'")),
                 QString::number(kSchemaVersion));
    }

    // v2 -> v3 only added expert_activation.token_contribution: a v2 file with activation rows reads
    // read-only as before (no s_t), and after a write open (migration) the old rows read the same.
    void v2_stays_readable() {
        QTemporaryDir dir;
        std::string path = dir.filePath("v2.db").toStdString();
        {
            Db db(path, Db::Mode::ReadWriteCreate);
            migrate(db, 2);
            db.exec("INSERT INTO run(id, kind, created_at, capture_level, status, n_layers, n_experts, k_max, moe_layers_json) "
                    "VALUES (1, 'record', 'then', 3, 'complete', 1, 4, 1, '[0]')");
            db.exec("INSERT INTO token(id, run_id, seq, position, token_id, generated) VALUES (1, 1, 0, 0, 7, 0)");
            db.exec("INSERT INTO routing(id, experts, weights) VALUES (1024, x'0200', x'0000803f')");  // expert 2, w 1
            db.exec("INSERT INTO expert_activation(id, out_norm, down_proj_max, down_proj_channel) "
                    "VALUES (1024, x'00000040', x'00004040', x'05000000')");  // norm 2, max 3, channel 5
        }
        for (Access access : {Access::ReadOnly, Access::Write}) {
            auto db = Database::open(path, access);
            QCOMPARE(db->schema_version(), access == Access::ReadOnly ? 2 : kSchemaVersion);
            RoutingSelection sel;
            sel.activations = true;
            RoutingArrays a = read_routing(*db, sel);
            QCOMPARE(a.n_tokens, int64_t(1));
            QCOMPARE(int(a.experts[0]), 2);
            QCOMPARE(a.expert_out_norm[0], 2.0f);
            QCOMPARE(a.down_proj_max[0], 3.0f);
            QCOMPARE(a.down_proj_channel[0], 5);
            QVERIFY(!a.has_token_contribution());
        }
    }

    void two_writers() {
        QTemporaryDir dir;
        std::string path = dir.filePath("w.db").toStdString();
        auto first = Database::open(path, Access::Write);
        std::string err = open_error(path, Access::Write);
        QVERIFY2(err.find("in use by another writer (pid " + std::to_string(::getpid())) != std::string::npos, err.c_str());
        // readers are welcome while a writer holds the database
        auto reader = Database::open(path, Access::ReadOnly);
        QCOMPARE(reader->schema_version(), kSchemaVersion);
        first.reset();
        auto second = Database::open(path, Access::Write);  // the lock went with the first writer
        QVERIFY(second->writable());
    }

    void read_only_location_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("expected");
        // /proc accepts no new files even for root, so this works whoever runs the tests.
        QTest::newRow("proc fs") << "/proc/moescope-test.db" << "read-only location";
        QTest::newRow("missing folder") << "/nonexistent-dir-moescope/x.db" << "cannot create";
        QTest::newRow("read-only open of missing file") << "" << "no such database file";
    }
    void read_only_location() {
        QFETCH(QString, path);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        std::string err = path.isEmpty() ? open_error(dir.filePath("none.db").toStdString(), Access::ReadOnly)
                                         : open_error(path.toStdString(), Access::Write);
        QVERIFY2(QString::fromStdString(err).contains(expected), err.c_str());
    }

    void read_only_file() {
        if (::geteuid() == 0) QSKIP("root ignores file permissions; the /proc row covers read-only locations");
        QTemporaryDir dir;
        std::string path = dir.filePath("ro.db").toStdString();
        Database::open(path, Access::Write);
        QFile::setPermissions(QString::fromStdString(path), QFile::ReadOwner);
        std::string err = open_error(path, Access::Write);
        QVERIFY2(err.find("read-only") != std::string::npos, err.c_str());
    }

    // A run left 'running' by a writer that went away is marked interrupted by the next writer.
    void interrupted_on_next_open() {
        QTemporaryDir dir;
        std::string path = dir.filePath("i.db").toStdString();
        moescope::test::SyntheticModel m;
        int64_t running, done;
        {
            auto db = Database::open(path, Access::Write);
            done = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing);
            db->finish_run(done, RunStatus::Complete);
            running = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing);
        }
        {
            auto ro = Database::open(path, Access::ReadOnly);  // readers never write
            QCOMPARE(ro->run(running).status, RunStatus::Running);
        }
        auto db = Database::open(path, Access::Write);
        QCOMPARE(db->interrupted_on_open(), 1);
        QCOMPARE(db->run(running).status, RunStatus::Interrupted);
        QVERIFY(!db->run(running).finished_at.empty());
        QCOMPARE(db->run(done).status, RunStatus::Complete);
    }

    void entities() {
        QTemporaryDir dir;
        auto db = Database::open(dir.filePath("e.db").toStdString(), Access::Write);
        ModelInfo mi;
        mi.name = "m";
        mi.path = "/p";
        mi.content_hash = "h";
        mi.moe_layers = {1, 3};
        int64_t a = db->find_or_add_model(mi);
        QCOMPARE(db->find_or_add_model(mi), a);
        mi.content_hash = "h2";
        QVERIFY(db->find_or_add_model(mi) != a);
        QCOMPARE(db->model(a)->moe_layers, (std::vector<int>{1, 3}));
        int64_t s = db->prompt_set("behavior");
        QCOMPARE(db->prompt_set("behavior"), s);
        QVERIFY(db->prompt_set("control") != s);
        int64_t p = db->add_prompt(s, "hello", "");
        QCOMPARE(db->db().query_int("SELECT set_id FROM prompt WHERE id=" + std::to_string(p)), s);
        QVERIFY_THROWS_EXCEPTION(Error, db->run(12345));
    }
};

QTEST_GUILESS_MAIN(TestDatabase)
#include "test_database.moc"
