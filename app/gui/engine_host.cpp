// EngineHost: a QThread with a worker object draining a tag-collapsing job queue.
#include "app/gui/engine_host.h"

#include <QThread>
#include <exception>
#include <future>

namespace moescope::gui {

EngineHost::EngineHost(QObject* parent) : QObject(parent) {
    thread_ = new QThread();
    thread_->setObjectName(QStringLiteral("moescope-engine"));
    worker_ = new QObject();
    worker_->moveToThread(thread_);
    QObject::connect(thread_, &QThread::finished, worker_, &QObject::deleteLater);
    thread_->start();
}

EngineHost::~EngineHost() {
    cancelAll();
    thread_->quit();
    thread_->wait();
    delete thread_;
}

quint64 EngineHost::post(const QString& tag, Work work) {
    bool schedule = false;
    quint64 id = 0;
    {
        std::lock_guard lock(mutex_);
        if (!tag.isEmpty()) {
            // Newest wins: drop a queued job with the same tag (never the running one).
            std::erase_if(queue_, [&](const Job& j) { return j.tag == tag; });
        }
        id = nextId_++;
        queue_.push_back(Job{id, tag, std::move(work), std::make_shared<std::atomic<bool>>(false)});
        if (!drainScheduled_) {
            drainScheduled_ = true;
            schedule = true;
        }
    }
    if (schedule) QMetaObject::invokeMethod(worker_, [this] { drain(); }, Qt::QueuedConnection);
    return id;
}

void EngineHost::drain() {
    for (;;) {
        Job job;
        {
            std::lock_guard lock(mutex_);
            if (queue_.empty()) {
                drainScheduled_ = false;
                runningCancel_.reset();
                runningTag_.clear();
                break;
            }
            job = std::move(queue_.front());
            queue_.pop_front();
            runningCancel_ = job.cancel;
            runningTag_ = job.tag;
        }
        setBusy(true);
        try {
            job.work(*job.cancel);
        } catch (const std::exception& e) {
            emit jobFailed(job.id, job.tag, QString::fromUtf8(e.what()));
        } catch (...) {
            emit jobFailed(job.id, job.tag, QStringLiteral("unknown error"));
        }
        emit jobFinished(job.id, job.tag, job.cancel->load());
    }
    setBusy(false);
}

void EngineHost::setBusy(bool b) {
    if (busy_.exchange(b) != b) emit busyChanged(b);
}

void EngineHost::cancel(const QString& tag) {
    std::lock_guard lock(mutex_);
    std::erase_if(queue_, [&](const Job& j) { return j.tag == tag; });
    if (runningCancel_ && runningTag_ == tag) runningCancel_->store(true);
}

void EngineHost::cancelAll() {
    std::lock_guard lock(mutex_);
    queue_.clear();
    if (runningCancel_) runningCancel_->store(true);
}

void EngineHost::postBlocking(std::function<void()> work) {
    if (isEngineThread()) {
        work();
        return;
    }
    std::promise<void> done;
    auto future = done.get_future();
    post([&](const std::atomic<bool>&) {
        try {
            work();
            done.set_value();
        } catch (...) {
            done.set_exception(std::current_exception());
        }
    });
    future.get();  // rethrows what work threw
}

bool EngineHost::isEngineThread() const { return QThread::currentThread() == thread_; }

int EngineHost::queuedCount() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(queue_.size());
}

QString EngineHost::runningTag() const {
    std::lock_guard lock(mutex_);
    return runningTag_;
}

}  // namespace moescope::gui
