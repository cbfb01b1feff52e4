#pragma once
// RunsModel: the runs of the current activation database as a table (id, label, kind, status, tokens,
// model, created). Filled with setRuns() from an engine-thread listing.
#include <QAbstractTableModel>
#include <vector>

#include "app/gui/run_store.h"

namespace moescope::gui {

class RunsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Id, Label, Kind, Status, Tokens, Model, Created, ColumnCount };
    explicit RunsModel(QObject* parent = nullptr);

    void setRuns(std::vector<RunRow> runs);
    const RunRow* runAt(int row) const;
    int rowOfRun(qint64 id) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    std::vector<RunRow> runs_;
};

}  // namespace moescope::gui
