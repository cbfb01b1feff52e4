// Live expert grid: the model (state cycling, interventions, usage), the painter view (hit testing at
// 48x128 and 58x256, clicks, hover, zoom) and the panel's preset handling. QAbstractItemModelTester
// watches the model through every change.
#include <QtTest>
#include <QAbstractItemModelTester>
#include <QSettings>
#include <QTemporaryDir>
#include <QScrollBar>
#include <QToolButton>

#include "app/gui/expert_grid_model.h"
#include "app/gui/expert_grid_panel.h"
#include "app/gui/expert_grid_view.h"
#include "app/gui/expert_preset.h"

using namespace moescope;
using namespace moescope::gui;
using State = ExpertGridModel::State;

namespace {
std::vector<int> layers(int first, int n) {
    std::vector<int> v;
    for (int i = 0; i < n; ++i) v.push_back(first + i);
    return v;
}
}  // namespace

class TestExpertGrid : public QObject {
    Q_OBJECT
    QTemporaryDir settingsDir_;

private slots:
    void initTestCase() {
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir_.path());
    }

    void clicksCycleStatesIntoInterventions_data() {
        QTest::addColumn<int>("clicks");
        QTest::addColumn<int>("expectedState");
        QTest::addRow("one click disables") << 1 << int(State::Disabled);
        QTest::addRow("two clicks force") << 2 << int(State::Forced);
        QTest::addRow("three clicks back to normal") << 3 << int(State::Normal);
        QTest::addRow("four clicks disable again") << 4 << int(State::Disabled);
    }
    void clicksCycleStatesIntoInterventions() {
        QFETCH(int, clicks);
        QFETCH(int, expectedState);
        ExpertGridModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        // DeepSeek-style: the first MoE layer is HF layer 3, so rows and HF indices differ.
        model.setShape(layers(3, 10), 64, 6);
        QSignalSpy changed(&model, &ExpertGridModel::interventionsChanged);
        for (int i = 0; i < clicks; ++i) model.cycleState(9, 63);  // HF layer 12, expert 63
        QCOMPARE(int(model.state(9, 63)), expectedState);
        QCOMPARE(changed.count(), clicks);
        const Interventions iv = model.interventions();
        const std::vector<ExpertRef> one{{12, 63}};
        QCOMPARE(iv.disable, expectedState == int(State::Disabled) ? one : std::vector<ExpertRef>{});
        QCOMPARE(iv.force, expectedState == int(State::Forced) ? one : std::vector<ExpertRef>{});
        QCOMPARE(model.data(model.index(9, 63), ExpertGridModel::StateRole).toInt(), expectedState);
    }

    void interventionsRoundTripAndSkipUnknownEntries() {
        ExpertGridModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setShape(layers(0, 48), 128, 8);
        Interventions iv;
        iv.disable = {{12, 87}, {0, 1}};
        iv.force = {{47, 127}};
        iv.bias = {{5, 5, 1.5f}};
        iv.top_k_per_layer = {{12, 4}};
        iv.top_k = 6;
        Interventions bad = iv;
        bad.disable.push_back({48, 0});   // no layer 48
        bad.force.push_back({3, 128});    // no expert 128
        QCOMPARE(model.setInterventions(bad), 2);
        Interventions back = model.interventions();
        // The grid reports in (layer, expert) order.
        Interventions expected = iv;
        expected.disable = {{0, 1}, {12, 87}};
        QCOMPARE(back, expected);
        QCOMPARE(model.headerData(12, Qt::Vertical).toString(), QStringLiteral("L12 k=4"));
        QVERIFY(model.headerData(11, Qt::Vertical, Qt::ToolTipRole).toString().contains("top-6"));
        QSignalSpy changed(&model, &ExpertGridModel::interventionsChanged);
        model.clearAll();
        QVERIFY(model.interventions().empty());
        QCOMPARE(changed.count(), 1);
        model.clearAll();  // already clear: no change signal
        QCOMPARE(changed.count(), 1);
    }

    void usageAndHighlightFollowObservedTokens() {
        ExpertGridModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setShape(layers(0, 2), 8, 2);
        // Planted routing: expert 3 of layer 1 is chosen by 3 of 4 tokens; expert 0 of layer 0 by all.
        auto tok = [](int a0, int a1, int b0, int b1) {
            TokenRouting r;
            r.k_max = 2;
            r.experts = {a0, a1, b0, b1};
            r.weights = {0.7f, 0.3f, 0.6f, 0.4f};
            return r;
        };
        const std::vector<TokenRouting> tokens{tok(0, 1, 3, 4), tok(0, 2, 3, 5), tok(0, 1, 3, 6), tok(0, 7, 2, 1)};
        for (const auto& t : tokens) model.addObservedToken(t);
        QCOMPARE(model.tokensSeen(), 4);
        QCOMPARE(model.usage(0, 0), 1.0);
        QCOMPARE(model.usage(1, 3), 0.75);
        QCOMPARE(model.usage(1, 0), 0.0);
        QCOMPARE(model.cellToolTip(1, 3), QStringLiteral("layer 1 · expert 3 · selected 75.0% of tokens"));
        model.setCurrentToken(tokens[1]);
        QCOMPARE(model.currentWeight(0, 2), 0.3f);
        QCOMPARE(model.currentWeight(1, 3), 0.6f);
        QCOMPARE(model.currentWeight(1, 4), 0.0f);
        QVERIFY(model.cellToolTip(1, 3).endsWith("weight 0.600 for this token"));
        TokenRouting wrongShape = tokens[0];
        wrongShape.experts.pop_back();
        model.addObservedToken(wrongShape);  // ignored, never out of bounds
        QCOMPARE(model.tokensSeen(), 4);
        model.resetUsage();
        QCOMPARE(model.usage(0, 0), 0.0);
        QCOMPARE(model.currentWeight(1, 3), 0.0f);
    }

    void viewHitTestingAndClicks_data() {
        QTest::addColumn<int>("nLayers");
        QTest::addColumn<int>("nExperts");
        QTest::addColumn<int>("row");
        QTest::addColumn<int>("col");
        QTest::addRow("qwen3-30b 48x128, middle") << 48 << 128 << 12 << 87;
        QTest::addRow("qwen3-30b 48x128, last cell") << 48 << 128 << 47 << 127;
        QTest::addRow("deepseek 58x256, first cell") << 58 << 256 << 0 << 0;
        QTest::addRow("deepseek 58x256, last cell") << 58 << 256 << 57 << 255;
    }
    void viewHitTestingAndClicks() {
        QFETCH(int, nLayers);
        QFETCH(int, nExperts);
        QFETCH(int, row);
        QFETCH(int, col);
        ExpertGridModel model;
        model.setShape(layers(0, nLayers), nExperts, 8);
        ExpertGridView view;
        view.resize(500, 400);
        view.setModel(&model);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        view.setCellSize(14);  // larger than the viewport: the target may need scrolling
        QCoreApplication::sendPostedEvents();  // let the scroll area lay out its scroll bars
        QRect rc = view.cellRect(row, col);
        if (!view.viewport()->rect().contains(rc)) {
            view.horizontalScrollBar()->setValue(view.horizontalScrollBar()->value() + rc.left() - 100);
            view.verticalScrollBar()->setValue(view.verticalScrollBar()->value() + rc.top() - 100);
            rc = view.cellRect(row, col);
        }
        QVERIFY2(view.viewport()->rect().contains(rc), "scrolling reaches every cell");
        QCOMPARE(view.cellAt(rc.center()), QPoint(col, row));
        QTest::mouseMove(view.viewport(), QPoint(1, 1));  // the header: no cell, and a real move below
        QSignalSpy hovered(&view, &ExpertGridView::cellHovered);
        QTest::mouseMove(view.viewport(), rc.center());
        QTRY_COMPARE(hovered.count(), 1);
        QCOMPARE(hovered.first(), (QList<QVariant>{row, col}));
        QSignalSpy clicked(&view, &ExpertGridView::cellClicked);
        QTest::mouseClick(view.viewport(), Qt::LeftButton, {}, rc.center());
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(model.state(row, col), State::Disabled);
        QTest::mouseClick(view.viewport(), Qt::LeftButton, {}, rc.center());
        QCOMPARE(model.state(row, col), State::Forced);
        QCOMPARE(model.interventions().force, (std::vector<ExpertRef>{{row, col}}));
        // Headers are not cells.
        QCOMPARE(view.cellAt(QPoint(1, 1)), QPoint(-1, -1));
        // Painting the whole grid at the smallest zoom must not touch anything out of range.
        view.setCellSize(ExpertGridView::kMinCell);
        QCOMPARE(view.cellSize(), ExpertGridView::kMinCell);
        QVERIFY(!view.viewport()->grab().isNull());
    }

    void zoomIsClampedAndSignalled() {
        ExpertGridModel model;
        model.setShape(layers(0, 4), 8, 2);
        ExpertGridView view;
        view.setModel(&model);
        view.setCellSize(10);
        QSignalSpy zoom(&view, &ExpertGridView::zoomChanged);
        view.setCellSize(1000);
        QCOMPARE(view.cellSize(), ExpertGridView::kMaxCell);
        view.zoomIn();
        QCOMPARE(view.cellSize(), ExpertGridView::kMaxCell);
        view.zoomOut();
        QVERIFY(view.cellSize() < ExpertGridView::kMaxCell);
        QCOMPARE(zoom.count(), 2);
    }

    void presetParsing_data() {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("errorPart");  // empty = valid
        QTest::addRow("full preset") << QByteArray(R"({"name":"x","disable":[[12,87]],"force":[[1,2]],"bias":[[3,4,-1.5]],"top_k":4})") << "";
        QTest::addRow("only a name") << QByteArray(R"({"name":"empty"})") << "";
        QTest::addRow("not json") << QByteArray("{disable") << "malformed JSON";
        QTest::addRow("array document") << QByteArray("[1,2]") << "a preset must be a JSON object";
        QTest::addRow("typo in a key") << QByteArray(R"({"disabel":[[1,2]]})") << "unknown key 'disabel'";
        QTest::addRow("disable not array") << QByteArray(R"({"disable":5})") << "'disable' must be an array";
        QTest::addRow("pair too short") << QByteArray(R"({"disable":[[1,2],[3]]})") << "'disable'[1]: expected [layer, expert]";
        QTest::addRow("fractional layer") << QByteArray(R"({"disable":[[1.5,2]]})") << "'disable'[0]";
        QTest::addRow("bias without value") << QByteArray(R"({"bias":[[1,2]]})") << "'bias'[0]: expected [layer, expert, bias]";
        QTest::addRow("top_k as text") << QByteArray(R"({"top_k":"4"})") << "'top_k': expected an integer";
        QTest::addRow("top_p out of range") << QByteArray(R"({"top_p":1.5})") << "'top_p' must be in (0, 1]";
    }
    void presetParsing() {
        QFETCH(QByteArray, json);
        QFETCH(QString, errorPart);
        const auto p = parsePreset(json, QStringLiteral("presets/p.json"));
        if (errorPart.isEmpty()) {
            QVERIFY2(p.ok(), p.message().c_str());
            return;
        }
        QVERIFY(!p.ok());
        const QString msg = QString::fromStdString(p.message());
        QVERIFY2(msg.startsWith("presets/p.json: "), qPrintable(msg));
        QVERIFY2(msg.contains(errorPart), qPrintable(msg));
    }

    void presetFileRoundTrip() {
        QTemporaryDir dir;
        ExpertPreset p;
        p.name = "refusal top 3";
        p.interventions.disable = {{12, 87}, {13, 5}};
        p.interventions.force = {{2, 0}};
        p.interventions.bias = {{4, 4, 0.25f}};
        p.interventions.top_k = 6;
        p.interventions.top_k_per_layer = {{12, 2}};
        const QString path = dir.filePath("p.json");
        QCOMPARE(savePresetFile(path, p), QString());
        auto back = loadPresetFile(path);
        QVERIFY2(back.ok(), back.message().c_str());
        QCOMPARE(back->name, p.name);
        QCOMPARE(back->interventions, p.interventions);
        const auto missing = loadPresetFile(dir.filePath("nope.json"));
        QVERIFY(!missing.ok());
        QVERIFY(QString::fromStdString(missing.message()).contains("nope.json: cannot open"));
    }

    void changeMarkers_data() {
        QTest::addColumn<QByteArray>("before");
        QTest::addColumn<QByteArray>("after");
        QTest::addColumn<QString>("text");
        QTest::addRow("expert off") << QByteArray("{}") << QByteArray(R"({"disable":[[12,87]]})") << "from token 37: L12 E87 off";
        QTest::addRow("off to forced, sorted by layer")
            << QByteArray(R"({"disable":[[12,87]]})") << QByteArray(R"({"force":[[12,87]],"disable":[[3,1]]})")
            << "from token 37: L3 E1 off, L12 E87 forced";
        QTest::addRow("back to normal") << QByteArray(R"({"force":[[1,2]]})") << QByteArray("{}") << "from token 37: L1 E2 normal";
        QTest::addRow("top-k changes") << QByteArray(R"({"top_k_per_layer":[[5,2]]})") << QByteArray(R"({"top_k":4})")
                                       << "from token 37: top-k 4, L5 top-k default";
        QTest::addRow("zeroed, then off") << QByteArray(R"({"zero_output":[[4,6]]})") << QByteArray(R"({"disable":[[4,6]],"zero_output":[[1,1]]})")
                                          << "from token 37: L1 E1 zeroed, L4 E6 off";
        QTest::addRow("bias") << QByteArray("{}") << QByteArray(R"({"bias":[[2,3,1.5]]})") << "from token 37: L2 E3 bias +1.5";
        QTest::addRow("rank-only (SCMoE weak routing)") << QByteArray("{}") << QByteArray(R"({"rank_only":2,"rank_only_layers":[1,3]})")
                                                        << "from token 37: rank-2 only (L1,3)";
        QTest::addRow("rank-only off") << QByteArray(R"({"rank_only":2})") << QByteArray("{}") << "from token 37: rank-only off";
    }
    void changeMarkers() {
        QFETCH(QByteArray, before);
        QFETCH(QByteArray, after);
        QFETCH(QString, text);
        auto a = parsePreset(before, "a");
        auto b = parsePreset(after, "b");
        QVERIFY(a.ok() && b.ok());
        QCOMPARE(markerText(37, describeChange(a->interventions, b->interventions)), text);
        QVERIFY(describeChange(b->interventions, b->interventions).isEmpty());
    }

    void panelLoadsPresetsAndRemembersThem() {
        QTemporaryDir dir;
        ExpertGridModel model;
        model.setShape(layers(0, 16), 32, 4);
        ExpertGridPanel panel(&model);
        const QString good = dir.filePath("good.json"), bad = dir.filePath("bad.json");
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"disable\": [[1]]}");
        f.close();
        model.cycleState(2, 3);
        QCOMPARE(panel.savePreset(good, "good"), QString());
        model.clearAll();
        QCOMPARE(panel.summaryText(), QStringLiteral("no interventions"));
        const QString err = panel.loadPreset(bad);
        QVERIFY2(err.contains("bad.json") && err.contains("'disable'[0]"), qPrintable(err));
        QVERIFY(model.interventions().empty());  // a failed load changes nothing
        QCOMPARE(panel.loadPreset(good), QString());
        QCOMPARE(model.state(2, 3), State::Disabled);
        QCOMPARE(panel.summaryText(), QStringLiteral("1 off"));
        QCOMPARE(panel.recentPresets().first(), QFileInfo(good).absoluteFilePath());
        auto* clear = panel.findChild<QToolButton*>("clearAll");
        QVERIFY(clear);
        clear->click();
        QVERIFY(model.interventions().empty());
    }
};

QTEST_MAIN(TestExpertGrid)
#include "test_expert_grid.moc"
