#pragma once
// EngineHost: the one engine thread that owns the model and every session (style.md §1E items 3-5).
//
// The UI posts work; the engine thread runs it in order. A tagged post replaces a queued (not yet
// running) post with the same tag, so bursts of hover/scrub/"recompute" requests collapse into the
// newest one (the RenderDoc ReplayManager::AsyncInvoke(tag, ...) idea). Work gets a cancel flag that
// cancel(tag)/cancelAll() raise; long jobs (load, generate) poll it between steps. Results come back
// only through deliver(): a queued call to a QPointer-guarded receiver, dropped if the receiver is gone.
// The UI thread never waits on the engine; postBlocking() exists for shutdown and tests only.
#include <QObject>
#include <QPointer>
#include <QString>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

class QThread;

namespace moescope::gui {

class EngineHost : public QObject {
    Q_OBJECT
public:
    // Work receives the job's cancel flag; it returns normally when it sees the flag raised.
    using Work = std::function<void(const std::atomic<bool>& cancelled)>;

    explicit EngineHost(QObject* parent = nullptr);
    // Cancels everything, lets the running job see its flag, then joins the thread.
    ~EngineHost() override;

    quint64 post(Work work) { return post(QString(), std::move(work)); }
    // Tagged post: a queued job with the same non-empty tag is dropped in favour of this one.
    quint64 post(const QString& tag, Work work);
    // Drops queued jobs with `tag` and raises the cancel flag of the running one if it has `tag`.
    void cancel(const QString& tag);
    void cancelAll();
    // Runs `work` on the engine thread and waits for it. Shutdown and tests only, never from a UI handler.
    void postBlocking(std::function<void()> work);

    bool isEngineThread() const;
    QThread* engineThread() const { return thread_; }
    int queuedCount() const;
    bool busy() const { return busy_.load(); }
    QString runningTag() const;

    // Runs fn later on the UI thread if `receiver` still exists then. Take the QPointer on the UI
    // thread when posting (a QPointer cannot be made from an object being destroyed elsewhere); the
    // check itself happens on the UI thread, where receivers are destroyed, so it cannot race.
    template <class F>
    void deliver(QPointer<QObject> receiver, F&& fn) {
        QMetaObject::invokeMethod(
            this, [receiver, f = std::forward<F>(fn)]() mutable {
                if (receiver) f();
            },
            Qt::QueuedConnection);
    }

signals:
    // Emitted from the engine thread; receivers in the UI thread get them queued.
    void busyChanged(bool busy);
    void jobFinished(quint64 id, const QString& tag, bool cancelled);
    // A job threw: the message names what failed. The engine thread keeps running.
    void jobFailed(quint64 id, const QString& tag, const QString& message);

private:
    struct Job {
        quint64 id = 0;
        QString tag;
        Work work;
        std::shared_ptr<std::atomic<bool>> cancel;
    };
    void drain();  // engine thread: runs queued jobs until the queue is empty
    void setBusy(bool b);

    QThread* thread_ = nullptr;
    QObject* worker_ = nullptr;  // lives in thread_; queued lambdas run in its context
    mutable std::mutex mutex_;
    std::deque<Job> queue_;
    std::shared_ptr<std::atomic<bool>> runningCancel_;
    QString runningTag_;
    quint64 nextId_ = 1;
    bool drainScheduled_ = false;
    std::atomic<bool> busy_{false};
};

}  // namespace moescope::gui
