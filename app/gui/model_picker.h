#pragma once
// ModelPicker: choose a model before loading it (LM Studio / Jan style). A path box with the bundled
// demo and the recent models, Browse…, and the pre-load summary of the chosen folder: architecture
// badge, parameters total/active, memory for weights + KV cache at the chosen context, device choice.
// "Load" emits loadRequested; the picker never loads by itself.
#include <QWidget>

#include "app/gui/model_controller.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace moescope::gui {

class ModelPicker : public QWidget {
    Q_OBJECT
public:
    explicit ModelPicker(ModelController* controller, QWidget* parent = nullptr);

    QString path() const;
    void setPath(const QString& path);  // also inspects it
    LoadRequest request() const;
    QString badgeText() const;
    QString memoryText() const;
    bool summaryReady() const { return haveSummary_; }

    static QStringList recentModels();
    static void rememberModel(const QString& path);

public slots:
    void browse();
    void refreshRecent();

signals:
    void loadRequested(const moescope::gui::LoadRequest& request);

private:
    void onInspected(const QString& path, const ModelSummary& s);
    void onInspectFailed(const QString& path, const QString& message);
    void updateMemory();

    ModelController* controller_;
    QComboBox* path_;
    QLabel* badge_;
    QLabel* params_;
    QLabel* memory_;
    QLabel* error_;
    QSpinBox* context_;
    QComboBox* device_;
    QPushButton* load_;
    ModelSummary summary_;
    bool haveSummary_ = false;
};

}  // namespace moescope::gui
