#pragma once
// ExpertGridPanel: the live expert grid with its toolbar: zoom, global top-k, "Clear all", presets
// (Load…, Save…, recent presets kept in QSettings) and a one-line summary of the active interventions.
#include <QWidget>

class QLabel;
class QMenu;
class QSpinBox;

namespace moescope::gui {

class ExpertGridModel;
class ExpertGridView;

class ExpertGridPanel : public QWidget {
    Q_OBJECT
public:
    explicit ExpertGridPanel(ExpertGridModel* model, QWidget* parent = nullptr);

    ExpertGridView* view() const { return view_; }
    ExpertGridModel* model() const { return model_; }
    QStringList recentPresets() const;

    // Loads a preset into the grid; on failure returns the message (file + reason) and changes nothing.
    QString loadPreset(const QString& path);
    QString savePreset(const QString& path, const QString& name);
    QString summaryText() const;

public slots:
    void chooseAndLoadPreset();
    void chooseAndSavePreset();

signals:
    void presetError(const QString& message);  // the window shows it in a dialog

private:
    void rememberPreset(const QString& path);
    void rebuildRecentMenu();
    void refreshSummary();

    ExpertGridModel* model_;
    ExpertGridView* view_;
    QSpinBox* topK_;
    QLabel* summary_;
    QMenu* recentMenu_;
};

}  // namespace moescope::gui
