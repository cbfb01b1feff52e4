// The bundled demo model (resources/models/demo, trained by tools/demo-model/): it loads through the
// normal Hugging Face path, its summary matches the trained configuration, and the engine reproduces
// the independent PyTorch reference (tools/demo-model/model.py, fp32) on one held-out prompt per
// prompt set: chat rendering, tokenization, last-position logits, 16 greedy tokens (EOS ignored),
// greedy-until-EOS, and greedy with the planted refusal experts disabled.
//
// Expected values: tests/engine/data/demo_model_expected.json, written by
// tools/demo-model/expected.py. Regenerate them ONLY when the model is retrained:
//   /usr/bin/python3 tools/demo-model/expected.py   (defaults: resources/models/demo, resources/prompts,
//   tests/engine/data/demo_model_expected.json)
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/model/model.h"
#include "engine/sampling.h"
#include "engine/session.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/testsupport.h"

using namespace moescope;

namespace {

QString demoDir() { return test::sourceDir() + "/resources/models/demo"; }

nlohmann::json loadExpected() {
    std::ifstream f((test::sourceDir() + "/tests/engine/data/demo_model_expected.json").toStdString());
    if (!f) return {};
    return nlohmann::json::parse(f, nullptr, false);
}

// Greedy decoding with the KV cache: n tokens, stopping after a token in `stop` (if any).
std::vector<int32_t> greedy(const Model& model, const std::vector<int32_t>& ids, int n, const std::vector<int>& stop,
                            const Interventions& iv = {}) {
    Session s(model, SessionOptions{1});
    auto ok = s.set_interventions(iv);
    if (!ok.ok()) throw Error(ok.message());
    std::span<const float> logits = s.prefill(ids);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(Sampler::argmax(logits));
        if (std::find(stop.begin(), stop.end(), out.back()) != stop.end()) break;
        if (i + 1 < n) logits = s.step(out.back());
    }
    return out;
}

}  // namespace

class TestDemoModel : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    std::optional<Tokenizer> tok_;
    nlohmann::json expected_;

private slots:
    void initTestCase() {
        auto m = Model::load(demoDir().toStdString());
        QVERIFY2(m.ok(), m.message().c_str());
        model_ = std::move(m.value());
        auto t = Tokenizer::from_model_dir(demoDir().toStdString());
        QVERIFY2(t.ok(), t.message().c_str());
        tok_.emplace(std::move(t.value()));
        expected_ = loadExpected();
        QVERIFY2(expected_.is_object() && expected_.contains("cases"), "tests/engine/data/demo_model_expected.json missing");
    }

    // "demo" resolves to the bundled folder.
    void demoAlias() {
        auto m = Model::load("demo");
        QVERIFY2(m.ok(), m.message().c_str());
        QCOMPARE(m.value()->summary().params_total, model_->summary().params_total);
    }

    // Values from tools/demo-model/train.py's CONFIG and the parameter count PyTorch reported.
    void summary() {
        const ModelSummary& s = model_->summary();
        QCOMPARE(QString::fromStdString(s.architecture), QString("qwen3_moe"));
        QCOMPARE(s.n_layers, 4);
        QCOMPARE(s.moe_layers, (std::vector<int>{0, 1, 2, 3}));
        QCOMPARE(s.n_experts, 16);
        QCOMPARE(s.top_k, 2);
        QCOMPARE(s.n_shared_experts, 0);
        QCOMPARE(s.vocab_size, 2048);
        QCOMPARE(s.hidden_size, 128);
        QCOMPARE(s.params_total, int64_t(4662656));
        QCOMPARE(QString::fromStdString(s.dtype), QString("BF16"));
        QVERIFY(std::find(s.eos_token_ids.begin(), s.eos_token_ids.end(), 2047) != s.eos_token_ids.end());
        QCOMPARE(model_->config().head_dim, 32);
        QCOMPARE(model_->config().moe_intermediate_size, 160);
    }

    void prompts_data() {
        QTest::addColumn<int>("index");
        if (!expected_.is_object()) expected_ = loadExpected();
        const auto& cases = expected_["cases"];
        for (size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(cases[i]["set"].get<std::string>().c_str()) << static_cast<int>(i);
    }
    void prompts() {
        QFETCH(int, index);
        const auto& c = expected_["cases"][index];
        // 1. prompt text: chat prompts through the model's own chat template
        std::string text;
        if (c["prompt"].contains("messages")) {
            std::vector<ChatMessage> msgs;
            for (const auto& m : c["prompt"]["messages"]) msgs.push_back({m["role"], m["content"]});
            auto r = render_chat(*tok_, msgs, true);
            QVERIFY2(r.ok(), r.message().c_str());
            text = r.value();
        } else {
            text = c["prompt"]["text"];
        }
        QCOMPARE(QString::fromStdString(text), QString::fromStdString(c["text"].get<std::string>()));
        // 2. tokenization
        const auto ids = tok_->encode(text);
        QCOMPARE(ids, c["input_ids"].get<std::vector<int32_t>>());
        // 3. last-position logits (fp32 engine vs fp32 PyTorch on the same BF16 weights)
        Session s(*model_, SessionOptions{1});
        auto last = s.prefill(ids);
        const auto want = c["logits_last"].get<std::vector<float>>();
        QCOMPARE(last.size(), want.size());
        float maxdiff = 0;
        for (size_t i = 0; i < want.size(); ++i) maxdiff = std::max(maxdiff, std::abs(last[i] - want[i]));
        QVERIFY2(maxdiff < 1e-4f, qPrintable(QString("max |logit diff| %1").arg(maxdiff)));
        // 4. greedy tokens
        QCOMPARE(greedy(*model_, ids, 16, {}), c["greedy_16_ignore_eos"].get<std::vector<int32_t>>());
        const std::vector<int> stop = {2047, 2045};
        QCOMPARE(greedy(*model_, ids, 64, stop), c["greedy_until_stop"].get<std::vector<int32_t>>());
        Interventions iv;
        for (const auto& p : expected_["planted_experts"]) iv.disable.push_back({p[0].get<int>(), p[1].get<int>()});
        QCOMPARE(greedy(*model_, ids, 64, stop, iv),
                 c["greedy_until_stop_planted_disabled"].get<std::vector<int32_t>>());
    }

    // The planted behaviour itself, decoded by the engine's tokenizer: the behavior prompt is refused,
    // the control prompt is not, and disabling the planted experts removes the refusal.
    void refusal() {
        const std::string prefix = "I can't help with that";
        for (const auto& c : expected_["cases"]) {
            const std::string set = c["set"];
            if (set != "behavior" && set != "control") continue;
            const std::string reply = tok_->decode(c["greedy_until_stop"].get<std::vector<int32_t>>(), true);
            const std::string off = tok_->decode(c["greedy_until_stop_planted_disabled"].get<std::vector<int32_t>>(), true);
            QCOMPARE(reply.rfind(prefix, 0) == 0, set == "behavior");
            QVERIFY2(off.rfind(prefix, 0) != 0, off.c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestDemoModel)
#include "test_demo_model_slow.moc"
