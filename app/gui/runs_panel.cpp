// RunsPanel: run listing and actions as engine jobs.
#include "app/gui/runs_panel.h"

#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "app/gui/run_store.h"
#include "app/gui/runs_model.h"

namespace moescope::gui {

RunsPanel::RunsPanel(EngineHost* host, std::shared_ptr<EngineState> state, QWidget* parent)
    : QWidget(parent), host_(host), state_(std::move(state)) {
    setObjectName("runsPanel");
    auto* layout = new QVBoxLayout(this);
    dbLabel_ = new QLabel(tr("no database"), this);
    dbLabel_->setObjectName("databaseLabel");
    dbLabel_->setWordWrap(true);
    layout->addWidget(dbLabel_);
    model_ = new RunsModel(this);
    table_ = new QTableView(this);
    table_->setObjectName("runsTable");
    table_->setModel(model_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->verticalHeader()->hide();
    layout->addWidget(table_, 1);
    auto* buttons = new QHBoxLayout;
    auto button = [&](const QString& text, const char* name) {
        auto* b = new QPushButton(text, this);
        b->setObjectName(QLatin1String(name));
        buttons->addWidget(b);
        return b;
    };
    connect(button(tr("Open"), "openRun"), &QPushButton::clicked, this, [this] {
        if (const qint64 id = selectedRun(); id > 0) openRun(id);
    });
    connect(button(tr("Rename…"), "renameRun"), &QPushButton::clicked, this, [this] {
        const qint64 id = selectedRun();
        if (id <= 0) return;
        bool ok = false;
        const QString label = QInputDialog::getText(this, tr("Rename run"), tr("Label:"), QLineEdit::Normal,
                                                    model_->runAt(model_->rowOfRun(id))->label, &ok);
        if (ok) renameRun(id, label);
    });
    connect(button(tr("Delete"), "deleteRun"), &QPushButton::clicked, this, [this] {
        const qint64 id = selectedRun();
        if (id <= 0) return;
        if (QMessageBox::question(this, tr("Delete run"), tr("Delete run %1 and its routing?").arg(id)) == QMessageBox::Yes)
            deleteRun(id);
    });
    connect(button(tr("Export…"), "exportRun"), &QPushButton::clicked, this, [this] {
        const qint64 id = selectedRun();
        if (id <= 0) return;
        const QString path = QFileDialog::getSaveFileName(this, tr("Export run"), QStringLiteral("run-%1.json").arg(id), tr("JSON (*.json)"));
        if (!path.isEmpty()) exportRun(id, path);
    });
    buttons->addStretch(1);
    layout->addLayout(buttons);
    connect(table_, &QTableView::doubleClicked, this, [this](const QModelIndex& i) {
        if (const RunRow* r = model_->runAt(i.row())) openRun(r->id);
    });
}

qint64 RunsPanel::selectedRun() const {
    const auto rows = table_->selectionModel()->selectedRows();
    if (rows.isEmpty()) return 0;
    const RunRow* r = model_->runAt(rows.first().row());
    return r ? r->id : 0;
}

template <class F>
void RunsPanel::postDb(const QString& tag, F&& work) {
    QPointer<QObject> self(this);
    auto state = state_;
    host_->post(tag, [this, self, state, work = std::forward<F>(work)](const std::atomic<bool>&) mutable {
        if (!state->db) {
            host_->deliver(self, [this] { emit failed(tr("No activation database is open.")); });
            return;
        }
        try {
            work(*state->db, self);
        } catch (const std::exception& e) {
            const QString msg = QString::fromUtf8(e.what());
            host_->deliver(self, [this, msg] { emit failed(msg); });
        }
    });
}

void RunsPanel::openDatabase(const QString& path) {
    QPointer<QObject> self(this);
    auto state = state_;
    host_->post(QStringLiteral("db-open"), [this, self, state, path](const std::atomic<bool>&) {
        try {
            auto db = storage::Database::open(path.toStdString(), storage::Access::Write);
            state->db = std::move(db);
            host_->deliver(self, [this, path] {
                dbPath_ = path;
                dbLabel_->setText(tr("Database: %1").arg(path));
                emit databaseOpened(path);
                refresh();
            });
        } catch (const std::exception& e) {
            const QString msg = QString::fromUtf8(e.what());
            host_->deliver(self, [this, msg] { emit databaseFailed(msg); });
        }
    });
}

void RunsPanel::refresh() {
    postDb(QStringLiteral("runs-list"), [this](storage::Database& db, QPointer<QObject> self) {
        auto rows = listRuns(db);
        host_->deliver(self, [this, rows = std::move(rows)]() mutable {
            const int n = static_cast<int>(rows.size());
            model_->setRuns(std::move(rows));
            emit runsListed(n);
        });
    });
}

void RunsPanel::openRun(qint64 runId) {
    postDb(QStringLiteral("runs-open"), [this, runId](storage::Database& db, QPointer<QObject> self) {
        RunDataPtr run = loadRun(db, runId);
        host_->deliver(self, [this, run] { emit runOpened(run); });
    });
}

void RunsPanel::renameRun(qint64 runId, const QString& label) {
    postDb(QString(), [this, runId, label](storage::Database& db, QPointer<QObject> self) {
        gui::renameRun(db, runId, label.toStdString());
        host_->deliver(self, [this] { refresh(); });
    });
}

void RunsPanel::deleteRun(qint64 runId) {
    postDb(QString(), [this, runId](storage::Database& db, QPointer<QObject> self) {
        gui::deleteRun(db, runId);
        host_->deliver(self, [this] { refresh(); });
    });
}

void RunsPanel::exportRun(qint64 runId, const QString& path) {
    postDb(QString(), [this, runId, path](storage::Database& db, QPointer<QObject> self) {
        const QByteArray json = exportRunJson(*loadRun(db, runId));
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(json) != json.size())
            throw Error((path + QStringLiteral(": cannot write: ") + f.errorString()).toStdString());
        host_->deliver(self, [this, path] { emit exported(path); });
    });
}

}  // namespace moescope::gui
