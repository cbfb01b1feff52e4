// storage/model_identity.h: the content hash of a model folder (what model_info() records) and the
// check that runs were recorded with the model in a given folder.
#include <QtTest>

#include <fstream>

#include "engine/model/model.h"
#include "engine/model/synthetic_model.h"
#include "storage/database.h"
#include "storage/model_identity.h"
#include "storage/prompt_recording.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using namespace moescope::storage;

namespace {

void write(const QString& path, const std::string& bytes) {
    std::ofstream f(path.toStdString(), std::ios::binary | std::ios::trunc);
    f << bytes;
}

// A folder that looks like a checkpoint to the hash: config.json and two weight files.
void make_folder(const QString& dir, const std::string& config, size_t shard_bytes) {
    QDir().mkpath(dir);
    write(dir + "/config.json", config);
    write(dir + "/model-00001-of-00002.safetensors", std::string(shard_bytes, 'a'));
    write(dir + "/model-00002-of-00002.safetensors", std::string(100, 'b'));
}

}  // namespace

class TestModelIdentity : public QObject {
    Q_OBJECT
private slots:
    // The hash changes with config.json's bytes, a weight file's size or name, and nothing else (the
    // weights' contents are not read; other files do not count); it is what model_info() records.
    void hash() {
        QTemporaryDir tmp;
        const QString a = tmp.filePath("a"), b = tmp.filePath("b");
        make_folder(a, "{\"x\": 1}", 1000);
        make_folder(b, "{\"x\": 1}", 1000);
        const std::string h = model_content_hash(a.toStdString());
        QCOMPARE(h.size(), size_t(16));
        QCOMPARE(model_content_hash(b.toStdString()), h);                 // same bytes, other folder
        write(b + "/model-00002-of-00002.safetensors", std::string(100, 'z'));
        QCOMPARE(model_content_hash(b.toStdString()), h);                 // contents are not read
        write(b + "/README.md", "notes");
        QCOMPARE(model_content_hash(b.toStdString()), h);                 // other files do not count
        write(b + "/config.json", "{\"x\": 2}");
        QVERIFY(model_content_hash(b.toStdString()) != h);                // config bytes
        make_folder(b, "{\"x\": 1}", 1001);
        QVERIFY(model_content_hash(b.toStdString()) != h);                // a shard's size
        make_folder(b, "{\"x\": 1}", 1000);
        QCOMPARE(model_content_hash(b.toStdString()), h);
        QFile::rename(b + "/model-00002-of-00002.safetensors", b + "/other.safetensors");
        QVERIFY(model_content_hash(b.toStdString()) != h);                // a shard's name

        const QString golden = test::testdataPath("golden/mixtral");
        auto m = Model::load(golden.toStdString());
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        QCOMPARE(model_info(*m.value()).content_hash, model_content_hash(golden.toStdString()));

        // Runs of the same folder quantised to Q8_0 are recorded under their own name (same files, so the
        // same content hash).
        auto sm = SyntheticModel::create("tiny-olmoe", 0, 3);
        QVERIFY(sm.ok());
        const ModelInfo before = model_info((*sm)->model());
        QVERIFY(*(*sm)->model().quantize_q8_0() > 0);
        const ModelInfo after = model_info((*sm)->model());
        QCOMPARE(after.name, before.name + " (Q8_0)");
        QCOMPARE(after.content_hash, before.content_hash);
    }

    // Runs recorded with model A: A's folder passes, a folder with another config is named in the
    // message with the run and the recorded model; a run without a model row (import) is not judged;
    // an unknown run id is an error.
    void runs_mismatch() {
        QTemporaryDir tmp;
        const QString a = tmp.filePath("modelA"), b = tmp.filePath("modelB");
        make_folder(a, "{\"num_local_experts\": 8}", 4000);
        make_folder(b, "{\"num_local_experts\": 8, \"note\": \"fine-tuned\"}", 4000);
        auto db = Database::open(tmp.filePath("runs.db").toStdString(), Access::Write);
        ModelInfo mi;
        mi.name = "modelA";
        mi.path = a.toStdString();
        mi.content_hash = model_content_hash(a.toStdString());
        mi.n_layers = 2;
        mi.n_experts = 8;
        mi.top_k = 2;
        mi.moe_layers = {0, 1};
        RunInfo r;
        r.model_id = db->add_model(mi);
        r.n_layers = 2;
        r.n_experts = 8;
        r.k_max = 2;
        r.moe_layers = {0, 1};
        const int64_t recorded = db->begin_run(r);
        RunInfo imported = r;
        imported.model_id = 0;
        imported.kind = RunKind::Import;
        const int64_t anonymous = db->begin_run(imported);

        QCOMPARE(runs_model_mismatch(*db, {recorded, anonymous}, a.toStdString()), std::optional<std::string>());
        QCOMPARE(runs_model_mismatch(*db, {anonymous}, b.toStdString()), std::optional<std::string>());
        const auto msg = runs_model_mismatch(*db, {anonymous, recorded}, b.toStdString());
        QVERIFY(msg.has_value());
        QVERIFY2(msg->find("run " + std::to_string(recorded)) != std::string::npos, msg->c_str());
        QVERIFY2(msg->find("'modelA'") != std::string::npos, msg->c_str());
        QVERIFY2(msg->find(b.toStdString()) != std::string::npos, msg->c_str());
        QVERIFY_THROWS_EXCEPTION(Error, runs_model_mismatch(*db, {recorded + 100}, a.toStdString()));
    }
};

QTEST_GUILESS_MAIN(TestModelIdentity)
#include "test_model_identity.moc"
