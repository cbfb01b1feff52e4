#pragma once
// AnalysisRunner: runs an analysis off the UI thread and hands the result back on the UI thread.
//
// Each view owns one runner. run(compute, done) starts compute(cancelled) on a worker thread of a
// small shared pool (analyses are CPU-bound; the machine may have 2 cores and the engine thread needs
// one). A newer run() supersedes an older one: the older job sees its cancel flag and its result is
// dropped, so fast clicking never shows stale results. done() runs on the UI thread only if the runner
// still exists and the job is the newest; an exception in compute() becomes failed(message).
// Never blocks the UI thread; waitForIdle() exists for tests and shutdown only.
#include <QObject>
#include <QPointer>
#include <QString>
#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>

class QThreadPool;

namespace moescope::gui {

class AnalysisRunner : public QObject {
    Q_OBJECT
public:
    explicit AnalysisRunner(QObject* parent = nullptr);
    ~AnalysisRunner() override;  // cancels the running job (its result is dropped)

    template <class T>
    void run(std::function<T(const std::atomic<bool>& cancelled)> compute, std::function<void(T&&)> done) {
        auto cancel = begin();
        const quint64 gen = generation_;
        QPointer<AnalysisRunner> self(this);
        start([self, gen, cancel, compute = std::move(compute), done = std::move(done)]() mutable {
            auto result = std::make_shared<std::optional<T>>();
            QString error;
            try {
                result->emplace(compute(*cancel));
            } catch (const std::exception& e) {
                error = QString::fromUtf8(e.what());
            } catch (...) {
                error = QStringLiteral("unknown error");
            }
            finishOnUi([self, gen, cancel, result, error, done = std::move(done)]() mutable {
                if (!self || self->generation_ != gen) return;  // superseded or destroyed
                self->end();
                if (cancel->load()) return;
                if (!error.isEmpty()) {
                    emit self->failed(error);
                } else if (result->has_value()) {
                    done(std::move(**result));
                    emit self->finished();
                }
            });
        });
    }

    bool busy() const { return busy_; }
    void cancel();  // raises the flag of the running job and drops its result

    // The pool all runners share (max(1, idealThreadCount - 1) threads).
    static QThreadPool* pool();
    // Tests and shutdown only: waits until the shared pool is idle (results still arrive queued).
    static bool waitForIdle(int msecs = 30000);

signals:
    void busyChanged(bool busy);
    void finished();  // after done() ran for the newest job
    void failed(const QString& message);

private:
    std::shared_ptr<std::atomic<bool>> begin();
    void end();
    void start(std::function<void()> job);
    static void finishOnUi(std::function<void()> fn);

    quint64 generation_ = 0;
    std::shared_ptr<std::atomic<bool>> cancel_;
    bool busy_ = false;
};

}  // namespace moescope::gui
