// Export (csv/jsonl/safetensors) of a small hand-made recording with exact expected content, and
// imports of vLLM / SGLang routing dumps (.npy and JSON) into the same schema, round-tripped through
// export. Bad inputs get clear errors and leave the database untouched.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>
#include <cstring>

#include "engine/model/safetensors.h"
#include "storage/database.h"
#include "storage/export.h"
#include "storage/import.h"
#include "storage/npy.h"
#include "storage/recorder.h"
#include "storage/routing_reader.h"
#include "tests/storage/record_fixture.h"
#include "tests/support/testsupport.h"

using namespace moescope;
using namespace moescope::storage;

namespace {

struct Planted {
    int64_t pos;
    int layer;
    std::vector<int32_t> e;
    std::vector<float> w;
};

// 3 tokens x MoE layers {1, 2} x top-2, weights exact in binary.
const std::vector<Planted> kPlanted = {
    {0, 1, {3, 1}, {0.75f, 0.25f}},   {0, 2, {0, 2}, {0.5f, 0.5f}},     {1, 1, {1, 0}, {0.625f, 0.375f}},
    {1, 2, {2, 3}, {0.875f, 0.125f}}, {2, 1, {0, 3}, {0.5f, 0.5f}},     {2, 2, {1, 2}, {0.25f, 0.75f}},
};

std::string make_small_db(const QTemporaryDir& dir) {
    std::string path = dir.filePath("small.db").toStdString();
    auto db = Database::open(path, Access::Write);
    ModelInfo mi;
    mi.name = "tiny";
    mi.n_layers = 3;
    mi.n_experts = 4;
    mi.top_k = 2;
    mi.moe_layers = {1, 2};
    RunInfo r;
    r.model_id = db->add_model(mi);
    r.label = "small";
    r.n_layers = 3;
    r.n_experts = 4;
    r.k_max = 2;
    r.moe_layers = {1, 2};
    int64_t run = db->begin_run(r);
    int64_t prompt = db->add_prompt(db->prompt_set("behavior"), "Hello", "");
    RecorderOptions opt;
    opt.level = CaptureLevel::Logits;
    opt.logits_dtype = LogitsDtype::F32;
    Recorder rec(*db, run, opt);
    rec.begin_sequence(prompt);
    auto send = [&](int step, int64_t first, int n) {
        for (const auto& p : kPlanted) {
            if (p.pos < first || p.pos >= first + n) continue;
            std::vector<float> logits = {float(p.layer), float(p.pos), -1.0f, 0.5f};
            RoutingEvent ev;
            ev.layer = p.layer;
            ev.position = p.pos;
            ev.token_id = int32_t(10 + p.pos);
            ev.step = step;
            ev.experts = p.e;
            ev.weights = p.w;
            ev.router_logits = logits;
            rec.on_routing(ev);
        }
        rec.on_step_end({step, first, n});
    };
    rec.set_token_text(0, "He");
    rec.set_token_text(1, "llo, \"x\"");
    send(-1, 0, 2);
    rec.set_token_text(2, "!");
    send(0, 2, 1);
    if (!rec.finish().empty()) qFatal("recording failed");
    return path;
}

QByteArray read(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

void write(const QString& path, const QByteArray& b) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(b);
}

// An .npy image written by hand (format version 1.0), so the reader is checked against the spec.
QByteArray npy(const QByteArray& descr, const QVector<qint64>& shape, const QByteArray& data, bool fortran = false) {
    QByteArray sh = "(";
    for (qint64 d : shape) sh += QByteArray::number(d) + ", ";
    if (shape.size() > 1) sh.chop(2);
    else if (shape.size() == 1) sh.chop(1);
    sh += ")";
    QByteArray header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + sh + ", }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    QByteArray out("\x93NUMPY\x01\x00", 8);
    out += char(header.size() & 0xff);
    out += char(header.size() >> 8);
    return out + header + data;
}

QByteArray i16(const QVector<int>& v) {
    QByteArray b;
    for (int x : v) {
        int16_t s = int16_t(x);
        b.append(reinterpret_cast<const char*>(&s), 2);
    }
    return b;
}

QString import_error(Database& db, ImportFormat f, const QString& file) {
    try {
        import_routing(db, f, file.toStdString());
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

}  // namespace

Q_DECLARE_METATYPE(moescope::storage::ImportFormat)
Q_DECLARE_METATYPE(moescope::storage::ExportFormat)

class TestExportImport : public QObject {
    Q_OBJECT
private slots:
    void export_csv() {
        QTemporaryDir dir;
        std::string path = make_small_db(dir);
        auto db = Database::open(path, Access::ReadOnly);
        QString out = dir.filePath("csv");
        ExportResult r = export_routing(*db, ExportFormat::Csv, out.toStdString());
        QCOMPARE(r.token_layers, int64_t(6));
        QCOMPARE(read(out + "/routing.csv"), QByteArray("run_id,token_index,seq,position,token_id,generated,layer,rank,expert,weight,shared_gate\n"
                                                        "1,0,0,0,10,0,1,0,3,0.75,\n1,0,0,0,10,0,1,1,1,0.25,\n"
                                                        "1,0,0,0,10,0,2,0,0,0.5,\n1,0,0,0,10,0,2,1,2,0.5,\n"
                                                        "1,1,0,1,11,0,1,0,1,0.625,\n1,1,0,1,11,0,1,1,0,0.375,\n"
                                                        "1,1,0,1,11,0,2,0,2,0.875,\n1,1,0,1,11,0,2,1,3,0.125,\n"
                                                        "1,2,0,2,12,1,1,0,0,0.5,\n1,2,0,2,12,1,1,1,3,0.5,\n"
                                                        "1,2,0,2,12,1,2,0,1,0.25,\n1,2,0,2,12,1,2,1,2,0.75,\n"));
        QCOMPARE(read(out + "/tokens.csv"), QByteArray("run_id,token_index,seq,position,token_id,generated,prompt_id,prompt_set,text\n"
                                                       "1,0,0,0,10,0,1,behavior,He\n"
                                                       "1,1,0,1,11,0,1,behavior,\"llo, \"\"x\"\"\"\n"
                                                       "1,2,0,2,12,1,1,behavior,!\n"));
        QJsonObject side = QJsonDocument::fromJson(read(out + "/runs.json")).object();
        QCOMPARE(side["format"].toString(), QString("moescope-export"));
        QJsonObject run = side["runs"].toArray()[0].toObject();
        QCOMPARE(run["status"].toString(), QString("complete"));
        QCOMPARE(run["moe_layers"].toArray(), (QJsonArray{1, 2}));
        QCOMPARE(run["model"].toObject()["name"].toString(), QString("tiny"));
        QCOMPARE(run["capture_level"].toString(), QString("logits"));
        QCOMPARE(side["prompts"].toArray()[0].toObject()["text"].toString(), QString("Hello"));
    }

    void export_jsonl() {
        QTemporaryDir dir;
        std::string path = make_small_db(dir);
        auto db = Database::open(path, Access::ReadOnly);
        QString out = dir.filePath("jsonl");
        export_routing(*db, ExportFormat::Jsonl, out.toStdString(), 1);
        QList<QByteArray> lines = read(out + "/routing.jsonl").split('\n');
        QCOMPARE(lines.size(), 7);  // 6 records + trailing empty
        QCOMPARE(lines[0], QByteArray(R"({"run_id":1,"token_index":0,"layer":1,"experts":[3,1],"weights":[0.75,0.25],"shared_gate":null})"));
        QCOMPARE(lines[5], QByteArray(R"({"run_id":1,"token_index":2,"layer":2,"experts":[1,2],"weights":[0.25,0.75],"shared_gate":null})"));
        QList<QByteArray> toks = read(out + "/tokens.jsonl").split('\n');
        QCOMPARE(toks[1], QByteArray("{\"run_id\":1,\"token_index\":1,\"seq\":0,\"position\":1,\"token_id\":11,\"generated\":false,\"prompt_id\":1,\"prompt_set\":\"behavior\",\"text\":\"llo, \\\"x\\\"\"}"));
        QCOMPARE(toks[2], QByteArray(R"({"run_id":1,"token_index":2,"seq":0,"position":2,"token_id":12,"generated":true,"prompt_id":1,"prompt_set":"behavior","text":"!"})"));
    }

    void export_safetensors() {
        QTemporaryDir dir;
        std::string path = make_small_db(dir);
        auto db = Database::open(path, Access::ReadOnly);
        QString out = dir.filePath("st");
        export_routing(*db, ExportFormat::Safetensors, out.toStdString());
        auto f = SafetensorsFile::open((out + "/run_1.safetensors").toStdString());
        QVERIFY2(f.ok(), f.message().c_str());
        const TensorInfo* ex = (*f)->find("experts");
        QVERIFY(ex);
        QCOMPARE(QString::fromStdString(ex->dtype_name), QString("I16"));
        QCOMPARE(ex->shape, (std::vector<int64_t>{3, 2, 2}));
        std::vector<int16_t> e(12);
        std::memcpy(e.data(), ex->data, 24);
        QCOMPARE(e, (std::vector<int16_t>{3, 1, 0, 2, 1, 0, 2, 3, 0, 3, 1, 2}));
        const TensorInfo* w = (*f)->find("weights");
        std::vector<float> wv(12);
        std::memcpy(wv.data(), w->data, 48);
        QCOMPARE(wv, (std::vector<float>{0.75f, 0.25f, 0.5f, 0.5f, 0.625f, 0.375f, 0.875f, 0.125f, 0.5f, 0.5f, 0.25f, 0.75f}));
        const TensorInfo* lg = (*f)->find("router_logits");
        QVERIFY(lg);
        QCOMPARE(lg->shape, (std::vector<int64_t>{3, 2, 4}));
        std::vector<float> lv(24);
        std::memcpy(lv.data(), lg->data, 96);
        QCOMPARE(lv[0 * 8 + 1 * 4 + 0], 2.0f);  // token 0, MoE slot 1 (layer 2): logits[0] = layer
        QCOMPARE(lv[2 * 8 + 0 * 4 + 1], 2.0f);  // token 2, slot 0: logits[1] = position
        const TensorInfo* tid = (*f)->find("token_ids");
        std::vector<int32_t> tv(3);
        std::memcpy(tv.data(), tid->data, 12);
        QCOMPARE(tv, (std::vector<int32_t>{10, 11, 12}));
        QCOMPARE(QString::fromStdString((*f)->metadata().at("moe_layers")), QString("[1,2]"));
        QJsonObject run = QJsonDocument::fromJson(read(out + "/runs.json")).object()["runs"].toArray()[0].toObject();
        QCOMPARE(run["file"].toString(), QString("run_1.safetensors"));
        QCOMPARE(run["token_text"].toArray()[1].toString(), QString("llo, \"x\""));
    }

    // Shared-expert gate and per-head sink mass (level activations, --sink-heads) in all three formats,
    // checked against the planted values of the synthetic events.
    void export_gate_and_sink_heads_data() {
        QTest::addColumn<ExportFormat>("format");
        QTest::newRow("csv") << ExportFormat::Csv;
        QTest::newRow("jsonl") << ExportFormat::Jsonl;
        QTest::newRow("safetensors") << ExportFormat::Safetensors;
    }
    void export_gate_and_sink_heads() {
        QFETCH(ExportFormat, format);
        QTemporaryDir dir;
        const std::string path = dir.filePath("act.db").toStdString();
        moescope::test::SyntheticModel m;  // 6 layers, MoE layers {1,2,3,5}, 4 heads
        m.shared_gate = true;
        {
            auto db = Database::open(path, Access::Write);
            int64_t run = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Activations);
            RecorderOptions opt;
            opt.level = CaptureLevel::Activations;
            opt.sink_per_head = true;
            Recorder rec(*db, run, opt);
            m.emit_step(rec, 0, -1, 0, 3);
            QCOMPARE(QString::fromStdString(rec.finish()), QString());
        }
        auto db = Database::open(path, Access::ReadOnly);
        const QString out = dir.filePath("out");
        export_routing(*db, format, out.toStdString());
        if (format == ExportFormat::Csv) {
            QList<QByteArray> routing = read(out + "/routing.csv").split('\n');
            // token 1, MoE layer 1 (slot 0), rank 0: gate (1 % 8) * 8 + 1 = 9 / 64
            QVERIFY(routing[0].endsWith(",shared_gate"));
            QVERIFY2(routing[1 * 16 + 1].startsWith("1,1,0,1,"), routing[17].constData());
            QVERIFY2(routing[1 * 16 + 1].endsWith(",0.140625"), routing[17].constData());
            QVERIFY2(routing[1 * 16 + 13].endsWith(","), routing[29].constData());  // layer 5: no shared expert
            QList<QByteArray> heads = read(out + "/sink_heads.csv").split('\n');
            QCOMPARE(heads[0], QByteArray("run_id,token_index,layer,head,sink_mass"));
            QCOMPARE(heads.size(), 1 + 3 * 6 * 4 + 1);  // header + T x layers x heads + trailing empty
            // row order: token, layer, head -> token 2, layer 3, head 1 = 1 + (2*6+3)*4+1
            QCOMPARE(heads[1 + (2 * 6 + 3) * 4 + 1], "1,2,3,1," + QByteArray::number(m.sink_head(2, 3, 1), 'g', 9));
            QList<QByteArray> stats = read(out + "/layer_stats.csv").split('\n');
            QCOMPARE(stats.size(), 1 + 3 * 6 + 1);
            QCOMPARE(stats[1 + 1 * 6 + 2], QByteArray("1,1,2,201,9,4,0.5"));  // max |h| = layer*100 + pos
        } else if (format == ExportFormat::Jsonl) {
            QList<QByteArray> routing = read(out + "/routing.jsonl").split('\n');
            QJsonObject r1 = QJsonDocument::fromJson(routing[1 * 4 + 0]).object();  // token 1, layer 1
            QCOMPARE(r1["layer"].toInt(), 1);
            QCOMPARE(r1["shared_gate"].toDouble(), 9.0 / 64);
            QVERIFY(QJsonDocument::fromJson(routing[1 * 4 + 3]).object()["shared_gate"].isNull());  // layer 5
            QList<QByteArray> stats = read(out + "/layer_stats.jsonl").split('\n');
            QCOMPARE(stats.size(), 3 * 6 + 1);
            QJsonObject s = QJsonDocument::fromJson(stats[2 * 6 + 3]).object();
            QCOMPARE(s["token_index"].toInt(), 2);
            QCOMPARE(s["layer"].toInt(), 3);
            QJsonArray h = s["sink_mass_head"].toArray();
            QCOMPARE(h.size(), 4);
            for (int k = 0; k < 4; ++k) QCOMPARE(h[k].toDouble(), double(m.sink_head(2, 3, k)));
        } else {
            auto f = SafetensorsFile::open((out + "/run_1.safetensors").toStdString());
            QVERIFY2(f.ok(), f.message().c_str());
            const TensorInfo* g = (*f)->find("shared_gate");
            QVERIFY(g);
            QCOMPARE(g->shape, (std::vector<int64_t>{3, 4}));
            std::vector<float> gv(12);
            std::memcpy(gv.data(), g->data, 48);
            for (int t = 0; t < 3; ++t)
                for (int s = 0; s < 4; ++s) {
                    const float want = m.gate(t, m.moe_layers[size_t(s)]);
                    if (want < 0) QVERIFY(std::isnan(gv[size_t(t * 4 + s)]));
                    else QCOMPARE(gv[size_t(t * 4 + s)], want);
                }
            const TensorInfo* sh = (*f)->find("sink_mass_head");
            QVERIFY(sh);
            QCOMPARE(sh->shape, (std::vector<int64_t>{3, 6, 4}));
            std::vector<float> hv(72);
            std::memcpy(hv.data(), sh->data, 72 * 4);
            for (int t = 0; t < 3; ++t)
                for (int l = 0; l < 6; ++l)
                    for (int k = 0; k < 4; ++k) QCOMPARE(hv[size_t((t * 6 + l) * 4 + k)], m.sink_head(t, l, k));
        }
    }

    void imports_data() {
        QTest::addColumn<ImportFormat>("format");
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("expected_routing_csv");  // body lines of routing.csv after export
        QTest::addColumn<QString>("expected_tokens_csv");
        // ids [T=2][M=2][K=2]
        const QVector<int> ids = {5, 1, 7, 0, 2, 3, 6, 4};
        const QString body = "1,0,0,0,,,0,0,5,\n1,0,0,0,,,0,1,1,\n1,0,0,0,,,1,0,7,\n1,0,0,0,,,1,1,0,\n"
                             "1,1,0,1,,,0,0,2,\n1,1,0,1,,,0,1,3,\n1,1,0,1,,,1,0,6,\n1,1,0,1,,,1,1,4,\n";
        const QString toks = "1,0,0,0,,,,,\n1,1,0,1,,,,,\n";
        QTest::newRow("vllm npy int16") << ImportFormat::VllmRoutedExperts << "r.npy" << npy("<i2", {2, 2, 2}, i16(ids)) << body << toks;
        // same array stored column-major: element (t, m, k) at offset t + 2m + 4k
        QVector<int> fortran(8);
        for (int t = 0; t < 2; ++t)
            for (int m = 0; m < 2; ++m)
                for (int k = 0; k < 2; ++k) fortran[t + 2 * m + 4 * k] = ids[t * 4 + m * 2 + k];
        QTest::newRow("vllm npy fortran order") << ImportFormat::VllmRoutedExperts << "f.npy" << npy("<i2", {2, 2, 2}, i16(fortran), true) << body << toks;
        QTest::newRow("vllm json nested list") << ImportFormat::VllmRoutedExperts << "r.json"
                                               << QByteArray("[[[5,1],[7,0]],[[2,3],[6,4]]]") << body << toks;
        QTest::newRow("vllm json with token ids")
            << ImportFormat::VllmRoutedExperts << "r.json"
            << QByteArray(R"({"routed_experts": [[[5,1],[7,0]],[[2,3],[6,4]]], "prompt_token_ids": [100], "output_token_ids": [200, 300]})")
            << "1,0,0,0,100,0,0,0,5,\n1,0,0,0,100,0,0,1,1,\n1,0,0,0,100,0,1,0,7,\n1,0,0,0,100,0,1,1,0,\n"
               "1,1,0,1,200,1,0,0,2,\n1,1,0,1,200,1,0,1,3,\n1,1,0,1,200,1,1,0,6,\n1,1,0,1,200,1,1,1,4,\n"
            << "1,0,0,0,100,0,,,\n1,1,0,1,200,1,,,\n";
        QTest::newRow("vllm json two requests, padding -1")
            << ImportFormat::VllmRoutedExperts << "r.json"
            << QByteArray(R"([{"routed_experts": [[[5,1],[7,0]]]}, {"routed_experts": [[[2,-1],[6,4]]]}])")
            << "1,0,0,0,,,0,0,5,\n1,0,0,0,,,0,1,1,\n1,0,0,0,,,1,0,7,\n1,0,0,0,,,1,1,0,\n"
               "1,1,1,0,,,0,0,2,\n1,1,1,0,,,1,0,6,\n1,1,1,0,,,1,1,4,\n"
            << "1,0,0,0,,,,,\n1,1,1,0,,,,,\n";
        // SGLang recorder: topk_ids_of_layer [L][T][K] per forward pass, out of order, physical ids mapped
        QTest::newRow("sglang records + physical map")
            << ImportFormat::SglangPerToken << "s.json"
            << QByteArray("{\"physical_to_logical_map\": [[0,1,2,3,4,5,6,7,5,1],[0,1,2,3,4,5,6,7,7,0]],\n"
                          "                 \"records\": [{\"forward_pass_id\": 2, \"topk_ids_of_layer\": [[[2,3]],[[6,4]]]},\n"
                          "                             {\"forward_pass_id\": 1, \"topk_ids_of_layer\": [[[8,9]],[[8,9]]]}]}")
            << body << toks;
        QVector<int> ltk = {5, 1, 2, 3, 7, 0, 6, 4};  // [L][T][K]
        QTest::newRow("sglang npy [L,T,K]") << ImportFormat::SglangPerToken << "s.npy" << npy("<i4", {2, 2, 2}, [&] {
            QByteArray b;
            for (int x : ltk) b.append(reinterpret_cast<const char*>(&x), 4);
            return b;
        }()) << body << toks;
        QByteArray raw;
        for (int x : ids) {
            int32_t v = x;
            raw.append(reinterpret_cast<const char*>(&v), 4);
        }
        QTest::newRow("sglang per-request base64")
            << ImportFormat::SglangPerToken << "req.json"
            << QByteArray("{\"meta_info\": {\"routed_experts\": \"") + raw.toBase64() + "\"}, \"num_layers\": 2, \"top_k\": 2}"
            << body << toks;
    }
    void imports() {
        QFETCH(ImportFormat, format);
        QFETCH(QString, name);
        QFETCH(QByteArray, content);
        QFETCH(QString, expected_routing_csv);
        QFETCH(QString, expected_tokens_csv);
        QTemporaryDir dir;
        QString file = dir.filePath(name);
        write(file, content);
        auto db = Database::open(dir.filePath("i.db").toStdString(), Access::Write);
        ImportResult r = import_routing(*db, format, file.toStdString());
        QCOMPARE(r.n_moe, 2);
        QCOMPARE(r.top_k, 2);
        RunInfo run = db->run(r.run_id);
        QCOMPARE(run.kind, RunKind::Import);
        QCOMPARE(run.status, RunStatus::Complete);
        RoutingArrays a = read_run_routing(*db, r.run_id);
        QVERIFY(!a.has_weights());  // absent, not zero
        QCOMPARE(a.n_experts, 8);
        // aggregates: counts only, weight sums absent
        auto agg = expert_aggregates(*db, r.run_id);
        int64_t total = 0;
        for (const auto& g : agg) {
            QVERIFY(!g.weight_sum);
            total += g.count;
        }
        int64_t n_slots = 0;
        for (int16_t e : a.experts) n_slots += e >= 0;
        QCOMPARE(total, n_slots);
        QString out = dir.filePath("out");
        export_routing(*db, ExportFormat::Csv, out.toStdString());
        QString body = expected_routing_csv;
        body.replace("\n", ",\n");  // imports have no shared-expert gate: empty last column
        QCOMPARE(QString(read(out + "/routing.csv")),
                 "run_id,token_index,seq,position,token_id,generated,layer,rank,expert,weight,shared_gate\n" + body);
        QCOMPARE(QString(read(out + "/tokens.csv")),
                 "run_id,token_index,seq,position,token_id,generated,prompt_id,prompt_set,text\n" + expected_tokens_csv);
    }

    void import_errors_data() {
        QTest::addColumn<ImportFormat>("format");
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("expected");
        QTest::newRow("sglang .pt pickle") << ImportFormat::SglangPerToken << "dump.pt" << QByteArray("\x80\x04\x95", 3) << "pickles";
        QTest::newRow("pickle bytes named .json") << ImportFormat::SglangPerToken << "dump.json" << QByteArray("\x80\x04\x95", 3) << "pickle";
        QTest::newRow("npy object dtype") << ImportFormat::VllmRoutedExperts << "o.npy" << npy("|O", {1}, QByteArray(8, 0)) << "pickles";
        QTest::newRow("npy float dtype") << ImportFormat::VllmRoutedExperts << "f.npy" << npy("<f4", {1, 1, 1}, QByteArray(4, 0)) << "not an integer type";
        QTest::newRow("npy short data") << ImportFormat::VllmRoutedExperts << "s.npy" << npy("<i2", {2, 2, 2}, QByteArray(10, 0)) << "data has 10 bytes";
        QTest::newRow("npy rank 2") << ImportFormat::VllmRoutedExperts << "r.npy" << npy("<i2", {2, 2}, QByteArray(8, 0)) << "rank 2";
        QTest::newRow("npy bad magic") << ImportFormat::VllmRoutedExperts << "m.npy" << QByteArray("NUMPY????????") << "magic";
        QTest::newRow("ragged json") << ImportFormat::VllmRoutedExperts << "r.json" << QByteArray("[[[1,2],[3]]]") << "ragged";
        QTest::newRow("not json") << ImportFormat::VllmRoutedExperts << "r.json" << QByteArray("hello") << "neither .npy nor valid JSON";
        QTest::newRow("base64 without shape") << ImportFormat::SglangPerToken << "b.json" << QByteArray(R"({"routed_experts": "AAAAAA=="})") << "shape is unknown";
        QTest::newRow("id beyond int16") << ImportFormat::VllmRoutedExperts << "big.json" << QByteArray("[[[40000]]]") << "does not fit int16";
        QTest::newRow("missing file") << ImportFormat::VllmRoutedExperts << "" << QByteArray() << "cannot open";
    }
    void import_errors() {
        QFETCH(ImportFormat, format);
        QFETCH(QString, name);
        QFETCH(QByteArray, content);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        QString file = dir.filePath(name.isEmpty() ? "absent.json" : name);
        if (!name.isEmpty()) write(file, content);
        auto db = Database::open(dir.filePath("e.db").toStdString(), Access::Write);
        QString err = import_error(*db, format, file);
        QVERIFY2(err.contains(expected), qPrintable(err));
        QVERIFY2(err.contains(file), qPrintable(err));
        QVERIFY(db->runs().empty());  // nothing written
    }

    // The CLI wraps the same code: exit codes and messages.
    void cli() {
        QTemporaryDir dir;
        std::string path = make_small_db(dir);
        auto r = moescope::test::runCli({"export", "--db", QString::fromStdString(path), "--format", "jsonl", "--out", dir.filePath("o")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("6 token-layer routing records"));
        QVERIFY(QFile::exists(dir.filePath("o/routing.jsonl")));
        r = moescope::test::runCli({"export", "--db", QString::fromStdString(path), "--format", "parquet", "--out", dir.filePath("o")});
        QCOMPARE(r.exitCode, 2);
        write(dir.filePath("r.json"), "[[[1,2]],[[3,4]]]");
        r = moescope::test::runCli({"import", "--db", QString::fromStdString(path), "--format", "vllm-routed-experts",
                                    "--moe-layers", "1", dir.filePath("r.json")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("imported run 2: 1 sequence(s), 2 tokens x 1 MoE layers, top-2"), qPrintable(r.out));
        r = moescope::test::runCli({"import", "--db", dir.filePath("new.db"), "--format", "vllm-routed-experts", dir.filePath("r.json")});
        QCOMPARE(r.exitCode, 0);  // a new database is created
        r = moescope::test::runCli({"import", "--db", dir.filePath("new.db"), "--format", "sglang-per-token", dir.filePath("r.json")});
        QCOMPARE(r.exitCode, 1);  // a [T][M][K] list is not an SGLang layout
        QVERIFY2(r.err.contains("topk_ids_of_layer"), qPrintable(r.err));
        write(dir.filePath("foreign.db"), "not a database at all, just text");
        r = moescope::test::runCli({"export", "--db", dir.filePath("foreign.db"), "--format", "csv", "--out", dir.filePath("x")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("not a moescope database"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestExportImport)
#include "test_export_import.moc"
