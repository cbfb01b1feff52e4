// Runs: generations are recorded into the activation database with their intervention timeline; the
// Runs panel lists, opens (replays), renames, exports and deletes them. The expert toggled mid-run is
// checked in the routing read back from the database (independent of the app's in-memory copy).
#include <QtTest>
#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

#include "app/gui/expert_grid_model.h"
#include "app/gui/generate_panel.h"
#include "app/gui/generation_controller.h"
#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "app/gui/run_context.h"
#include "app/gui/runs_model.h"
#include "app/gui/runs_panel.h"
#include "app/gui/transcript_view.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using namespace moescope::gui;

class TestRuns : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // the default per-user database goes to a test location
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir_.path());
    }

    void recordListReplayRenameExportDelete() {
        MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        RunsPanel* runs = w.runsPanel();
        QAbstractItemModelTester tester(runs->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy opened(runs, &RunsPanel::databaseOpened);
        runs->openDatabase(dir_.filePath("test.moescope.db"));
        QTRY_VERIFY_WITH_TIMEOUT(opened.count() > 0 && opened.last().at(0).toString().endsWith("test.moescope.db"), 30000);
        QSignalSpy listed(runs, &RunsPanel::runsListed);
        runs->refresh();  // the listing that followed the open may already have been delivered
        QTRY_VERIFY_WITH_TIMEOUT(listed.count() > 0, 30000);
        QCOMPARE(runs->model()->rowCount(), 0);

        QSignalSpy loaded(w.models(), &ModelController::loaded);
        w.setModelPath(moescope::test::testdataPath("golden/qwen3_moe"));
        QVERIFY(loaded.wait(60000));
        // Generate 12 tokens in step mode; after token 2 turn off the expert layer 1 used for it.
        GeneratePanel* panel = w.generatePanel();
        panel->setPromptText("1 17 42 99 7 128 200 3 64 255 12 88");
        panel->findChild<QPushButton*>("stepModeButton")->click();
        QSignalSpy tokens(w.generation(), &GenerationController::tokenGenerated);
        QSignalSpy finished(w.generation(), &GenerationController::finished);
        listed.clear();
        panel->generateButton()->click();
        for (int i = 0; i < 2; ++i) {
            QTRY_COMPARE_WITH_TIMEOUT(tokens.count(), i + 1, 30000);
            panel->findChild<QPushButton*>("stepButton")->click();
        }
        QTRY_COMPARE_WITH_TIMEOUT(tokens.count(), 3, 30000);
        const TokenRouting r = tokens.last().at(0).value<TokenEvent>().routing;
        const int expert = r.experts[static_cast<size_t>(1 * r.k_max)];
        w.gridModel()->cycleState(1, expert);
        panel->findChild<QPushButton*>("stepModeButton")->click();
        QVERIFY(finished.wait(60000));
        const RunDataPtr live = finished.first().at(1).value<RunDataPtr>();
        QVERIFY(live->runId > 0);

        // Listed after the run.
        QTRY_VERIFY_WITH_TIMEOUT(listed.count() > 0, 30000);
        QCOMPARE(runs->model()->rowCount(), 1);
        const RunRow* row = runs->model()->runAt(0);
        QCOMPARE(row->id, live->runId);
        QCOMPARE(row->status, QStringLiteral("complete"));
        QCOMPARE(row->kind, QStringLiteral("generation"));

        // Open = replay from the database.
        QSignalSpy replayed(runs, &RunsPanel::runOpened);
        runs->openRun(live->runId);
        QVERIFY(replayed.wait(30000));
        const RunDataPtr stored = replayed.first().at(0).value<RunDataPtr>();
        QCOMPARE(stored->promptTokens, live->promptTokens);
        QCOMPARE(stored->routing.n_tokens, live->routing.n_tokens);
        // The toggle is in the stored timeline at the token the engine applied it to...
        QCOMPARE(static_cast<int>(stored->timeline.size()), 1);
        QCOMPARE(stored->timeline[0].fromToken, live->promptTokens + 2);
        QVERIFY2(stored->timeline[0].text.startsWith("from token 3: "), qPrintable(stored->timeline[0].text));
        // ...and in the stored routing: used before (at the row that chose token 2), never after.
        const RoutingArrays& a = stored->routing;
        auto uses = [&](int64_t t) {
            for (int j = 0; j < a.k_max; ++j)
                if (a.experts[a.slot(t, 1, j)] == expert) return true;
            return false;
        };
        QVERIFY(uses(live->promptTokens + 1));
        for (int64_t t = live->promptTokens + 2; t < a.n_tokens; ++t) QVERIFY2(!uses(t), qPrintable(QString("row %1").arg(t)));
        QCOMPARE(w.runContext()->run(), stored);
        QVERIFY(w.generatePanel()->transcript()->toPlainText().contains("from token 3: "));

        // Rename, export, delete.
        listed.clear();
        runs->renameRun(live->runId, "toggled run");
        QTRY_VERIFY_WITH_TIMEOUT(listed.count() > 0, 30000);
        QCOMPARE(runs->model()->runAt(0)->label, QStringLiteral("toggled run"));
        QSignalSpy exported(runs, &RunsPanel::exported);
        const QString out = dir_.filePath("run.json");
        runs->exportRun(live->runId, out);
        QVERIFY(exported.wait(30000));
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject j = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(j["title"].toString(), QStringLiteral("toggled run"));
        QCOMPARE(j["tokens"].toArray().size(), stored->tokenCount());
        QCOMPARE(j["tokens"].toArray()[0].toObject()["experts"].toArray().size(), 3);  // 3 MoE layers
        listed.clear();
        runs->deleteRun(live->runId);
        QTRY_VERIFY_WITH_TIMEOUT(listed.count() > 0, 30000);
        QCOMPARE(runs->model()->rowCount(), 0);
        QSignalSpy failed(runs, &RunsPanel::failed);
        runs->openRun(live->runId);
        QVERIFY(failed.wait(30000));  // a deleted run is an error message, not a crash
        w.close();
    }
};

QTEST_MAIN(TestRuns)
#include "test_runs.moc"
