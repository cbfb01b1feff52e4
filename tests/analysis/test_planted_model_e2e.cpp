// End to end: a tiny model with PLANTED structure (built from the golden Mixtral by weight surgery) is run by
// the engine, recorded by the storage recorder, read back as RoutingArrays, and the analyses must find
// what was planted:
//   - hidden dimension 0 of the embedding is +4 for token ids 50-59 and -4 for every other id, and nothing
//     else writes that dimension before layer 1's router (o_proj / down_proj rows 0 zeroed in layers 0-1);
//     layer 1's router row 3 reads only that dimension (logit = 5 x[0] ~ +-40), so ids 50-59 -> expert 3
//     of layer 1, never otherwise;
//   - expert 3 of layer 1 has a huge down_proj entry (channel 7 of intermediate unit 0, whose gate/up rows
//     read dimension 0): the only super expert, and a massive activation at channel 7 of layer 1's output.
#include <QtTest>
#include <filesystem>

#include "analysis/ftri.h"
#include "analysis/sinks.h"
#include "analysis/super_experts.h"
#include "engine/dtype.h"
#include "engine/model/model.h"
#include "engine/model/safetensors.h"
#include "engine/session.h"
#include "storage/database.h"
#include "storage/recorder.h"
#include "storage/routing_reader.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using namespace moescope::analysis;

namespace {

constexpr int kH = 64, kI = 96, kPlantedDim = 0, kSeChannel = 7;

bool planted_id(int id) { return id >= 50 && id <= 59; }

// Copies the golden Mixtral into `dir` with the planted routing (and, with `super_expert`, the planted
// super expert). Routers of every layer ignore the planted dimension except row 3 of layer 1.
void write_planted_model(const std::string& dir, bool super_expert) {
    const std::string src = moescope::test::testdataPath("golden/mixtral").toStdString();
    auto in = SafetensorsFile::open(src + "/model.safetensors");
    if (!in.ok()) throw Error(in.message());
    SafetensorsWriter w;
    for (const TensorInfo& t : in.value()->tensors()) {
        std::vector<float> v(static_cast<size_t>(t.numel()));
        for (size_t i = 0; i < v.size(); ++i) v[i] = load_as_f32(*t.dtype, t.data, i);
        auto zero_row = [&](int row, int cols) { std::fill(v.begin() + row * cols, v.begin() + (row + 1) * cols, 0.0f); };
        const std::string& n = t.name;
        if (n == "model.embed_tokens.weight") {
            for (int id = 0; id < 256; ++id) v[id * kH + kPlantedDim] = planted_id(id) ? 4.0f : -4.0f;
        } else if (n == "model.layers.0.self_attn.o_proj.weight" || n == "model.layers.1.self_attn.o_proj.weight") {
            zero_row(kPlantedDim, kH);
        } else if (n.rfind("model.layers.0.block_sparse_moe.experts.", 0) == 0 && n.find(".w2.weight") != std::string::npos) {
            zero_row(kPlantedDim, kI);
        } else if (n == "model.layers.1.post_attention_layernorm.weight") {
            v[kPlantedDim] = 1.0f;
        } else if (n.find(".block_sparse_moe.gate.weight") != std::string::npos) {
            for (int e = 0; e < 8; ++e) v[e * kH + kPlantedDim] = 0.0f;
            if (n == "model.layers.1.block_sparse_moe.gate.weight") {
                zero_row(3, kH);
                v[3 * kH + kPlantedDim] = 5.0f;
            }
        } else if (super_expert && (n == "model.layers.1.block_sparse_moe.experts.3.w1.weight" ||
                                    n == "model.layers.1.block_sparse_moe.experts.3.w3.weight")) {
            zero_row(0, kH);
            v[0 * kH + kPlantedDim] = 2.0f;  // unit 0: silu(2 x0) * 2 x0, large when x0 ~ +8
        } else if (super_expert && n == "model.layers.1.block_sparse_moe.experts.3.w2.weight") {
            for (int c = 0; c < kH; ++c) v[c * kI + 0] = 0.0f;  // unit 0 writes only channel 7 ...
            v[kSeChannel * kI + 0] = 10.0f;                      // ... and hugely
        }
        w.add_f32(n, DType::BF16, t.shape, v);
    }
    w.write(dir + "/model.safetensors");
    std::filesystem::copy_file(src + "/config.json", dir + "/config.json");
}

// Runs 15 behaviour + 15 control prompts through the planted model via the engine and the recorder and
// reads them back.
// Attention-sink plant on top of the golden Mixtral (no routing plant): dimension 0 of the embedding is -4
// for every token (so after RMSNorm x[0] ~ -8 is a constant), dimension 1 is +4 for BOS only. In every
// layer, query dim 3 of each head reads -2 x[0] (constant ~ +16) and key dim 3 reads 2 x[1] (large for BOS
// only); dim pair (3, 7) has RoPE frequency 1e-3, so rotation is negligible over 30 positions. Every query
// therefore puts almost all attention on position 0: a first-token sink in every layer.
void write_sink_model(const std::string& dir) {
    const std::string src = moescope::test::testdataPath("golden/mixtral").toStdString();
    auto in = SafetensorsFile::open(src + "/model.safetensors");
    if (!in.ok()) throw Error(in.message());
    SafetensorsWriter w;
    for (const TensorInfo& t : in.value()->tensors()) {
        std::vector<float> v(static_cast<size_t>(t.numel()));
        for (size_t i = 0; i < v.size(); ++i) v[i] = load_as_f32(*t.dtype, t.data, i);
        auto set_row = [&](int row, int cols, int col, float value) {
            std::fill(v.begin() + row * cols, v.begin() + (row + 1) * cols, 0.0f);
            v[row * cols + col] = value;
        };
        const std::string& n = t.name;
        if (n == "model.embed_tokens.weight") {
            for (int id = 0; id < 256; ++id) {
                v[id * kH + 0] = -4.0f;
                v[id * kH + 1] = id == 1 ? 4.0f : 0.0f;
            }
        } else if (n.find("input_layernorm.weight") != std::string::npos) {
            v[0] = v[1] = 1.0f;
        } else if (n.find("self_attn.q_proj.weight") != std::string::npos) {  // [8 heads x 8, 64]
            for (int h = 0; h < 8; ++h) {
                set_row(h * 8 + 3, kH, 0, -2.0f);
                set_row(h * 8 + 7, kH, 0, 0.0f);
            }
        } else if (n.find("self_attn.k_proj.weight") != std::string::npos) {  // [2 kv heads x 8, 64]
            for (int g = 0; g < 2; ++g) {
                set_row(g * 8 + 3, kH, 1, 2.0f);
                set_row(g * 8 + 7, kH, 1, 0.0f);
            }
        } else if (n.find("o_proj.weight") != std::string::npos || n.find(".w2.weight") != std::string::npos) {
            const int cols = static_cast<int>(t.shape.at(1));  // nothing writes dims 0 and 1 of the residual
            std::fill(v.begin(), v.begin() + 2 * cols, 0.0f);
        }
        w.add_f32(n, DType::BF16, t.shape, v);
    }
    w.write(dir + "/model.safetensors");
    std::filesystem::copy_file(src + "/config.json", dir + "/config.json");
}

RoutingArrays record(const std::string& model_dir, const std::string& db_path, int length = 10, bool plant = true) {
    auto model = Model::load(model_dir);
    if (!model.ok()) throw Error(model.message());
    auto db = storage::Database::open(db_path, storage::Access::Write);
    storage::RunInfo r;
    r.kind = storage::RunKind::Record;
    r.label = "planted";
    r.capture = CaptureLevel::Activations;
    r.n_layers = 3;
    r.n_experts = 8;
    r.k_max = 2;
    r.moe_layers = {0, 1, 2};
    const int64_t run = db->begin_run(r);
    storage::RecorderOptions ro;
    ro.level = CaptureLevel::Activations;
    storage::Recorder rec(*db, run, ro);
    unsigned long long x = 2024;
    auto rnd = [&](int n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<int>(x % static_cast<unsigned long long>(n));
    };
    for (int p = 0; p < 30; ++p) {
        const bool behaviour = p < 15;
        const int64_t pid = db->add_prompt(db->prompt_set(behaviour ? "behavior" : "control"), "p" + std::to_string(p), "[]");
        std::vector<int32_t> ids{1};  // BOS
        for (int pos = 1; pos < 10; ++pos) {
            if (behaviour && pos >= 4 && pos < 4 + 2 + p % 3) {
                ids.push_back(50 + (p + pos) % 10);
            } else {
                int id;
                do id = 3 + rnd(253);
                while (planted_id(id));
                ids.push_back(id);
            }
        }
        Session s(*model.value(), SessionOptions{1});
        s.set_observer(&rec);
        rec.begin_sequence(pid);
        s.prefill(ids);
    }
    const std::string err = rec.finish();
    if (!err.empty()) throw Error("recorder: " + err);
    storage::RoutingSelection sel;
    sel.activations = true;
    sel.layer_stats = true;
    return storage::read_routing(*db, sel);
}

}  // namespace

class TestPlantedModelE2E : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    RoutingArrays arrays_;     // routing plant only
    RoutingArrays se_arrays_;  // routing plant + super expert
    RoutingArrays sink_arrays_, golden_arrays_;  // sink plant / unmodified golden model, 30-token prompts

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        for (bool se : {false, true}) {
            const std::string model_dir = dir_.filePath(se ? "model-se" : "model").toStdString();
            std::filesystem::create_directories(model_dir);
            write_planted_model(model_dir, se);
            (se ? se_arrays_ : arrays_) = record(model_dir, dir_.filePath(se ? "se.db" : "runs.db").toStdString());
        }
        QCOMPARE(arrays_.n_tokens, int64_t{300});
        QCOMPARE(se_arrays_.n_tokens, int64_t{300});
        const std::string sink_dir = dir_.filePath("model-sink").toStdString();
        std::filesystem::create_directories(sink_dir);
        write_sink_model(sink_dir);
        sink_arrays_ = record(sink_dir, dir_.filePath("sink.db").toStdString(), 30, false);
        golden_arrays_ = record(moescope::test::testdataPath("golden/mixtral").toStdString(),
                                dir_.filePath("golden.db").toStdString(), 30, false);
    }

    void routing_follows_the_plant() {
        // Independent of any analysis: layer 1 selects expert 3 exactly on ids 50-59.
        const int m = moe_slot_of_layer(arrays_, 1);
        QVERIFY(m >= 0);
        for (int64_t t = 0; t < arrays_.n_tokens; ++t) {
            bool has3 = false;
            for (int j = 0; j < arrays_.k_max; ++j) has3 = has3 || arrays_.experts[arrays_.slot(t, m, j)] == 3;
            QCOMPARE(has3, planted_id(arrays_.token_id[t]));
        }
    }

    void ftri_finds_layer1_expert3() {
        FtriOptions o;
        o.behavior.sets = {"behavior"};
        o.control.sets = {"control"};
        o.behavior.kind = o.control.kind = TokenKind::Prompt;
        o.top_n = 4;
        auto r = ftri(arrays_, o);
        QVERIFY2(r.ok(), r.message().c_str());
        QCOMPARE(r->ranked.front().layer, 1);
        QCOMPARE(r->ranked.front().expert, 3);
        QVERIFY2(r->ranked.front().q < 0.01, qPrintable(QString::number(r->ranked.front().q)));
        QCOMPARE(r->preset.front(), (ExpertRef{1, 3}));
        for (const auto& ctl : r->random_controls)
            QVERIFY(std::find(ctl.begin(), ctl.end(), ExpertRef{1, 3}) == ctl.end());
    }

    void super_expert_and_massive_activation() {
        auto se = super_experts(se_arrays_, {});
        QVERIFY2(se.ok(), se.message().c_str());
        QCOMPARE(se->super_experts.size(), size_t{1});
        QCOMPARE(se->super_experts[0].layer, 1);
        QCOMPARE(se->super_experts[0].expert, 3);
        QCOMPARE(se->super_experts[0].channel, kSeChannel);
        QVERIFY(se->super_experts[0].value > 1000);
        auto ma = massive_activations(se_arrays_, kH, {}, {});
        QVERIFY2(ma.ok(), ma.message().c_str());
        QVERIFY(!ma->hits.empty());
        for (const auto& h : ma->hits) {
            QVERIFY(h.layer >= 1);  // appears at the super expert's layer and is carried by the residual
            QCOMPARE(h.channel, kSeChannel);
            QVERIFY(planted_id(h.token_id));
        }
        bool at_layer1 = false;
        for (const auto& h : ma->hits) at_layer1 = at_layer1 || h.layer == 1;
        QVERIFY(at_layer1);
    }

    void first_token_sink() {
        auto sink = attention_sinks(sink_arrays_, {}, {});
        QVERIFY2(sink.ok(), sink.message().c_str());
        QCOMPARE(sink->layers.size(), size_t{3});
        for (const auto& L : sink->layers) QVERIFY2(L.alpha_first > 0.9, qPrintable(QString::number(L.alpha_first)));
        QCOMPARE(sink->sink_fraction, 1.0);
        QVERIFY(sink->first_token_is_sink);
        // The unmodified random-weight model spreads attention: far less mass on position 0 than the plant.
        auto base = attention_sinks(golden_arrays_, {}, {});
        QVERIFY2(base.ok(), base.message().c_str());
        for (size_t l = 0; l < base->layers.size(); ++l)
            QVERIFY2(base->layers[l].alpha_first < 0.6, qPrintable(QString::number(base->layers[l].alpha_first)));
    }
};

QTEST_GUILESS_MAIN(TestPlantedModelE2E)
#include "test_planted_model_e2e.moc"
