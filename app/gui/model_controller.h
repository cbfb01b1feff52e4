#pragma once
// ModelController: inspect and load models on the engine thread. inspect() gives the pre-load summary
// (architecture badge, parameters, memory at a context length) from the model folder's headers, load()
// reads the model with phases and progress and can be cancelled. Every result arrives as a signal on
// the UI thread; failures carry a message naming the file and the reason.
#include <QObject>
#include <QString>
#include <memory>

#include "engine/model/model.h"

namespace moescope::gui {

class EngineHost;
struct EngineState;

struct LoadRequest {
    QString path;         // model folder or "demo"
    QString device = QStringLiteral("cpu");  // "cpu" or "cuda"
    QString precision = QStringLiteral("bf16");  // GPU compute precision: "bf16" (fast) or "fp32" (faithful)
    QString weights = QStringLiteral("native");  // CPU: "native" (checkpoint dtype) or "q8_0" (8-bit, not faithful)
    int context = 4096;   // tokens the KV cache is sized for (memory estimate)
};

// "Qwen3-MoE · 48 layers · 128 experts · top-8"
QString architectureBadge(const ModelSummary& s);
// "30.5 B total · 3.3 B active"
QString parameterText(const ModelSummary& s);
// "1.2 GiB" style
QString bytesText(quint64 bytes);

class ModelController : public QObject {
    Q_OBJECT
public:
    ModelController(EngineHost* host, std::shared_ptr<EngineState> state, QObject* parent = nullptr);

    void inspect(const QString& path);
    void load(const LoadRequest& request);
    void cancelLoad();

    bool isLoaded() const { return loaded_; }
    bool isLoading() const { return loading_; }
    const ModelSummary& summary() const { return summary_; }
    const LoadRequest& lastRequest() const { return request_; }
    bool hasTokenizer() const { return hasTokenizer_; }
    QString chatFormat() const { return chatFormat_; }  // which chat template chat mode uses
    QString modelName() const;

signals:
    void inspected(const QString& path, const moescope::ModelSummary& summary);
    void inspectFailed(const QString& path, const QString& message);
    void loadStarted(const QString& path);
    void loadProgress(double fraction, const QString& phase);
    void loaded(const moescope::ModelSummary& summary);
    void loadFailed(const QString& path, const QString& message);
    void loadCancelled(const QString& path);

private:
    EngineHost* host_;
    std::shared_ptr<EngineState> state_;
    ModelSummary summary_;
    LoadRequest request_;
    bool loaded_ = false;
    bool loading_ = false;
    bool hasTokenizer_ = false;
    QString chatFormat_;
    quint64 loadGeneration_ = 0;  // drops results of superseded loads
};

}  // namespace moescope::gui

Q_DECLARE_METATYPE(moescope::ModelSummary)
