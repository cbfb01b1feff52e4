#pragma once
// kill -9 harness (style.md §2F): the test binary re-invokes itself with --child-record, which records
// synthetic steps as fast as it can and prints "committed FIRST LAST" after each COMMIT returned. The
// parent SIGKILLs it at a seeded random point (after a random number of acknowledgements, while the
// writer is in the middle of its next batch), then checks I1 integrity, I2 every acknowledged step
// present, I3 no torn step, and that the next writer marks the run interrupted.
#include <QCoreApplication>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cstdio>
#include <random>
#include <set>

#include "storage/database.h"
#include "storage/recorder.h"
#include "tests/storage/record_fixture.h"
#include "tests/storage/verify_run.h"

namespace moescope::test {

inline SyntheticModel crash_model(uint64_t seed) {
    SyntheticModel m;
    m.seed = seed;
    return m;
}

// Child side: returns the process exit code.
inline int child_record(const char* path, uint64_t seed) {
    using namespace moescope::storage;
    try {
        SyntheticModel m = crash_model(seed);
        auto db = Database::open(path, Access::Write);
        int64_t run = make_synthetic_run(*db, m, CaptureLevel::Routing, "crash " + std::to_string(seed));
        std::printf("run %lld\n", static_cast<long long>(run));
        std::fflush(stdout);
        RecorderOptions opt;
        opt.queue_steps = 64;
        Recorder rec(*db, run, opt);
        rec.set_commit_callback([](int64_t a, int64_t b) {
            std::printf("committed %lld %lld\n", static_cast<long long>(a), static_cast<long long>(b));
            std::fflush(stdout);
        });
        std::mt19937_64 rng(seed);
        for (int seq = 0; seq < 2000; ++seq) {
            rec.begin_sequence(-1);
            int prompt = 1 + static_cast<int>(rng() % 24);
            m.emit_step(rec, seq, -1, 0, prompt);
            for (int s = 0; s < 40; ++s) m.emit_step(rec, seq, s, prompt + s, 1);
        }
        rec.finish();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "child: %s\n", e.what());
        return 1;
    }
    return 0;
}

// Parent side: `kills` kill/verify cycles on one database. Returns a failure message or "".
inline QString run_kill_cycles(int kills, uint64_t base_seed) {
    using namespace moescope::storage;
    QTemporaryDir dir;
    const QString path = dir.filePath("crash.db");
    std::mt19937_64 rng(base_seed);
    int64_t total_acked = 0, total_present = 0;
    for (int i = 0; i < kills; ++i) {
        const uint64_t seed = base_seed * 1000 + static_cast<uint64_t>(i);
        const int kill_after = static_cast<int>(rng() % 30);  // acknowledgements to see before SIGKILL
        QProcess child;
        child.start(QCoreApplication::applicationFilePath(),
                    {"--child-record", path, QString::number(seed)});
        if (!child.waitForStarted(30000)) return "cannot start the recording child";
        std::set<int64_t> acked;
        int64_t run = -1;
        int acks = 0;
        QByteArray pending;
        auto parse = [&](const QByteArray& data) {
            pending += data;
            int nl;
            while ((nl = pending.indexOf('\n')) >= 0) {
                QList<QByteArray> f = pending.left(nl).split(' ');
                pending.remove(0, nl + 1);
                if (f.size() == 2 && f[0] == "run") run = f[1].toLongLong();
                if (f.size() == 3 && f[0] == "committed") {
                    for (qint64 s = f[1].toLongLong(); s <= f[2].toLongLong(); ++s) acked.insert(s);
                    ++acks;
                }
            }
        };
        while (acks < kill_after && child.state() == QProcess::Running) {
            if (!child.waitForReadyRead(30000)) break;
            parse(child.readAllStandardOutput());
        }
        if (child.state() != QProcess::Running) return QString("child ended early: %1").arg(QString(child.readAllStandardError()));
        child.kill();  // SIGKILL
        child.waitForFinished(30000);
        parse(child.readAllStandardOutput());  // acknowledgements printed before it died count too
        if (run < 0) continue;                 // killed before it created its run: nothing to check
        {
            auto db = Database::open(path.toStdString(), Access::Write);
            if (db->interrupted_on_open() != 1)
                return QString("kill %1: %2 runs marked interrupted, expected 1").arg(i).arg(db->interrupted_on_open());
            RunInfo r = db->run(run);
            if (r.status != RunStatus::Interrupted) return QString("kill %1: run not marked interrupted").arg(i);
        }
        std::string err = verify_recording(path.toStdString(), run, crash_model(seed), acked);
        if (!err.empty()) return QString("kill %1 (seed %2, %3 acks): %4").arg(i).arg(seed).arg(acks).arg(QString::fromStdString(err));
        total_acked += static_cast<int64_t>(acked.size());
        auto ro = Database::open(path.toStdString(), Access::ReadOnly);
        total_present += ro->db().query_int("SELECT count(*) FROM step WHERE run_id=" + std::to_string(run));
    }
    // The cycles must have exercised something: steps acknowledged before the kills (else I2 is vacuous).
    if (total_acked == 0) return "no step was acknowledged before any kill: the test checked nothing";
    qInfo("%d kills: %lld steps acknowledged, %lld steps found committed", kills,
          static_cast<long long>(total_acked), static_cast<long long>(total_present));
    return {};
}

}  // namespace moescope::test

// main() for the crash tests: child mode, or the Qt Test runner.
#define MOESCOPE_CRASH_TEST_MAIN(TestClass)                                                        \
    int main(int argc, char** argv) {                                                             \
        if (argc == 4 && std::string(argv[1]) == "--child-record")                                \
            return moescope::test::child_record(argv[2], std::stoull(argv[3]));                   \
        QCoreApplication app(argc, argv);                                                         \
        TestClass t;                                                                              \
        return QTest::qExec(&t, argc, argv);                                                      \
    }
