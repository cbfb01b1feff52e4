// EngineHost: work runs on the one engine thread, in order; tagged posts collapse to the newest;
// cancellation reaches the running job; results reach only live receivers; failures are reported.
#include <QtTest>
#include <QThread>
#include <future>
#include <mutex>

#include "app/gui/engine_host.h"

using moescope::gui::EngineHost;

namespace {
// Holds the engine thread inside a job until release(), so the test can queue work deterministically.
struct Gate {
    std::promise<void> entered, open;
    std::shared_future<void> openF{open.get_future().share()};
    void block(EngineHost& host) {
        auto f = openF;
        host.post([this, f](const std::atomic<bool>&) {
            entered.set_value();
            f.wait();
        });
        entered.get_future().wait();
    }
    void release() {
        if (!released) open.set_value();
        released = true;
    }
    ~Gate() { release(); }
    bool released = false;
};
}  // namespace

class TestEngineHost : public QObject {
    Q_OBJECT
private slots:
    void workRunsOnEngineThreadAndResultsOnUiThread() {
        EngineHost host;
        QObject receiver;
        QThread* workThread = nullptr;
        QThread* resultThread = nullptr;
        host.post([&](const std::atomic<bool>&) {
            workThread = QThread::currentThread();
            host.deliver(&receiver, [&] { resultThread = QThread::currentThread(); });
        });
        QTRY_VERIFY(resultThread != nullptr);
        QCOMPARE(workThread, host.engineThread());
        QVERIFY(workThread != QThread::currentThread());
        QCOMPARE(resultThread, QThread::currentThread());
    }

    void taggedPostsCollapse_data() {
        QTest::addColumn<QStringList>("posts");     // "tag:value", tag may be empty
        QTest::addColumn<QStringList>("expected");  // values that run, in order
        QTest::addRow("burst of hovers keeps the newest")
            << QStringList{"hover:1", "hover:2", "hover:3"} << QStringList{"3"};
        QTest::addRow("untagged posts all run in order")
            << QStringList{":a", ":b", ":c"} << QStringList{"a", "b", "c"};
        QTest::addRow("newest tagged moves behind untagged")
            << QStringList{"hover:1", ":x", "hover:2"} << QStringList{"x", "2"};
        QTest::addRow("different tags do not interfere")
            << QStringList{"hover:1", "scrub:a", "hover:2", "scrub:b"} << QStringList{"2", "b"};
    }
    void taggedPostsCollapse() {
        QFETCH(QStringList, posts);
        QFETCH(QStringList, expected);
        EngineHost host;
        Gate gate;
        gate.block(host);  // the engine is busy, so every post below stays queued
        std::mutex m;
        QStringList ran;
        for (const QString& p : posts) {
            const QString tag = p.section(':', 0, 0), value = p.section(':', 1);
            host.post(tag, [&, value](const std::atomic<bool>&) {
                std::lock_guard lock(m);
                ran << value;
            });
        }
        QCOMPARE(host.queuedCount(), static_cast<int>(expected.size()));
        QSignalSpy idle(&host, &EngineHost::busyChanged);
        gate.release();
        QTRY_VERIFY(idle.count() >= 1);  // the signal may arrive before a wait() would start
        QCOMPARE(idle.last().at(0).toBool(), false);
        std::lock_guard lock(m);
        QCOMPARE(ran, expected);
    }

    void cancelReachesTheRunningJob() {
        EngineHost host;
        QSignalSpy finished(&host, &EngineHost::jobFinished);
        std::promise<void> started;
        const quint64 id = host.post(QStringLiteral("generate"), [&](const std::atomic<bool>& cancelled) {
            started.set_value();
            while (!cancelled.load()) std::this_thread::yield();  // a long job polling between steps
        });
        started.get_future().wait();
        QCOMPARE(host.runningTag(), QStringLiteral("generate"));
        host.cancel(QStringLiteral("other"));  // a different tag leaves it running
        host.cancel(QStringLiteral("generate"));
        QTRY_COMPARE(finished.count(), 1);
        QCOMPARE(finished.first().at(0).toULongLong(), id);
        QCOMPARE(finished.first().at(2).toBool(), true);
    }

    void cancelDropsQueuedJobsWithThatTag() {
        EngineHost host;
        Gate gate;
        gate.block(host);
        std::atomic<int> ran{0};
        host.post(QStringLiteral("load"), [&](const std::atomic<bool>&) { ran += 1; });
        host.post(QStringLiteral("keep"), [&](const std::atomic<bool>&) { ran += 10; });
        host.cancel(QStringLiteral("load"));
        QCOMPARE(host.queuedCount(), 1);
        QSignalSpy idle(&host, &EngineHost::busyChanged);
        gate.release();
        QTRY_VERIFY(idle.count() >= 1);
        QCOMPARE(ran.load(), 10);
    }

    void resultsForDestroyedReceiversAreDropped() {
        EngineHost host;
        Gate gate;
        gate.block(host);
        int delivered = 0;
        auto* gone = new QObject;
        QObject alive;
        QPointer<QObject> goneGuard(gone), aliveGuard(&alive);  // taken on the UI thread when posting
        host.post([&, goneGuard, aliveGuard](const std::atomic<bool>&) {
            host.deliver(goneGuard, [&] { delivered += 100; });
            host.deliver(aliveGuard, [&] { delivered += 1; });
        });
        delete gone;  // the view closes while the engine is still working
        gate.release();
        QTRY_COMPARE(delivered, 1);
    }

    void exceptionsBecomeJobFailedAndTheThreadLives() {
        EngineHost host;
        QSignalSpy failed(&host, &EngineHost::jobFailed);
        host.post(QStringLiteral("load"), [](const std::atomic<bool>&) {
            throw std::runtime_error("model.safetensors: header length 9999 exceeds file size");
        });
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.first().at(1).toString(), QStringLiteral("load"));
        QVERIFY(failed.first().at(2).toString().contains("model.safetensors"));
        int after = 0;
        host.postBlocking([&] { after = 7; });
        QCOMPARE(after, 7);
    }

    void destructionCancelsALongJob() {
        std::atomic<bool> sawCancel{false};
        {
            EngineHost host;
            std::promise<void> started;
            host.post([&](const std::atomic<bool>& cancelled) {
                started.set_value();
                while (!cancelled.load()) std::this_thread::yield();
                sawCancel = true;
            });
            started.get_future().wait();
        }  // must not hang
        QVERIFY(sawCancel.load());
    }
};

QTEST_MAIN(TestEngineHost)
#include "test_engine_host.moc"
