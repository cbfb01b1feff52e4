// Recorder + reader round trips against the planted synthetic routing, aggregates, disk full, a
// concurrent long-lived reader, an external lock holder, and the bytes-per-token estimate.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <map>
#include <thread>

#include "storage/capture.h"
#include "storage/database.h"
#include "storage/recorder.h"
#include "storage/routing_reader.h"
#include "tests/storage/record_fixture.h"
#include "tests/storage/verify_run.h"

using namespace moescope;
using namespace moescope::storage;
using moescope::test::SyntheticModel;

Q_DECLARE_METATYPE(moescope::CaptureLevel)
Q_DECLARE_METATYPE(moescope::storage::LogitsDtype)

namespace {

struct Token {
    int seq;
    int64_t pos;
    bool generated;
    int set;  // 0 behavior, 1 control
};

// Two prompts: "behavior" prefill 5 + 3 decode steps, "control" prefill 3 + 2 decode steps.
std::vector<Token> record_two_prompts(Database& db, Recorder& rec, const SyntheticModel& m) {
    std::vector<Token> tokens;
    int64_t pa = db.add_prompt(db.prompt_set("behavior"), "first prompt", "");
    int64_t pb = db.add_prompt(db.prompt_set("control"), "", R"([{"role":"user","content":"hi"}])");
    rec.begin_sequence(pa);
    m.emit_step(rec, 0, -1, 0, 5);
    for (int p = 0; p < 5; ++p) tokens.push_back({0, p, false, 0});
    for (int s = 0; s < 3; ++s) {
        m.emit_step(rec, 0, s, 5 + s, 1);
        tokens.push_back({0, 5 + s, true, 0});
    }
    rec.begin_sequence(pb);
    m.emit_step(rec, 1, -1, 0, 3);
    for (int p = 0; p < 3; ++p) tokens.push_back({1, p, false, 1});
    for (int s = 0; s < 2; ++s) {
        m.emit_step(rec, 1, s, 3 + s, 1);
        tokens.push_back({1, 3 + s, true, 1});
    }
    return tokens;
}

std::string tmp_db(const QTemporaryDir& dir, const char* name = "rec.db") {
    return dir.filePath(name).toStdString();
}

}  // namespace

class TestRecorder : public QObject {
    Q_OBJECT
private slots:
    void roundtrip_data() {
        QTest::addColumn<CaptureLevel>("level");
        QTest::addColumn<LogitsDtype>("dtype");
        QTest::newRow("routing") << CaptureLevel::Routing << LogitsDtype::F16;
        QTest::newRow("logits f16") << CaptureLevel::Logits << LogitsDtype::F16;
        QTest::newRow("logits f32") << CaptureLevel::Logits << LogitsDtype::F32;
        QTest::newRow("activations") << CaptureLevel::Activations << LogitsDtype::F16;
    }
    void roundtrip() {
        QFETCH(CaptureLevel, level);
        QFETCH(LogitsDtype, dtype);
        QTemporaryDir dir;
        SyntheticModel m;
        m.shared_gate = true;
        auto db = Database::open(tmp_db(dir), Access::Write);
        RunInfo ri;
        int64_t run = moescope::test::make_synthetic_run(*db, m, level);
        (void)ri;
        RecorderOptions opt;
        opt.level = level;
        opt.logits_dtype = dtype;
        opt.sink_per_head = true;
        Recorder rec(*db, run, opt);
        std::vector<Token> tokens = record_two_prompts(*db, rec, m);
        rec.set_token_text(4, "four");  // text for a prompt token of the second sequence after its step
        QCOMPARE(QString::fromStdString(rec.finish()), QString());
        QCOMPARE(rec.committed_steps(), int64_t(7));
        QCOMPARE(db->run(run).status, RunStatus::Complete);
        QCOMPARE(db->run(run).steps_committed, int64_t(7));

        auto reader = Database::open(tmp_db(dir), Access::ReadOnly);
        RoutingSelection sel;
        sel.run_ids = {run};
        sel.logits = sel.activations = sel.layer_stats = true;
        RoutingArrays a = read_routing(*reader, sel);
        QCOMPARE(a.n_tokens, int64_t(tokens.size()));
        QCOMPARE(a.n_moe, int(m.moe_layers.size()));
        QCOMPARE(a.k_max, m.k);
        QCOMPARE(a.n_experts, m.n_experts);
        QCOMPARE(a.moe_layers, m.moe_layers);
        QVERIFY(a.has_weights());
        QCOMPARE(a.has_logits(), level >= CaptureLevel::Logits);
        QCOMPARE(a.has_activations(), level >= CaptureLevel::Activations);
        QCOMPARE(a.has_layer_stats(), level >= CaptureLevel::Activations);
        QCOMPARE(a.set_names, (std::vector<std::string>{"behavior", "control"}));
        for (size_t t = 0; t < tokens.size(); ++t) {
            const Token& tk = tokens[t];
            QCOMPARE(a.position[t], int32_t(tk.pos));
            QCOMPARE(a.token_id[t], m.token_id(tk.seq, tk.pos));
            QCOMPARE(a.generated[t], uint8_t(tk.generated));
            QCOMPARE(a.set_index[t], tk.set);
            QCOMPARE(a.run_id[t], run);
            for (int s = 0; s < a.n_moe; ++s) {
                int layer = m.moe_layers[size_t(s)];
                auto e = m.experts(tk.seq, tk.pos, layer);
                auto w = m.weights(tk.seq, tk.pos, layer);
                for (int j = 0; j < m.k; ++j) {
                    QCOMPARE(int(a.experts[a.slot(int64_t(t), s, j)]), e[size_t(j)]);
                    QCOMPARE(a.weights[a.slot(int64_t(t), s, j)], w[size_t(j)]);
                    if (a.has_activations())
                        QCOMPARE(a.down_proj_max[a.slot(int64_t(t), s, j)], m.down_proj_max(tk.seq, tk.pos, layer, j));
                }
                if (a.has_logits()) {
                    auto lg = m.logits(tk.seq, tk.pos, layer);  // multiples of 1/256: exact in F16 too
                    for (int x = 0; x < m.n_experts; ++x)
                        QCOMPARE(a.router_logits[(size_t(t) * size_t(a.n_moe) + size_t(s)) * size_t(m.n_experts) + size_t(x)],
                                 lg[size_t(x)]);
                }
            }
            if (a.has_layer_stats())
                QCOMPARE(a.hidden_max_abs[size_t(t) * size_t(a.n_layers) + 3], float(300 + tk.pos % 100));
            // EASY-EP s_t [T][n_moe] with the activations
            if (a.has_activations())
                for (int s = 0; s < a.n_moe; ++s)
                    QCOMPARE(a.token_contribution[size_t(t) * size_t(a.n_moe) + size_t(s)],
                             m.contribution(tk.pos, m.moe_layers[size_t(s)]));
            // shared gate [T][n_moe]: recorded at every level; NaN on the layer planted without one
            for (int s = 0; s < a.n_moe; ++s) {
                const float g = m.gate(tk.pos, m.moe_layers[size_t(s)]);
                const float got = a.shared_gate[size_t(t) * size_t(a.n_moe) + size_t(s)];
                if (g < 0) QVERIFY2(std::isnan(got), "a layer without a shared expert reads back as NaN");
                else QCOMPARE(got, g);
            }
            // per-head sink mass [T][n_layers][n_heads] (opt-in, level activations)
            if (a.has_layer_stats())
                for (int l = 0; l < a.n_layers; ++l)
                    for (int h = 0; h < m.n_heads; ++h)
                        QCOMPARE(a.sink_mass_head[a.head_index(int64_t(t), l, h)], m.sink_head(tk.pos, l, h));
        }
        QVERIFY(a.has_shared_gate());
        QCOMPARE(a.has_token_contribution(), level >= CaptureLevel::Activations);
        QCOMPARE(a.has_sink_heads(), level >= CaptureLevel::Activations);
        QCOMPARE(a.n_heads, level >= CaptureLevel::Activations ? m.n_heads : 0);
        QCOMPARE(a.sink_mass_head.size(), level >= CaptureLevel::Activations
                                              ? size_t(a.n_tokens) * size_t(a.n_layers) * size_t(m.n_heads) : size_t(0));
        // token text set after the step was written landed on (seq 1, position 4)
        QCOMPARE(QString::fromStdString(reader->db().query_text("SELECT text FROM token WHERE seq=1 AND position=4")),
                 QString("four"));
    }

    void aggregates() {
        QTemporaryDir dir;
        SyntheticModel m;
        auto db = Database::open(tmp_db(dir), Access::Write);
        int64_t run = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Activations);
        RecorderOptions opt;
        opt.level = CaptureLevel::Activations;
        opt.max_batch_steps = 3;  // several batches: aggregates must accumulate across commits
        Recorder rec(*db, run, opt);
        auto tokens = record_two_prompts(*db, rec, m);
        QCOMPARE(QString::fromStdString(rec.finish()), QString());
        // independent expectation from the planted function
        std::map<std::pair<int, int>, std::tuple<int64_t, double, float>> want;
        for (const auto& t : tokens)
            for (int layer : m.moe_layers) {
                auto e = m.experts(t.seq, t.pos, layer);
                auto w = m.weights(t.seq, t.pos, layer);
                for (int j = 0; j < m.k; ++j) {
                    auto& [c, ws, dp] = want[{layer, e[size_t(j)]}];
                    ++c;
                    ws += w[size_t(j)];
                    dp = std::max(dp, m.down_proj_max(t.seq, t.pos, layer, j));
                }
            }
        auto got = expert_aggregates(*db, run);
        QCOMPARE(got.size(), want.size());
        for (const auto& g : got) {
            auto it = want.find({g.layer, g.expert});
            QVERIFY(it != want.end());
            QCOMPARE(g.count, std::get<0>(it->second));
            QVERIFY(g.weight_sum && std::abs(*g.weight_sum - std::get<1>(it->second)) < 1e-5);
            QVERIFY(g.down_proj_max);
            QCOMPARE(*g.down_proj_max, std::get<2>(it->second));
        }
        auto lt = layer_token_counts(*db, run);
        QCOMPARE(lt.size(), m.moe_layers.size());
        for (auto [layer, n] : lt) QCOMPARE(n, int64_t(tokens.size()));
    }

    void selection_data() {
        QTest::addColumn<QString>("set");
        QTest::addColumn<bool>("prompt");
        QTest::addColumn<bool>("generated");
        QTest::addColumn<int>("expected_tokens");
        QTest::newRow("all") << QString() << true << true << 13;
        QTest::newRow("behavior set") << "behavior" << true << true << 8;
        QTest::newRow("control set") << "control" << true << true << 5;
        QTest::newRow("prompt tokens only") << QString() << true << false << 8;
        QTest::newRow("control generated") << "control" << false << true << 2;
    }
    void selection() {
        QFETCH(QString, set);
        QFETCH(bool, prompt);
        QFETCH(bool, generated);
        QFETCH(int, expected_tokens);
        QTemporaryDir dir;
        SyntheticModel m;
        auto db = Database::open(tmp_db(dir), Access::Write);
        int64_t run = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing);
        Recorder rec(*db, run, {});
        auto tokens = record_two_prompts(*db, rec, m);
        QCOMPARE(QString::fromStdString(rec.finish()), QString());
        RoutingSelection sel;
        if (!set.isEmpty()) sel.prompt_set = set.toStdString();
        sel.prompt_tokens = prompt;
        sel.generated_tokens = generated;
        RoutingArrays a = read_routing(*db, sel);
        QCOMPARE(a.n_tokens, int64_t(expected_tokens));
        size_t r = 0;
        for (const auto& t : tokens) {
            if (!set.isEmpty() && (t.set == 0) != (set == "behavior")) continue;
            if (t.generated ? !generated : !prompt) continue;
            QCOMPARE(a.position[r], int32_t(t.pos));
            QCOMPARE(int(a.experts[a.slot(int64_t(r), 0, 0)]), m.experts(t.seq, t.pos, m.moe_layers[0])[0]);
            ++r;
        }
        QCOMPARE(int64_t(r), a.n_tokens);
    }

    void two_runs_concatenate() {
        QTemporaryDir dir;
        SyntheticModel m;
        auto db = Database::open(tmp_db(dir), Access::Write);
        int64_t r1 = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing, "one");
        {
            Recorder rec(*db, r1, {});
            m.emit_step(rec, 0, -1, 0, 4);
            QCOMPARE(QString::fromStdString(rec.finish()), QString());
        }
        int64_t r2 = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing, "two");
        {
            Recorder rec(*db, r2, {});
            m.emit_step(rec, 0, -1, 0, 2);
            QCOMPARE(QString::fromStdString(rec.finish()), QString());
        }
        RoutingSelection sel;
        sel.run_ids = {r1, r2};
        RoutingArrays a = read_routing(*db, sel);
        QCOMPARE(a.n_tokens, int64_t(6));
        QCOMPARE(a.run_id, (std::vector<int64_t>{r1, r1, r1, r1, r2, r2}));
        QCOMPARE(db->run(r1).model_id, db->run(r2).model_id);  // same model row reused
    }

    // Runs whose models disagree on shape are refused with a message naming both runs, never silently
    // merged (a max over expert counts would put renumbered expert ids of a pruned model in one table).
    void mixed_shapes_data() {
        QTest::addColumn<int>("experts2");
        QTest::addColumn<int>("heads2");
        QTest::addColumn<bool>("drop_layer");
        QTest::addColumn<QString>("error");  // empty: the read succeeds
        QTest::newRow("same shape") << 16 << 4 << false << QString();
        QTest::newRow("expert counts differ") << 8 << 4 << false << QString("runs 1 (16 experts) and 2 (8 experts)");
        QTest::newRow("MoE layer lists differ") << 16 << 4 << true << QString("different MoE layer lists");
        QTest::newRow("head counts differ") << 16 << 2 << false << QString("per-head sink mass for 2 heads");
    }
    void mixed_shapes() {
        QFETCH(int, experts2);
        QFETCH(int, heads2);
        QFETCH(bool, drop_layer);
        QFETCH(QString, error);
        QTemporaryDir dir;
        auto db = Database::open(tmp_db(dir), Access::Write);
        SyntheticModel m1, m2;
        m2.n_experts = experts2;
        m2.n_heads = heads2;
        if (drop_layer) m2.moe_layers = {1, 2, 3};
        RecorderOptions opt;
        opt.level = CaptureLevel::Activations;
        opt.sink_per_head = true;
        for (const SyntheticModel* m : {&m1, &m2}) {
            int64_t run = moescope::test::make_synthetic_run(*db, *m, CaptureLevel::Activations);
            Recorder rec(*db, run, opt);
            m->emit_step(rec, 0, -1, 0, 3);
            QCOMPARE(QString::fromStdString(rec.finish()), QString());
        }
        RoutingSelection sel;
        sel.run_ids = {1, 2};
        sel.layer_stats = true;
        QString got;
        try {
            RoutingArrays a = read_routing(*db, sel);
            QCOMPARE(a.n_tokens, int64_t(6));
            QCOMPARE(a.n_experts, 16);
            QCOMPARE(a.n_heads, 4);
        } catch (const Error& e) {
            got = QString::fromUtf8(e.what());
        }
        if (error.isEmpty()) QCOMPARE(got, QString());
        else QVERIFY2(got.contains(error), qPrintable(got));
        // each run alone always reads
        for (int64_t run : {1, 2}) QCOMPARE(read_run_routing(*db, run).n_tokens, int64_t(3));
    }

    // Disk full (style.md §2F): max_page_count makes SQLite return SQLITE_FULL once the file would grow.
    void disk_full() {
        QTemporaryDir dir;
        SyntheticModel m;
        std::string path = tmp_db(dir);
        auto db = Database::open(path, Access::Write);
        int64_t run = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing);
        int64_t pages = db->db().query_int("PRAGMA page_count");
        RecorderOptions opt;
        opt.max_page_count = pages + 3;  // 16 KiB pages: ~48 KiB of room
        opt.max_batch_steps = 1;
        std::set<int64_t> acked;
        Recorder rec(*db, run, opt);
        std::mutex mu;
        rec.set_commit_callback([&](int64_t a, int64_t b) {
            std::lock_guard lk(mu);
            for (int64_t i = a; i <= b; ++i) acked.insert(i);
        });
        for (int s = 0; s < 20000 && !rec.failed(); ++s) {
            m.emit_step(rec, 0, s, s, 1);
            rec.wait_committed(s + 1);
        }
        QVERIFY(rec.failed());
        std::string err = rec.finish();
        QVERIFY2(err.find("disk full") != std::string::npos, err.c_str());
        QVERIFY(!acked.empty());
        RunInfo r = db->run(run);
        QCOMPARE(r.status, RunStatus::Failed);
        QVERIFY(r.status_detail.find("disk full") != std::string::npos);
        db.reset();
        QCOMPARE(QString::fromStdString(moescope::test::verify_recording(path, run, m, acked)), QString());
        // the database stays usable: a new writer opens it and the failed run keeps its status
        auto again = Database::open(path, Access::Write);
        QCOMPARE(again->interrupted_on_open(), 0);
        QCOMPARE(again->run(run).status, RunStatus::Failed);
    }

    // A reader holding one snapshot for the whole recording: the writer keeps committing (every step
    // is acknowledged while the reader's transaction is open, so the writer never waited on it), and
    // the reader's view does not move until it ends its transaction.
    void concurrent_reader() {
        QTemporaryDir dir;
        SyntheticModel m;
        std::string path = tmp_db(dir);
        auto db = Database::open(path, Access::Write);
        int64_t run = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing);
        RecorderOptions opt;
        opt.queue_steps = 4;
        Recorder rec(*db, run, opt);
        m.emit_step(rec, 0, -1, 0, 8);
        QVERIFY(rec.wait_committed(1));

        auto reader = Database::open(path, Access::ReadOnly);
        int64_t before = 0;
        {
            ReadTxn snapshot(reader->db());
            before = reader->db().query_int("SELECT count(*) FROM routing");
            QCOMPARE(before, int64_t(8 * m.moe_layers.size()));
            for (int s = 0; s < 200; ++s) {
                m.emit_step(rec, 0, s, 8 + s, 1);
                QVERIFY(rec.wait_committed(s + 2));  // committed while the snapshot is held
                if (s % 50 == 0) {
                    QCOMPARE(reader->db().query_int("SELECT count(*) FROM routing"), before);
                    QCOMPARE(reader->db().query_int("SELECT count(*) FROM token"), int64_t(8));
                    QCOMPARE(read_run_routing(*reader, run).n_tokens, int64_t(8));
                }
            }
        }
        QCOMPARE(rec.producer_waits(), int64_t(0));
        QCOMPARE(reader->db().query_int("SELECT count(*) FROM token"), int64_t(208));
        QCOMPARE(QString::fromStdString(rec.finish()), QString());
        // a consistent reader: token count and routing rows agree at every snapshot
        RoutingArrays a = read_run_routing(*reader, run);
        QCOMPARE(a.n_tokens, int64_t(208));
    }

    // Another process holds the write lock (`sqlite3 db 'BEGIN EXCLUSIVE'`): the writer retries and
    // the Drop policy discards what does not fit in the bounded queue, without blocking the producer.
    void external_lock_drop_policy() {
        QTemporaryDir dir;
        SyntheticModel m;
        std::string path = tmp_db(dir);
        auto db = Database::open(path, Access::Write);
        int64_t run = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing);
        RecorderOptions opt;
        opt.queue_steps = 2;
        opt.backpressure = Backpressure::Drop;
        Recorder rec(*db, run, opt);
        Db other = open_connection(path, Access::Write);
        other.exec("BEGIN IMMEDIATE");
        const int n = 50;
        for (int s = 0; s < n; ++s) m.emit_step(rec, 0, s, s, 1);
        QCOMPARE(rec.producer_waits(), int64_t(0));
        QVERIFY(rec.dropped_steps() >= n - 3);  // at most one batch in the writer + 2 queued
        other.exec("ROLLBACK");
        QCOMPARE(QString::fromStdString(rec.finish()), QString());
        QCOMPARE(rec.committed_steps() + rec.dropped_steps(), int64_t(n));
        QCOMPARE(db->run(run).dropped_steps, rec.dropped_steps());
        QCOMPARE(db->run(run).status, RunStatus::Complete);
    }

    void estimate_data() {
        QTest::addColumn<CaptureLevel>("level");
        QTest::newRow("routing") << CaptureLevel::Routing;
        QTest::newRow("logits") << CaptureLevel::Logits;
        QTest::newRow("activations") << CaptureLevel::Activations;
    }
    // The bytes-per-token estimate shown before recording is within 30% of what the file really grows.
    void estimate() {
        QFETCH(CaptureLevel, level);
        QTemporaryDir dir;
        SyntheticModel m;
        m.n_layers = 24;
        m.moe_layers.clear();
        for (int l = 0; l < 24; ++l) m.moe_layers.push_back(l);
        m.n_experts = 64;
        m.k = 8;
        std::string path = tmp_db(dir);
        auto db = Database::open(path, Access::Write);
        int64_t run = moescope::test::make_synthetic_run(*db, m, level);
        db->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
        int64_t pages0 = db->db().query_int("PRAGMA page_count");
        RecorderOptions opt;
        opt.level = level;
        Recorder rec(*db, run, opt);
        const int tokens = 2000;
        for (int s = 0; s < tokens / 100; ++s) m.emit_step(rec, 0, -1, s * 100, 100);
        QCOMPARE(QString::fromStdString(rec.finish()), QString());
        db->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
        int64_t grown = (db->db().query_int("PRAGMA page_count") - pages0) * db->db().query_int("PRAGMA page_size");
        double actual = double(grown) / tokens;
        ModelShape shape{m.n_layers, int(m.moe_layers.size()), m.k, m.n_experts, m.n_heads};
        double est = estimate_bytes_per_token(shape, level);
        QVERIFY2(std::abs(est - actual) / actual < 0.30,
                 qPrintable(QString("estimate %1 B/token, actual %2 B/token").arg(est).arg(actual)));
    }

    void intervention_timeline() {
        QTemporaryDir dir;
        SyntheticModel m;
        auto db = Database::open(tmp_db(dir), Access::Write);
        int64_t run = moescope::test::make_synthetic_run(*db, m, CaptureLevel::Routing);
        db->add_intervention_change(run, 0, R"({"mask":[3]})");
        db->add_intervention_change(run, 12, R"({"mask":[]})");
        QCOMPARE(QString::fromStdString(db->run(run).interventions_json),
                 QString(R"([{"interventions":{"mask":[3]},"step":0},{"interventions":{"mask":[]},"step":12}])"));
    }
};

QTEST_GUILESS_MAIN(TestRecorder)
#include "test_recorder.moc"
