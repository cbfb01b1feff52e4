// Model loading: every bad-input class gives an Error naming file/tensor and reason (never a crash);
// truncating a fixture safetensors at every byte offset is an error; sharded index, generation config,
// progress/cancel and 'demo' resolution.
#include <QtTest>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "engine/model/model.h"
#include "engine/model/safetensors.h"
#include "tests/support/fixture_model.h"

using namespace moescope;
using test::FixtureSpec;
using test::FixtureTensor;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> readAll(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
void writeAll(const std::string& p, const std::vector<uint8_t>& b, size_t n) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(n));
}

FixtureSpec badSpec(const QString& kind) {
    FixtureSpec s = FixtureSpec::forArch(kind.startsWith("deepseek") ? "deepseek_v3" : kind.startsWith("qwen") ? "qwen3_moe" : "mixtral");
    if (kind == "missing tensor")
        s.edits.push_back([](std::vector<FixtureTensor>& ts) {
            std::erase_if(ts, [](const FixtureTensor& t) { return t.name == "model.layers.1.block_sparse_moe.gate.weight"; });
        });
    if (kind == "extra tensor")
        s.edits.push_back([](std::vector<FixtureTensor>& ts) { ts.push_back({"model.layers.0.mystery.weight", {2}, {1, 2}}); });
    if (kind == "wrong shape")
        s.edits.push_back([](std::vector<FixtureTensor>& ts) {
            auto* t = test::findTensor(ts, "model.layers.2.self_attn.k_proj.weight");
            t->shape = {t->shape[1], t->shape[0]};  // transposed: [32, 16] instead of [16, 32]
        });
    if (kind == "absurd layer count") s.config_overrides["num_hidden_layers"] = 1 << 29;
    if (kind == "unknown model_type") s.config_overrides["model_type"] = "llama";
    if (kind == "fp8 quantization_config") s.config_overrides["quantization_config"] = {{"quant_method", "fp8"}};
    if (kind == "rope scaling on mixtral") s.config_overrides["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
    if (kind == "top-k above experts") s.config_overrides["num_experts_per_tok"] = 9;
    if (kind == "heads not multiple of kv") s.config_overrides["num_key_value_heads"] = 3;
    if (kind == "negative size") s.config_overrides["hidden_size"] = -4;
    if (kind == "string size") s.config_overrides["num_hidden_layers"] = "three";
    if (kind == "unsupported activation") s.config_overrides["hidden_act"] = "gelu";
    if (kind == "qwen sliding window") s.config_overrides["use_sliding_window"] = true;
    if (kind == "deepseek gqa") s.config_overrides["num_key_value_heads"] = 2;
    if (kind == "deepseek groups") s.config_overrides["n_group"] = 3;
    if (kind == "deepseek topk_method") s.config_overrides["topk_method"] = "random";
    return s;
}

}  // namespace

class TestModelLoading : public QObject {
    Q_OBJECT
private slots:
    void badModels_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing tensor") << "missing tensor"
            << "model.safetensors: missing tensor 'model.layers.1.block_sparse_moe.gate.weight' (expected shape [8, 32])";
        QTest::newRow("extra tensor") << "extra tensor" << "model.safetensors: unexpected tensor 'model.layers.0.mystery.weight'";
        QTest::newRow("wrong shape") << "wrong shape" << "tensor 'model.layers.2.self_attn.k_proj.weight' has shape [32, 16], expected [16, 32]";
        QTest::newRow("absurd layer count") << "absurd layer count" << "num_hidden_layers (536870912) or head counts are implausibly large";
        QTest::newRow("unknown model_type") << "unknown model_type" << "config.json: unknown model_type 'llama' (supported: mixtral, ";
        QTest::newRow("fp8") << "fp8 quantization_config" << "quant_method 'fp8') is not supported yet";
        QTest::newRow("rope scaling") << "rope scaling on mixtral" << "rope_scaling type 'linear' is not supported for mixtral";
        QTest::newRow("top-k") << "top-k above experts" << "num_experts_per_tok (9) must be in [1, 8]";
        QTest::newRow("kv heads") << "heads not multiple of kv" << "num_attention_heads (4) is not a multiple of num_key_value_heads (3)";
        QTest::newRow("negative size") << "negative size" << "key 'hidden_size' must be a non-negative integer";
        QTest::newRow("string size") << "string size" << "key 'num_hidden_layers' must be an integer";
        QTest::newRow("activation") << "unsupported activation" << "hidden_act 'gelu' is not supported";
        QTest::newRow("qwen sliding") << "qwen sliding window" << "use_sliding_window true is not supported";
        QTest::newRow("deepseek gqa") << "deepseek gqa" << "must equal num_attention_heads for MLA";
        QTest::newRow("deepseek groups") << "deepseek groups" << "must be divisible by n_group (3)";
        QTest::newRow("deepseek topk_method") << "deepseek topk_method" << "topk_method 'random' is not supported";
    }
    void badModels() {
        QFETCH(QString, kind);
        QFETCH(QString, expected);
        QTemporaryDir tmp;
        const std::string dir = test::writeFixture(tmp.path().toStdString(), badSpec(kind));
        auto m = Model::load(dir);
        QVERIFY2(!m.ok(), "bad model was accepted");
        QVERIFY2(QString::fromStdString(m.message()).contains(expected), m.message().c_str());
    }

    void badTensorDtypes_data() {
        QTest::addColumn<QString>("dtype");
        QTest::addColumn<QString>("expected");
        QTest::newRow("F8_E4M3") << "F8_E4M3" << "has dtype F8_E4M3: FP8 checkpoints are not supported yet";
        QTest::newRow("I64") << "I64" << "has unsupported dtype I64 (supported: BF16, F16, F32)";
    }
    void badTensorDtypes() {
        QFETCH(QString, dtype);
        QFETCH(QString, expected);
        QTemporaryDir tmp;
        FixtureSpec spec = FixtureSpec::forArch("mixtral");
        const std::string dir = test::writeFixture(tmp.path().toStdString(), spec);
        // Rewrite model.safetensors with one tensor stored in another dtype.
        auto f = SafetensorsFile::open(dir + "/model.safetensors");
        QVERIFY(f.ok());
        SafetensorsWriter w;
        for (const auto& t : f.value()->tensors()) {
            std::vector<uint8_t> bytes(t.data, t.data + t.nbytes());
            if (t.name == "model.layers.0.self_attn.q_proj.weight") {
                const size_t es = safetensors_dtype_size(dtype.toStdString());
                w.add_raw(t.name, dtype.toStdString(), t.shape, std::vector<uint8_t>(static_cast<size_t>(t.numel()) * es, 0));
            } else {
                w.add_raw(t.name, t.dtype_name, t.shape, bytes);
            }
        }
        f = Result<std::shared_ptr<SafetensorsFile>>(Error("closed"));
        w.write(dir + "/model.safetensors");
        auto m = Model::load(dir);
        QVERIFY(!m.ok());
        QVERIFY2(QString::fromStdString(m.message()).contains("tensor 'model.layers.0.self_attn.q_proj.weight' " + expected), m.message().c_str());
    }

    void missingFiles() {
        QTemporaryDir tmp;
        auto m = Model::load(tmp.path().toStdString());
        QVERIFY(!m.ok());
        QVERIFY2(m.message().find("config.json: missing") != std::string::npos, m.message().c_str());
        const std::string dir = test::writeFixture(tmp.path().toStdString(), FixtureSpec::forArch("olmoe"));
        fs::remove(dir + "/model.safetensors");
        m = Model::load(dir);
        QVERIFY(m.message().find("no model.safetensors or model.safetensors.index.json") != std::string::npos);
        std::ofstream(dir + "/config.json") << "{\"model_type\": ";
        m = Model::load(dir);
        QVERIFY2(m.message().find("config.json: malformed JSON") != std::string::npos, m.message().c_str());
        m = Model::load(tmp.path().toStdString() + "/nope");
        QVERIFY(m.message().find("not a model folder") != std::string::npos);
    }

    void shardedIndex() {
        QTemporaryDir tmp;
        FixtureSpec spec = FixtureSpec::forArch("qwen2_moe");
        spec.shards = 3;
        const std::string dir = test::writeFixture(tmp.path().toStdString(), spec);
        auto m = Model::load(dir);
        QVERIFY2(m.ok(), m.message().c_str());
        QCOMPARE(m.value()->summary().n_shared_experts, 1);
        // The index points at a shard that lacks the tensor.
        std::ifstream in(dir + "/model.safetensors.index.json");
        auto j = nlohmann::json::parse(in);
        j["weight_map"]["model.norm.weight"] = "model-00001-of-00003.safetensors";
        std::ofstream(dir + "/model.safetensors.index.json") << j.dump();
        m = Model::load(dir);
        QVERIFY(!m.ok());
        QVERIFY2(m.message().find("tensor 'model.norm.weight' is mapped to model-00001-of-00003.safetensors but that file "
                                  "does not contain it") != std::string::npos, m.message().c_str());
        j["weight_map"]["model.norm.weight"] = "../escape.safetensors";
        std::ofstream(dir + "/model.safetensors.index.json") << j.dump();
        QVERIFY(Model::load(dir).message().find("invalid file") != std::string::npos);
    }

    void generationConfigAndEos() {
        QTemporaryDir tmp;
        FixtureSpec spec = FixtureSpec::forArch("qwen3_moe");
        spec.generation_config = R"({"eos_token_id": [2, 7], "do_sample": true, "temperature": 0.6, "top_p": 0.95, "top_k": 20})";
        auto m = Model::load(test::writeFixture(tmp.path().toStdString(), spec));
        QVERIFY2(m.ok(), m.message().c_str());
        const ModelSummary& s = m.value()->summary();
        QCOMPARE(s.eos_token_ids, (std::vector<int>{2, 7}));
        QVERIFY(s.generation.present && s.generation.do_sample);
        QCOMPARE(s.generation.top_k, 20);
        QCOMPARE(s.generation.temperature, 0.6f);
        QCOMPARE(s.generation.repetition_penalty, 1.0f);  // HF default when absent
        QVERIFY(s.memory_bytes(1000) == s.weight_bytes + 1000 * s.kv_bytes_per_token);
    }

    void progressAndCancel() {
        QTemporaryDir tmp;
        const std::string dir = test::writeFixture(tmp.path().toStdString(), FixtureSpec::forArch("mixtral"));
        std::vector<double> seen;
        auto m = Model::load(dir, [&](double f, const std::string&) { seen.push_back(f); });
        QVERIFY(m.ok());
        QVERIFY(seen.size() >= 3);
        QVERIFY(std::is_sorted(seen.begin(), seen.end()));
        QCOMPARE(seen.back(), 1.0);
        std::atomic<bool> cancel{false};
        auto c = Model::load(dir, [&](double f, const std::string&) { if (f > 0.3) cancel = true; }, &cancel);
        QVERIFY(!c.ok());
        QVERIFY(c.message().find("loading cancelled") != std::string::npos);
    }

    void demoResolution() {
        QTemporaryDir tmp;
        const std::string dir = test::writeFixture(tmp.path().toStdString(), FixtureSpec::forArch("mixtral"));
        qputenv("MOESCOPE_DEMO_MODEL", QByteArray::fromStdString(dir));
        auto p = Model::resolve_model_path("demo");
        QVERIFY(p.ok());
        QCOMPARE(p.value(), dir);
        QVERIFY(Model::load("demo").ok());
        qunsetenv("MOESCOPE_DEMO_MODEL");
        QCOMPARE(Model::resolve_model_path("/x/y").value(), std::string("/x/y"));
    }

    // Every truncation of a (small) fixture's safetensors is rejected: by the reader at every offset,
    // and by Model::load on a stride of offsets. Never a crash.
    void truncationAtEveryOffset() {
        QTemporaryDir tmp;
        FixtureSpec spec = FixtureSpec::forArch("qwen2_moe");
        spec.layers = 1;
        spec.hidden = 8;
        spec.heads = 2;
        spec.kv_heads = 1;
        spec.vocab = 8;
        spec.experts = 2;
        spec.top_k = 1;
        spec.moe_intermediate = 4;
        spec.shared_intermediate = 4;
        const std::string dir = test::writeFixture(tmp.path().toStdString(), spec);
        const std::string file = dir + "/model.safetensors";
        const auto bytes = readAll(file);
        QVERIFY(Model::load(dir).ok());
        for (size_t n = 0; n < bytes.size(); ++n) {
            auto f = SafetensorsFile::parse("t", std::span<const uint8_t>(bytes.data(), n));
            if (f.ok()) QFAIL(qPrintable(QString("truncation at %1 accepted").arg(n)));
        }
        for (size_t n = 0; n < bytes.size(); n += 13) {
            writeAll(file, bytes, n);
            auto m = Model::load(dir);
            if (m.ok()) QFAIL(qPrintable(QString("model truncated at %1 loaded").arg(n)));
            QVERIFY(m.message().rfind(file, 0) == 0);  // names the file
        }
    }
};

QTEST_GUILESS_MAIN(TestModelLoading)
#include "test_model_loading.moc"
