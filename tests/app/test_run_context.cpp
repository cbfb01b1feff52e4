// RunContext: one broadcast per real change, observers removed with their owner, selection rules.
#include <QtTest>

#include "app/gui/run_context.h"

using namespace moescope::gui;

namespace {
struct Recorder : IRunObserver {
    QStringList log;
    void onRunLoaded(const RunDataPtr& r) override { log << "loaded:" + r->title; }
    void onRunClosed() override { log << "closed"; }
    void onTokenSelected(int row) override { log << QString("token:%1").arg(row); }
    void onLayerSelected(int l) override { log << QString("layer:%1").arg(l); }
    void onExpertSelected(int l, int e) override { log << QString("expert:%1,%2").arg(l).arg(e); }
};
RunDataPtr makeRun(const QString& title, int tokens) {
    auto r = std::make_shared<RunData>();
    r->title = title;
    for (int i = 0; i < tokens; ++i) r->tokenText << QString("t%1").arg(i);
    return r;
}
}  // namespace

class TestRunContext : public QObject {
    Q_OBJECT
private slots:
    void broadcastsOncePerChange() {
        RunContext ctx;
        QObject owner;
        Recorder rec;
        ctx.addObserver(&rec, &owner);
        QSignalSpy tokens(&ctx, &RunContext::tokenSelected);
        ctx.setRun(makeRun("a", 5));
        ctx.selectToken(3);
        ctx.selectToken(3);  // same value: nothing
        ctx.selectToken(9);  // out of range for a 5-token run: clears
        ctx.selectExpert(12, 87);
        ctx.selectExpert(12, 87);
        ctx.closeRun();
        QCOMPARE(rec.log, (QStringList{"loaded:a", "token:3", "token:-1", "layer:12", "expert:12,87", "closed"}));
        QCOMPARE(tokens.count(), 2);
        QCOMPARE(ctx.selectedExpert(), 87);
        QCOMPARE(ctx.selectedLayer(), 12);
    }

    void newRunClearsTokenSelection() {
        RunContext ctx;
        ctx.setRun(makeRun("a", 5));
        ctx.selectToken(2);
        QSignalSpy loaded(&ctx, &RunContext::runLoaded);
        ctx.setRun(makeRun("b", 5));
        QCOMPARE(loaded.count(), 1);
        QCOMPARE(loaded.first().at(0).value<RunDataPtr>()->title, QStringLiteral("b"));
        QCOMPARE(ctx.selectedToken(), -1);
    }

    void lateObserverGetsCurrentRunAndDeadOnesAreDropped() {
        RunContext ctx;
        ctx.setRun(makeRun("a", 2));
        Recorder early, late;
        auto* owner = new QObject;
        ctx.addObserver(&early, owner);
        QObject lateOwner;
        ctx.addObserver(&late, &lateOwner);
        QCOMPARE(late.log, QStringList{"loaded:a"});
        delete owner;  // the view is closed
        ctx.selectLayer(4);
        QCOMPARE(ctx.observerCount(), 1);
        QCOMPARE(early.log, QStringList{"loaded:a"});
        QCOMPARE(late.log, (QStringList{"loaded:a", "layer:4"}));
    }
};

QTEST_MAIN(TestRunContext)
#include "test_run_context.moc"
