#pragma once
// RunsPanel: the Runs dock. Lists the runs of the current activation database and opens (replays),
// renames, deletes and exports them. All database work is an EngineHost job (the database connection
// lives on the engine thread, see EngineState); results come back as signals.
#include <QWidget>
#include <memory>

#include "app/gui/run_data.h"

class QLabel;
class QTableView;

namespace moescope::gui {

class EngineHost;
class RunsModel;
struct EngineState;

class RunsPanel : public QWidget {
    Q_OBJECT
public:
    RunsPanel(EngineHost* host, std::shared_ptr<EngineState> state, QWidget* parent = nullptr);

    RunsModel* model() const { return model_; }
    QTableView* table() const { return table_; }
    QString databasePath() const { return dbPath_; }

public slots:
    // Opens (creating if needed) the database for writing; generations are then recorded into it.
    void openDatabase(const QString& path);
    void refresh();
    void openRun(qint64 runId);
    void renameRun(qint64 runId, const QString& label);
    void deleteRun(qint64 runId);
    void exportRun(qint64 runId, const QString& path);

signals:
    void databaseOpened(const QString& path);
    void databaseFailed(const QString& message);
    void runsListed(int count);
    void runOpened(const moescope::gui::RunDataPtr& run);
    void exported(const QString& path);
    void failed(const QString& message);

private:
    qint64 selectedRun() const;
    template <class F>
    void postDb(const QString& tag, F&& work);

    EngineHost* host_;
    std::shared_ptr<EngineState> state_;
    RunsModel* model_;
    QTableView* table_;
    QLabel* dbLabel_;
    QString dbPath_;
};

}  // namespace moescope::gui
