#pragma once
// Tables of the run comparison view: the token diff (aligned by position) and the per-layer routing diff.
// Qt::UserRole holds raw values for the CSV export.
#include <QAbstractTableModel>
#include <QStringList>
#include <vector>

#include "analysis/router_stats.h"

namespace moescope::gui {

struct TokenDiffRow {
    int position = 0;
    QString a, b;     // "" where that run has no token at this position
    bool differs = false;
};

// Position-aligned token diff of two token lists; a position differs when either side lacks a token or
// the texts differ.
std::vector<TokenDiffRow> alignTokens(const QStringList& a, const QStringList& b);

class TokenDiffModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Position, A, B, Same, ColumnCount };
    explicit TokenDiffModel(QObject* parent = nullptr) : QAbstractTableModel(parent) {}
    void setRows(std::vector<TokenDiffRow> rows);
    const TokenDiffRow& rowAt(int r) const { return rows_[static_cast<size_t>(r)]; }
    int differing() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    std::vector<TokenDiffRow> rows_;
};

class LayerDiffModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Layer, Tokens, SetDiffer, Jaccard, Top1, Overlap, ColumnCount };
    explicit LayerDiffModel(QObject* parent = nullptr) : QAbstractTableModel(parent) {}
    void setResult(analysis::SaturationResult r);
    const analysis::SaturationResult& result() const { return r_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    analysis::SaturationResult r_;
};

}  // namespace moescope::gui
