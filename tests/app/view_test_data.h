#pragma once
// Databases for the analysis-view tests (issue 11):
//   - plantedDb(): tests/cli/planted_db.h through the real Recorder: prompt sets "behavior" and
//     "control", token ids 50-59 always routed to expert 3 at layer 1 (and nothing else there), 8
//     experts, k = 2, weights {0.6, 0.4}; known answers for load, drill-down, specialisation.
//   - demoDb(): the bundled demo model (resources/models/demo) recorded by `moescope-cli record` on two
//     prompt sets of resources/prompts (code, prose), a few new tokens each.
#include <QDir>
#include <QString>
#include <QtTest>

#include "app/gui/run_context.h"
#include "app/gui/run_store.h"
#include "app/gui/views/view_hub.h"
#include "storage/database.h"
#include "tests/cli/planted_db.h"
#include "tests/support/testsupport.h"

namespace moescope::test {

// A RunContext + ViewHub reading `path`: what a view needs without the main window or an engine.
struct ViewHarness {
    gui::RunContext context;
    gui::ViewHub hub;
    QString db;
    explicit ViewHarness(const QString& path) : db(path) {
        hub.context = &context;
        hub.databasePath = [this] { return db; };
    }
};

// A recorded run as the shell would open it (replay path: app/gui/run_store loadRun).
inline gui::RunDataPtr loadRunFrom(const QString& db, int64_t run) {
    auto d = storage::Database::open(db.toStdString(), storage::Access::ReadOnly);
    return gui::loadRun(*d, run);
}

inline QString plantedDb(const QString& dir) {
    const QString path = QDir(dir).filePath("planted.moescope.db");
    if (!QFile::exists(path)) write_planted_db(path.toStdString(), CaptureLevel::Routing);
    return path;
}

inline QString demoModelPath() { return QDir(sourceDir()).filePath("resources/models/demo"); }

// Records `sets` (names of resources/prompts/<set>.discovery.jsonl) into one database, one run per set.
// Returns "" and QFAILs the caller's expectations through the returned message on failure.
inline QString demoDb(const QString& dir, const QStringList& sets = {"code", "prose"}, int maxNew = 4,
                      QString* error = nullptr) {
    const QString path = QDir(dir).filePath("demo.moescope.db");
    for (const QString& set : sets) {
        const QString prompts = QDir(sourceDir()).filePath("resources/prompts/" + set + ".discovery.jsonl");
        const CliResult r = runCli({"record", demoModelPath(), "--prompts", prompts, "--db", path, "--set", set,
                                    "--max-new", QString::number(maxNew), "--label", set, "--threads", "1"});
        if (!r.finished || r.exitCode != 0) {
            if (error) *error = "record " + set + ": exit " + QString::number(r.exitCode) + ": " + r.err;
            return {};
        }
    }
    return path;
}

}  // namespace moescope::test

#include "tests/support/fixture_model.h"

namespace moescope::test {

// A 2-layer Mixtral-layout fixture whose router sends token ids 10-19 to expert 3 of layer 1.
inline QString plantedModel(const QString& dir) {
    const QString path = QDir(dir).filePath("planted-model");
    if (QFile::exists(QDir(path).filePath("config.json"))) return path;
    FixtureSpec spec = FixtureSpec::forArch("mixtral");
    spec.layers = 2;
    std::vector<int> ids;
    for (int i = 10; i < 20; ++i) ids.push_back(i);
    plantTokenRouting(spec, 1, 3, ids);
    return QString::fromStdString(writeFixture(dir.toStdString(), spec, "planted-model"));
}

// Records one JSONL file into `db` with extra CLI flags (e.g. {"--disable", "1:3"}); "" on success.
inline QString recordInto(const QString& model, const QString& prompts, const QString& db, const QString& label,
                          const QStringList& extra = {}, int maxNew = 0) {
    QStringList args{"record", model, "--prompts", prompts, "--db", db, "--label", label, "--max-new",
                     QString::number(maxNew), "--threads", "1"};
    args << extra;
    const CliResult r = runCli(args);
    if (!r.finished || r.exitCode != 0) return "record " + label + ": exit " + QString::number(r.exitCode) + ": " + r.err;
    return {};
}

}  // namespace moescope::test
