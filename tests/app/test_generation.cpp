// Model loading and generation through the app's controllers, on the golden Qwen3-MoE model
// (../shared/testdata/golden/qwen3_moe; 3 MoE layers x 8 experts, top-2, no tokenizer -> raw ids).
// Expectations come from the golden file (independent float32 reference): greedy tokens, prompt
// routing, and the greedy tokens with expert (1, 2) disabled.
#include <QtTest>
#include <QComboBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "app/gui/generation_controller.h"
#include "app/gui/model_controller.h"
#include "app/gui/model_picker.h"
#include "engine/device.h"
#include "app/gui/scmoe_panel.h"
#include "engine/model/model.h"
#include "engine/session.h"
#include "engine/scmoe.h"
#include <QAbstractItemModelTester>
#include <QTableWidget>
#include "tests/support/testsupport.h"

using namespace moescope;
using namespace moescope::gui;

namespace {
QJsonObject golden() {
    QFile f(moescope::test::testdataPath("golden/qwen3_moe/expected.json"));
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}
std::vector<int32_t> ints(const QJsonArray& a) {
    std::vector<int32_t> v;
    for (const auto& x : a) v.push_back(x.toInt());
    return v;
}
QString idsText(const std::vector<int32_t>& ids) {
    QStringList s;
    for (int32_t i : ids) s << QString::number(i);
    return s.join(' ');
}
std::vector<int32_t> generatedIds(const RunData& run) {
    std::vector<int32_t> out;
    for (int i = run.promptTokens; i < run.tokenCount(); ++i) out.push_back(run.tokenText[i].mid(1, run.tokenText[i].size() - 2).toInt());
    return out;
}
bool rowUses(const RunData& run, int64_t row, int moeSlot, int expert) {
    const auto& a = run.routing;
    for (int j = 0; j < a.k_max; ++j)
        if (a.experts[a.slot(row, moeSlot, j)] == expert) return true;
    return false;
}

// One engine with the golden model loaded.
struct Fixture {
    EngineHost host;
    std::shared_ptr<EngineState> state = std::make_shared<EngineState>();
    ModelController models{&host, state};
    GenerationController gen{&host, state};
    bool load(const QString& path) {
        QSignalSpy loaded(&models, &ModelController::loaded);
        models.load(LoadRequest{path});
        return loaded.wait(30000);
    }
};
GenerationRequest greedy(const std::vector<int32_t>& prompt, int maxTokens) {
    GenerationRequest r;
    r.prompt = idsText(prompt);
    r.chat = false;
    r.sampling.greedy = true;
    r.maxTokens = maxTokens;
    return r;
}
}  // namespace

class TestGeneration : public QObject {
    Q_OBJECT
    QJsonObject golden_;
    QString modelDir_;

private slots:
    void initTestCase() {
        golden_ = golden();
        QVERIFY2(!golden_.isEmpty(), "golden/qwen3_moe/expected.json not readable");
        modelDir_ = moescope::test::testdataPath("golden/qwen3_moe");
    }

    void inspectGivesTheBadge() {
        Fixture fx;
        QSignalSpy inspected(&fx.models, &ModelController::inspected);
        fx.models.inspect(modelDir_);
        QVERIFY(inspected.wait(30000));
        const auto s = inspected.first().at(1).value<ModelSummary>();
        QCOMPARE(architectureBadge(s), QStringLiteral("Qwen3-MoE · 3 layers · 8 experts · top-2"));
        QVERIFY(s.params_active < s.params_total);
        QVERIFY(!fx.models.isLoaded());  // inspecting is not loading
    }

    void loadReportsPhasesAndReachesLoaded() {
        Fixture fx;
        QSignalSpy progress(&fx.models, &ModelController::loadProgress);
        QSignalSpy loaded(&fx.models, &ModelController::loaded);
        fx.models.load(LoadRequest{modelDir_});
        QVERIFY(fx.models.isLoading());
        QVERIFY(loaded.wait(30000));
        QVERIFY(fx.models.isLoaded());
        QCOMPARE(fx.models.summary().moe_layers, (std::vector<int>{0, 1, 2}));
        QStringList phases;
        double last = -1;
        for (const auto& p : progress) {
            QVERIFY2(p.at(0).toDouble() >= last, "progress never goes backwards");
            last = p.at(0).toDouble();
            phases << p.at(1).toString().section(':', 0, 0);
        }
        QCOMPARE(last, 1.0);
        for (const char* phase : {"reading config", "reading weights", "loading tokenizer", "allocating KV cache, warming up"})
            QVERIFY2(phases.contains(phase), phase);
    }

    void badModelFolderFailsWithFileAndReason_data() {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QString>("expectedFile");
        QTest::addColumn<QString>("expectedReason");
        QTest::addRow("folder does not exist") << "missing" << "nope" << "not a model folder";
        QTest::addRow("no config.json") << "empty" << "config.json" << "missing";
        QTest::addRow("config.json is not JSON") << "badjson" << "config.json" << "JSON";
        QTest::addRow("weights truncated") << "truncated" << "model.safetensors" << "";
    }
    void badModelFolderFailsWithFileAndReason() {
        QFETCH(QString, what);
        QFETCH(QString, expectedFile);
        QFETCH(QString, expectedReason);
        QTemporaryDir dir;
        QString path = dir.filePath("model");
        QDir().mkpath(path);
        if (what == "missing") path = dir.filePath("nope");
        if (what == "badjson" || what == "truncated") {
            QFile cfg(path + "/config.json");
            QVERIFY(cfg.open(QIODevice::WriteOnly));
            if (what == "badjson") {
                cfg.write("{\"model_type\": \"qwen3_moe\",");
            } else {
                QFile src(modelDir_ + "/config.json");
                QVERIFY(src.open(QIODevice::ReadOnly));
                cfg.write(src.readAll());
                QFile w(modelDir_ + "/model.safetensors");
                QVERIFY(w.open(QIODevice::ReadOnly));
                QFile t(path + "/model.safetensors");
                QVERIFY(t.open(QIODevice::WriteOnly));
                t.write(w.read(w.size() / 2));
            }
        }
        Fixture fx;
        QSignalSpy failed(&fx.models, &ModelController::loadFailed);
        fx.models.load(LoadRequest{path});
        QVERIFY(failed.wait(30000));
        const QString msg = failed.first().at(1).toString();
        QVERIFY2(msg.contains(expectedFile), qPrintable(msg));
        QVERIFY2(msg.contains(expectedReason, Qt::CaseInsensitive), qPrintable(msg));
        QVERIFY(!fx.models.isLoaded());
        QVERIFY(!fx.models.isLoading());
        // The engine thread survived: a good model loads afterwards.
        QVERIFY(fx.load(modelDir_));
    }

    // The device box's CUDA choice goes through the same engine path as the CLI's --device cuda. Without a
    // GPU the load fails with the model folder and the reason, and the app stays usable; with one, greedy
    // FP32 generation on the GPU gives the golden tokens.
    void cudaDeviceChoice() {
        Fixture fx;
        LoadRequest r{modelDir_};
        r.device = "cuda";
        r.precision = "fp32";
        if (cuda_device_count() == 0) {
            QSignalSpy failed(&fx.models, &ModelController::loadFailed);
            fx.models.load(r);
            QVERIFY(failed.wait(30000));
            const QString msg = failed.first().at(1).toString();
            QVERIFY2(msg.contains(modelDir_) && msg.contains("CUDA", Qt::CaseInsensitive), qPrintable(msg));
            QVERIFY(!fx.models.isLoaded());
            QVERIFY(fx.load(modelDir_));  // CPU still works
            return;
        }
        QSignalSpy loaded(&fx.models, &ModelController::loaded);
        fx.models.load(r);
        QVERIFY(loaded.wait(120000));
        const auto prompt = ints(golden_["input_ids"].toArray());
        const auto expected = ints(golden_["baseline"].toObject()["greedy"].toObject()["new_tokens"].toArray());
        QSignalSpy finished(&fx.gen, &GenerationController::finished);
        fx.gen.start(greedy(prompt, static_cast<int>(expected.size())));
        QVERIFY(finished.wait(60000));
        QCOMPARE(generatedIds(*finished.first().at(1).value<RunDataPtr>()), expected);
    }

    // 8-bit weights from the model picker ("CPU — 8-bit weights"): the load quantises the model (summary
    // dtype Q8_0), generation streams exactly the tokens an engine Session gives on a separately loaded and
    // quantised copy, and asking for Q8_0 on CUDA fails the load with a reason.
    void q8WeightsChoice() {
        Fixture fx;
        ModelPicker picker(&fx.models);
        auto* device = picker.findChild<QComboBox*>("deviceChoice");
        QVERIFY(device);
        const int q8 = device->findData(QStringLiteral("cpu:q8_0"));
        QVERIFY(q8 >= 0);
        device->setCurrentIndex(q8);
        picker.setPath(modelDir_);
        LoadRequest r = picker.request();
        QCOMPARE(r.device, QStringLiteral("cpu"));
        QCOMPARE(r.weights, QStringLiteral("q8_0"));
        r.path = modelDir_;

        QSignalSpy loaded(&fx.models, &ModelController::loaded);
        fx.models.load(r);
        QVERIFY(loaded.wait(30000));
        QCOMPARE(fx.models.summary().dtype, std::string("Q8_0"));
        const auto prompt = ints(golden_["input_ids"].toArray());
        QSignalSpy finished(&fx.gen, &GenerationController::finished);
        fx.gen.start(greedy(prompt, 8));
        QVERIFY(finished.wait(60000));
        const auto got = generatedIds(*finished.first().at(1).value<RunDataPtr>());

        auto m = Model::load(modelDir_.toStdString());
        QVERIFY(m.ok());
        QVERIFY(*m.value()->quantize_q8_0() > 0);
        Session s(*m.value(), SessionOptions{1});
        std::vector<int32_t> expected;
        auto logits = s.prefill(prompt);
        for (int i = 0; i < 8; ++i) {
            const int32_t t = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
            expected.push_back(t);
            if (i + 1 < 8) logits = s.step(t);
        }
        QCOMPARE(got, expected);

        LoadRequest bad{modelDir_};
        bad.device = "cuda";
        bad.weights = "q8_0";
        QSignalSpy failed(&fx.models, &ModelController::loadFailed);
        fx.models.load(bad);
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.first().at(1).toString().contains("CPU only"), qPrintable(failed.first().at(1).toString()));
    }

    // SCMoE through the app: the streamed tokens are the engine's ScmoeDecoder tokens (β = 0 gives plain
    // greedy decoding, the golden tokens), every token carries the strong/weak/contrast top lists, the
    // chosen token is the contrast's best, and the side panel counts the changed choices.
    void scmoeDecoding_data() {
        QTest::addColumn<double>("beta");
        QTest::addColumn<QString>("weak");
        QTest::addRow("beta 0 is greedy") << 0.0 << "rank2";
        QTest::addRow("beta 0.5 rank-2") << 0.5 << "rank2";
        QTest::addRow("beta 1 top-1") << 1.0 << "top1";
    }
    void scmoeDecoding() {
        QFETCH(double, beta);
        QFETCH(QString, weak);
        Fixture fx;
        QVERIFY(fx.load(modelDir_));
        const auto prompt = ints(golden_["input_ids"].toArray());
        const int n = 8;
        ScmoeOptions so;
        so.beta = static_cast<float>(beta);
        so.alpha = 0.1f;
        so.weak = parse_weak_routing(weak.toStdString()).value();
        so.max_new_tokens = n;
        // Independent run of the engine's decoder on its own copy of the model.
        auto model = Model::load(modelDir_.toStdString());
        QVERIFY(model.ok());
        ScmoeDecoder direct(*model.value(), {}, so);
        std::vector<int32_t> expected = direct.run(prompt).tokens;
        if (beta == 0.0) {
            auto greedyTokens = ints(golden_["baseline"].toObject()["greedy"].toObject()["new_tokens"].toArray());
            greedyTokens.resize(std::min<size_t>(greedyTokens.size(), expected.size()));
            QCOMPARE(std::vector<int32_t>(expected.begin(), expected.begin() + greedyTokens.size()), greedyTokens);
        }
        GenerationRequest r = greedy(prompt, n);
        r.scmoe = so;
        QSignalSpy tokens(&fx.gen, &GenerationController::tokenGenerated);
        QSignalSpy finished(&fx.gen, &GenerationController::finished);
        fx.gen.start(r);
        QVERIFY(finished.wait(30000));
        ScmoePanel panel;
        std::vector<int32_t> streamed;
        int changed = 0;
        for (const auto& t : tokens) {
            const TokenEvent ev = t.at(0).value<TokenEvent>();
            streamed.push_back(ev.id);
            QVERIFY(ev.scmoe.has_value());
            const ScmoeDetail& d = *ev.scmoe;
            QVERIFY(!d.strong.isEmpty() && !d.weak.isEmpty() && !d.contrast.isEmpty());
            QVERIFY2(d.contrast.first().startsWith(ev.piece + " "), qPrintable(d.contrast.first() + " vs " + ev.piece));
            QCOMPARE(d.differsFromStrong, !d.strong.first().startsWith(ev.piece + " "));
            if (beta == 0.0) QVERIFY(!d.differsFromStrong);
            changed += d.differsFromStrong ? 1 : 0;
            panel.addToken(ev.row, ev.piece, d);
        }
        QCOMPARE(streamed, expected);
        QCOMPARE(panel.tokenCount(), static_cast<int>(streamed.size()));
        QCOMPARE(panel.changedCount(), changed);
        const int lastRow = tokens.last().at(0).value<TokenEvent>().row;
        panel.showRow(lastRow);
        QCOMPARE(panel.shownRow(), lastRow);
        QCOMPARE(panel.table()->rowCount(), 5);
        QAbstractItemModelTester tester(panel.table()->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        panel.showRow(0);  // a prompt row: no SCMoE data
        QCOMPARE(panel.shownRow(), -1);
    }

    void cancelledLoadLeavesNothingLoaded() {
        Fixture fx;
        QSignalSpy cancelled(&fx.models, &ModelController::loadCancelled);
        QSignalSpy loaded(&fx.models, &ModelController::loaded);
        fx.models.load(LoadRequest{modelDir_});
        fx.models.cancelLoad();
        QCOMPARE(cancelled.count(), 1);
        QVERIFY(!fx.models.isLoading());
        fx.host.postBlocking([] {});  // let the engine finish whatever it started
        QCoreApplication::processEvents();
        QCOMPARE(loaded.count(), 0);
        QVERIFY(!fx.models.isLoaded());
    }

    void greedyGenerationStreamsTheGoldenTokens() {
        Fixture fx;
        QVERIFY(fx.load(modelDir_));
        const auto prompt = ints(golden_["input_ids"].toArray());
        const auto expected = ints(golden_["baseline"].toObject()["greedy"].toObject()["new_tokens"].toArray());
        QSignalSpy tokens(&fx.gen, &GenerationController::tokenGenerated);
        QSignalSpy finished(&fx.gen, &GenerationController::finished);
        fx.gen.start(greedy(prompt, static_cast<int>(expected.size())));
        QVERIFY(fx.gen.isRunning());
        QVERIFY(finished.wait(30000));
        QCOMPARE(tokens.count(), static_cast<int>(expected.size()));
        std::vector<int32_t> streamed;
        for (const auto& t : tokens) streamed.push_back(t.at(0).value<TokenEvent>().id);
        QCOMPARE(streamed, expected);
        const RunDataPtr run = finished.first().at(1).value<RunDataPtr>();
        QCOMPARE(generatedIds(*run), expected);
        QCOMPARE(run->promptTokens, static_cast<int>(prompt.size()));
        // Prompt routing equals the golden routing (as sets per token and layer).
        const QJsonArray routing = golden_["baseline"].toObject()["routing"].toArray();
        for (int m = 0; m < 3; ++m) {
            const QJsonArray experts = routing[m].toObject()["experts"].toArray();
            for (int t = 0; t < static_cast<int>(prompt.size()); ++t)
                for (const auto& e : experts[t].toArray())
                    QVERIFY2(rowUses(*run, t, m, e.toInt()), qPrintable(QString("token %1 layer %2").arg(t).arg(m)));
        }
        QVERIFY(!fx.gen.isRunning());
    }

    void expertToggledMidGenerationReachesTheNextToken() {
        Fixture fx;
        QVERIFY(fx.load(modelDir_));
        const auto prompt = ints(golden_["input_ids"].toArray());
        fx.gen.setStepping(true);  // the engine waits after each token: the toggle lands at a known token
        QSignalSpy tokens(&fx.gen, &GenerationController::tokenGenerated);
        QSignalSpy markers(&fx.gen, &GenerationController::interventionMarker);
        QSignalSpy finished(&fx.gen, &GenerationController::finished);
        fx.gen.start(greedy(prompt, 16));
        for (int i = 0; i < 3; ++i) {
            QTRY_COMPARE_WITH_TIMEOUT(tokens.count(), i + 1, 30000);
            fx.gen.stepOnce();
        }
        QTRY_COMPARE_WITH_TIMEOUT(tokens.count(), 4, 30000);  // token 3 is out; the engine waits
        Interventions iv;
        iv.disable = {{1, 2}};  // the expert layer 1 uses most in the golden prompt
        fx.gen.setLiveInterventions(iv);
        fx.gen.setStepping(false);
        QVERIFY(finished.wait(30000));
        QCOMPARE(markers.count(), 1);
        QCOMPARE(markers.first().at(0).toInt(), 4);
        QCOMPARE(markers.first().at(1).toString(), QStringLiteral("from token 4: L1 E2 off"));
        const RunDataPtr run = finished.first().at(1).value<RunDataPtr>();
        const int firstAffectedRow = run->promptTokens + 3;  // the forward that picks token 4
        int usesBefore = 0;
        for (int64_t r = 0; r < run->routing.n_tokens; ++r) {
            if (r >= firstAffectedRow) {
                QVERIFY2(!rowUses(*run, r, 1, 2), qPrintable(QString("row %1 still routes to L1 E2").arg(r)));
            } else if (rowUses(*run, r, 1, 2)) {
                ++usesBefore;
            }
        }
        QVERIFY2(usesBefore > 0, "expert (1,2) was in use before the toggle");
        QCOMPARE(static_cast<int>(run->timeline.size()), 1);
        QCOMPARE(run->timeline[0].fromToken, firstAffectedRow);
    }

    void branchesShareThePrefix_data() {
        QTest::addColumn<int>("at");
        QTest::addColumn<QString>("golden");  // expected.json interventions entry ("" = none)
        QTest::addColumn<QString>("preset");  // used when golden is ""
        QTest::addRow("branch at token 0, L1 E2 off (the golden 'disable' run)") << 0 << "disable" << "";
        QTest::addRow("branch at token 0, L1 E0 forced (the golden 'force' run)") << 0 << "force" << "";
        QTest::addRow("branch at token 5, six experts off")
            << 5 << "" << R"({"disable": [[0,2],[0,3],[1,2],[1,4],[2,1],[2,6]]})";
    }
    void branchesShareThePrefix() {
        QFETCH(int, at);
        QFETCH(QString, golden);
        QFETCH(QString, preset);
        Fixture fx;
        QVERIFY(fx.load(modelDir_));
        const auto prompt = ints(golden_["input_ids"].toArray());
        const auto baseline = ints(golden_["baseline"].toObject()["greedy"].toObject()["new_tokens"].toArray());
        const QJsonObject g = golden_["interventions"].toObject()[golden].toObject();
        const auto goldenTokens = ints(g["greedy"].toObject()["new_tokens"].toArray());
        QSignalSpy finished(&fx.gen, &GenerationController::finished);
        fx.gen.start(greedy(prompt, 16));
        QVERIFY(finished.wait(30000));
        Interventions iv;
        const QJsonObject gi = golden.isEmpty() ? QJsonDocument::fromJson(preset.toUtf8()).object() : g["interventions"].toObject();
        for (const auto& p : gi["disable"].toArray()) iv.disable.push_back({p[0].toInt(), p[1].toInt()});
        for (const auto& p : gi["force"].toArray()) iv.force.push_back({p[0].toInt(), p[1].toInt()});
        fx.gen.branch(at, iv);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 30000);
        QCOMPARE(finished.at(1).at(0).toBool(), true);  // isBranch
        const RunDataPtr original = finished.at(0).at(1).value<RunDataPtr>();
        const RunDataPtr branch = finished.at(1).at(1).value<RunDataPtr>();
        const auto a = generatedIds(*original), b = generatedIds(*branch);
        QCOMPARE(a, baseline);
        QCOMPARE(b.size(), a.size());
        QVERIFY(std::equal(a.begin(), a.begin() + at, b.begin()));  // common prefix
        if (at == 0) QCOMPARE(b, goldenTokens);  // the whole run with the preset
        QVERIFY2(a != b, qPrintable("the intervention changes the continuation: " + idsText(b)));
        // From the forward that picks token `at` on, layer 1 follows the intervention.
        for (int64_t r = prompt.size() + std::max(0, at - 1); r < branch->routing.n_tokens; ++r) {
            for (const ExpertRef& d : iv.disable) QVERIFY(!rowUses(*branch, r, d.layer, d.expert));
            for (const ExpertRef& f : iv.force) QVERIFY(rowUses(*branch, r, f.layer, f.expert));
        }
    }

    void badRawPromptIsAnErrorNotACrash() {
        Fixture fx;
        QVERIFY(fx.load(modelDir_));
        QSignalSpy failed(&fx.gen, &GenerationController::failed);
        GenerationRequest r = greedy({}, 4);
        r.prompt = "1 2 hello";
        fx.gen.start(r);
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.first().at(0).toString().contains("'hello' is not a token id"), qPrintable(failed.first().at(0).toString()));
        QVERIFY(!fx.gen.isRunning());
    }
};

QTEST_MAIN(TestGeneration)
#include "test_generation.moc"
