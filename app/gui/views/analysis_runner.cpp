#include "app/gui/views/analysis_runner.h"

#include <QCoreApplication>
#include <QRunnable>
#include <QThread>
#include <QThreadPool>
#include <algorithm>

namespace moescope::gui {

AnalysisRunner::AnalysisRunner(QObject* parent) : QObject(parent) {}

AnalysisRunner::~AnalysisRunner() {
    if (cancel_) cancel_->store(true);
}

QThreadPool* AnalysisRunner::pool() {
    static QThreadPool* p = [] {
        auto* pool = new QThreadPool(QCoreApplication::instance());
        pool->setMaxThreadCount(std::max(1, QThread::idealThreadCount() - 1));
        return pool;
    }();
    return p;
}

bool AnalysisRunner::waitForIdle(int msecs) { return pool()->waitForDone(msecs); }

std::shared_ptr<std::atomic<bool>> AnalysisRunner::begin() {
    if (cancel_) cancel_->store(true);  // the previous job, if still running, stops early
    ++generation_;
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    if (!busy_) {
        busy_ = true;
        emit busyChanged(true);
    }
    return cancel_;
}

void AnalysisRunner::end() {
    if (busy_) {
        busy_ = false;
        emit busyChanged(false);
    }
}

void AnalysisRunner::cancel() {
    if (!cancel_) return;
    cancel_->store(true);
    ++generation_;  // drop the result when it arrives
    end();
}

void AnalysisRunner::start(std::function<void()> job) {
    pool()->start(QRunnable::create(std::move(job)));
}

void AnalysisRunner::finishOnUi(std::function<void()> fn) {
    // qApp lives as long as the event loop; the guarded lambda checks the runner there, on the UI thread.
    QMetaObject::invokeMethod(QCoreApplication::instance(), std::move(fn), Qt::QueuedConnection);
}

}  // namespace moescope::gui
