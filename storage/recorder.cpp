#include "storage/recorder.h"

#include <time.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include "engine/dtype.h"
#include "storage/schema.h"
#include "storage/step_buffer.h"

namespace moescope::storage {

static_assert(std::endian::native == std::endian::little, "BLOBs are written as little-endian host arrays");

// ---- engine thread -------------------------------------------------------------------------------

Recorder::Recorder(Database& db, int64_t run_id, RecorderOptions options)
    : owner_(db), run_id_(run_id), options_(options) {
    if (!db.writable()) throw Error(db.path() + ": the recorder needs the database opened for writing");
    db.run(run_id);  // throws when the run does not exist
    w_ = std::make_unique<Writer>();
    w_->db = open_connection(db.path(), Access::Write);
    configure_writer(w_->db);
    if (options_.max_page_count > 0)
        w_->db.exec("PRAGMA max_page_count=" + std::to_string(options_.max_page_count));
    w_->next_token = w_->db.query_int("SELECT IFNULL(MAX(id), 0) + 1 FROM token");
    {  // the run row states what this recorder captures (readers decode logits by it)
        Stmt s = w_->db.prepare("UPDATE run SET capture_level=?, logits_dtype=? WHERE id=?");
        s.bind(1, static_cast<int>(options_.level));
        if (options_.level >= CaptureLevel::Logits) s.bind(2, options_.logits_dtype == LogitsDtype::F16 ? "F16" : "F32");
        s.bind(3, run_id_).run();
    }
    prepare_statements();
    open_ = std::make_unique<StepBuffer>();
    thread_ = std::thread([this] { writer_main(); });
}

Recorder::~Recorder() {
    try {
        finish(RunStatus::Interrupted, "the recorder was closed before the run finished");
    } catch (...) {
        // destructors must not throw; finish() already recorded what it could
    }
}

void Recorder::begin_sequence(int64_t prompt_id) {
    ++seq_;
    prompt_id_ = prompt_id;
}

void Recorder::set_token_text(int64_t position, std::string text) {
    open_->texts.emplace_back(position, std::move(text));
}

void Recorder::on_routing(const RoutingEvent& e) {
    if (options_.level == CaptureLevel::None) return;
    StepBuffer& b = *open_;
    StepBuffer::Rec r;
    r.position = e.position;
    r.layer = e.layer;
    r.token_id = e.token_id;
    r.k = static_cast<uint32_t>(e.experts.size());
    r.off = static_cast<uint32_t>(b.experts.size());
    r.shared_gate = e.shared_gate;
    for (int32_t x : e.experts) b.experts.push_back(static_cast<int16_t>(x));
    // weights are aligned with experts; a shorter span (should not happen) is padded with NaN
    for (size_t j = 0; j < e.experts.size(); ++j) b.weights.push_back(j < e.weights.size() ? e.weights[j] : NAN);
    if (options_.level >= CaptureLevel::Logits && !e.router_logits.empty()) {
        r.logit_off = static_cast<uint32_t>(b.logits.size());
        r.n_logits = static_cast<uint32_t>(e.router_logits.size());
        b.logits.insert(b.logits.end(), e.router_logits.begin(), e.router_logits.end());
    }
    if (options_.level >= CaptureLevel::Activations && !e.down_proj_max.empty()) {
        r.has_act = true;
        r.act_off = static_cast<uint32_t>(b.out_norm.size());
        r.contribution = e.token_contribution;
        for (size_t j = 0; j < e.experts.size(); ++j) {
            b.out_norm.push_back(j < e.expert_out_norm.size() ? e.expert_out_norm[j] : NAN);
            b.dp_max.push_back(j < e.down_proj_max.size() ? e.down_proj_max[j] : NAN);
            b.dp_chan.push_back(j < e.down_proj_channel.size() ? e.down_proj_channel[j] : -1);
        }
    }
    b.recs.push_back(r);
}

void Recorder::on_layer_stats(const LayerStatsEvent& e) {
    if (options_.level < CaptureLevel::Activations) return;
    StepBuffer& b = *open_;
    StepBuffer::Stat s;
    s.position = e.position;
    s.layer = e.layer;
    s.hidden_max_abs = e.hidden_max_abs;
    s.hidden_max_channel = e.hidden_max_channel;
    s.hidden_norm = e.hidden_norm;
    s.sink_mass = e.sink_mass;
    if (options_.sink_per_head && !e.sink_mass_per_head.empty()) {
        s.head_off = static_cast<uint32_t>(b.heads.size());
        s.n_heads = static_cast<uint32_t>(e.sink_mass_per_head.size());
        b.heads.insert(b.heads.end(), e.sink_mass_per_head.begin(), e.sink_mass_per_head.end());
    }
    b.stats.push_back(s);
}

void Recorder::on_step_end(const StepEvent& e) {
    if (seq_ < 0) begin_sequence(-1);
    std::unique_ptr<StepBuffer> b = std::move(open_);
    open_ = std::make_unique<StepBuffer>();
    open_->reserve_like(*b);  // steps of a run look alike: no regrowth on the engine thread
    b->index = next_index_++;
    b->seq = seq_;
    b->step = e.step;
    b->first_position = e.first_position;
    b->n_tokens = e.n_tokens;
    b->prompt_id = prompt_id_;
    enqueue(std::move(b));
}

void Recorder::enqueue(std::unique_ptr<StepBuffer> step) {
    size_t bytes = step->bytes();
    std::unique_lock lk(mu_);
    const int64_t counts = step->text_only ? 0 : 1;  // a text-only buffer is not a step
    if (failed_ || stopping_) {
        dropped_ += counts;
        return;
    }
    auto full = [&] {
        return !queue_.empty() && (queue_.size() >= options_.queue_steps || queued_bytes_ + bytes > options_.queue_bytes);
    };
    if (full()) {
        if (options_.backpressure == Backpressure::Drop) {
            dropped_ += counts;
            return;
        }
        ++producer_waits_;
        cv_space_.wait(lk, [&] { return !full() || failed_; });
        if (failed_) {
            dropped_ += counts;
            return;
        }
    }
    queued_bytes_ += bytes;
    if (!step->text_only) ++enqueued_;
    queue_.push_back(std::move(step));
    cv_work_.notify_one();
}

// ---- any thread ----------------------------------------------------------------------------------

int64_t Recorder::steps_enqueued() const {
    std::lock_guard lk(mu_);
    return enqueued_;
}
int64_t Recorder::committed_steps() const {
    std::lock_guard lk(mu_);
    return committed_;
}
int64_t Recorder::dropped_steps() const {
    std::lock_guard lk(mu_);
    return dropped_;
}
int64_t Recorder::producer_waits() const {
    std::lock_guard lk(mu_);
    return producer_waits_;
}
double Recorder::writer_cpu_seconds() const {
    std::lock_guard lk(mu_);
    return writer_cpu_;
}
int64_t Recorder::busy_retries() const {
    std::lock_guard lk(mu_);
    return busy_retries_;
}
bool Recorder::failed() const {
    std::lock_guard lk(mu_);
    return failed_;
}
std::string Recorder::error() const {
    std::lock_guard lk(mu_);
    return error_;
}
void Recorder::set_commit_callback(std::function<void(int64_t, int64_t)> cb) {
    std::lock_guard lk(mu_);
    commit_cb_ = std::move(cb);
}

bool Recorder::wait_committed(int64_t n) {
    std::unique_lock lk(mu_);
    cv_commit_.wait(lk, [&] { return committed_ >= n || failed_ || (stopping_ && queue_.empty() && finished_); });
    return committed_ >= n;
}

std::string Recorder::finish(RunStatus status, const std::string& detail) {
    {
        std::lock_guard lk(mu_);
        if (finished_) return error_;
    }
    if (open_ && !open_->texts.empty()) {  // texts set after the last step still belong to the run
        std::unique_ptr<StepBuffer> b = std::move(open_);
        b->text_only = true;
        b->seq = seq_;
        b->index = next_index_;
        enqueue(std::move(b));
    }
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    cv_work_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::string err;
    bool failed;
    int64_t dropped, committed;
    {
        std::lock_guard lk(mu_);
        finished_ = true;
        err = error_;
        failed = failed_;
        dropped = dropped_;
        committed = committed_;
    }
    cv_commit_.notify_all();
    // The writer thread has ended: its connection is ours now. A failed recorder already marked the
    // run failed (or could not, in which case the next writer marks it interrupted).
    if (!failed) {
        try {
            Stmt s = w_->db.prepare(
                "UPDATE run SET status=?, status_detail=?, finished_at=?, dropped_steps=?, steps_committed=? "
                "WHERE id=?");
            s.bind(1, run_status_name(status));
            if (!detail.empty()) s.bind(2, detail);
            s.bind(3, utc_now_iso()).bind(4, dropped).bind(5, committed).bind(6, run_id_).run();
            w_->db.exec("PRAGMA wal_checkpoint(PASSIVE)");
        } catch (const Error& e) {
            err = std::string("closing the run: ") + e.what();
        }
    }
    w_.reset();
    return err;
}

// ---- writer thread -------------------------------------------------------------------------------

void Recorder::prepare_statements() {
    Db& db = w_->db;
    w_->ins_token = db.prepare(
        "INSERT INTO token(id, run_id, seq, position, step, prompt_id, token_id, text, generated) "
        "VALUES (?,?,?,?,?,?,?,?,?)");
    w_->upd_text = db.prepare("UPDATE token SET text=? WHERE run_id=? AND seq=? AND position=?");
    w_->ins_routing = db.prepare("INSERT INTO routing(id, experts, weights, shared_gate) VALUES (?,?,?,?)");
    w_->ins_logits = db.prepare("INSERT INTO router_logits(id, logits) VALUES (?,?)");
    w_->ins_act = db.prepare(
        "INSERT INTO expert_activation(id, out_norm, down_proj_max, down_proj_channel, token_contribution) "
        "VALUES (?,?,?,?,?)");
    w_->ins_stat = db.prepare(
        "INSERT INTO layer_stat(id, hidden_max_abs, hidden_max_channel, hidden_norm, sink_mass, "
        "sink_mass_per_head) VALUES (?,?,?,?,?,?)");
    w_->ins_step = db.prepare("INSERT INTO step(run_id, idx, seq, step, first_token, n_tokens) VALUES (?,?,?,?,?,?)");
    w_->upd_run = db.prepare("UPDATE run SET steps_committed=? WHERE id=?");
    w_->put_agg = db.prepare(
        "INSERT OR REPLACE INTO expert_agg(run_id, layer, expert, count, weight_sum, down_proj_max) "
        "VALUES (?,?,?,?,?,?)");
    w_->put_layer = db.prepare("INSERT OR REPLACE INTO layer_agg(run_id, layer, tokens) VALUES (?,?,?)");
}

void Recorder::fail(const std::string& message) {
    {
        std::lock_guard lk(mu_);
        failed_ = true;
        error_ = message;
        // queued steps will never be written: count them as dropped
        dropped_ += static_cast<int64_t>(queue_.size());
        queue_.clear();
        queued_bytes_ = 0;
    }
    cv_space_.notify_all();
    cv_commit_.notify_all();
    // Best effort: a full disk may refuse even this small update (an in-place page change usually
    // fits). If it fails the run stays 'running' and the next writer marks it interrupted.
    try {
        Stmt s = w_->db.prepare("UPDATE run SET status='failed', status_detail=?, finished_at=? WHERE id=?");
        s.bind(1, message).bind(2, utc_now_iso()).bind(3, run_id_).run();
    } catch (...) {
    }
}

void Recorder::writer_main() {
    struct CpuClock {  // records the writer thread's CPU time when it ends (benchmark figure)
        Recorder* r;
        ~CpuClock() {
            timespec ts{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            std::lock_guard lk(r->mu_);
            r->writer_cpu_ = static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
        }
    } cpu_clock{this};
    std::vector<std::unique_ptr<StepBuffer>> batch;
    for (;;) {
        {
            std::unique_lock lk(mu_);
            cv_work_.wait(lk, [&] { return !queue_.empty() || stopping_; });
            if (queue_.empty() && stopping_) break;
            while (!queue_.empty() && batch.size() < options_.max_batch_steps) {
                queued_bytes_ -= queue_.front()->bytes();
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        cv_space_.notify_all();
        try {
            // Another process holding the database's write lock (e.g. `sqlite3 db 'BEGIN EXCLUSIVE'`)
            // makes BEGIN IMMEDIATE wait busy_timeout and fail with SQLITE_BUSY: keep the batch and try
            // again (the bounded queue applies backpressure meanwhile); give up only when stopping.
            for (;;) {
                try {
                    write_batch(batch);
                    break;
                } catch (const SqliteError& e) {
                    bool stopping;
                    {
                        std::lock_guard lk(mu_);
                        stopping = stopping_;
                        if (e.busy()) ++busy_retries_;
                    }
                    if (!e.busy() || stopping) throw;
                }
            }
        } catch (const SqliteError& e) {
            fail(e.disk_full() ? std::string("disk full: ") + e.what() : std::string("write error: ") + e.what());
            batch.clear();
            break;
        } catch (const std::exception& e) {
            fail(std::string("write error: ") + e.what());
            batch.clear();
            break;
        }
        int64_t first = batch.front()->index, last = batch.back()->index, steps = 0;
        for (const auto& b : batch) steps += b->text_only ? 0 : 1;
        if (batch.back()->text_only) --last;
        std::function<void(int64_t, int64_t)> cb;
        {
            std::lock_guard lk(mu_);
            committed_ += steps;
            cb = commit_cb_;
        }
        cv_commit_.notify_all();
        if (cb && steps > 0) cb(first, last);
        batch.clear();
    }
}

void Recorder::write_batch(std::vector<std::unique_ptr<StepBuffer>>& batch) {
    Writer& w = *w_;
    const int64_t first_token = w.next_token;
    try {
        write_batch_txn(batch);
    } catch (...) {
        w.next_token = first_token;  // the transaction rolled back: so do the writer's counters
        w.end_batch(false);
        throw;
    }
    w.end_batch(true);
}

void Recorder::write_batch_txn(std::vector<std::unique_ptr<StepBuffer>>& batch) {
    Writer& w = *w_;
    WriteTxn txn(w.db);
    std::vector<uint16_t> f16;
    std::vector<uint64_t> order;
    int64_t steps = 0;
    for (auto& bp : batch) {
        StepBuffer& b = *bp;
        if (b.text_only) {
            for (const auto& [pos, text] : b.texts)
                w.upd_text.bind(1, text).bind(2, run_id_).bind(3, b.seq).bind(4, pos).run();
            continue;
        }
        ++steps;
        const int64_t base = w.next_token;
        // token rows: one per position of the step
        std::vector<int32_t> tok(static_cast<size_t>(std::max(b.n_tokens, 0)), INT32_MIN);
        for (const auto& r : b.recs) {
            int64_t t = r.position - b.first_position;
            if (t < 0 || t >= b.n_tokens)
                throw Error("routing event at position " + std::to_string(r.position) + " outside step " +
                            std::to_string(b.step) + " positions [" + std::to_string(b.first_position) + ", " +
                            std::to_string(b.first_position + b.n_tokens) + ")");
            tok[static_cast<size_t>(t)] = r.token_id;
        }
        std::unordered_map<int64_t, const std::string*> texts;
        for (const auto& [pos, text] : b.texts) texts[pos] = &text;
        for (int t = 0; t < b.n_tokens; ++t) {
            int64_t pos = b.first_position + t;
            Stmt& s = w.ins_token;
            s.bind(1, base + t).bind(2, run_id_).bind(3, b.seq).bind(4, pos).bind(5, b.step);
            if (b.prompt_id >= 0) s.bind(6, b.prompt_id);
            if (tok[static_cast<size_t>(t)] != INT32_MIN) s.bind(7, tok[static_cast<size_t>(t)]);
            if (auto it = texts.find(pos); it != texts.end()) s.bind(8, *it->second);
            s.bind(9, b.step >= 0 ? 1 : 0);
            s.run();
        }
        for (const auto& [pos, text] : b.texts) {  // texts for tokens of earlier steps of this sequence
            if (pos >= b.first_position && pos < b.first_position + b.n_tokens) continue;
            w.upd_text.bind(1, text).bind(2, run_id_).bind(3, b.seq).bind(4, pos).run();
        }
        // routing rows in (token, layer) key order: appends to the integer-keyed B-tree
        // Packed sort keys (token offset | layer | index) sort without indirection; a one-token decode
        // step arrives already ordered and skips the sort.
        order.resize(b.recs.size());
        for (size_t i = 0; i < b.recs.size(); ++i) {
            const auto& r = b.recs[i];
            const uint64_t t = static_cast<uint64_t>(r.position - b.first_position);
            const uint64_t l = static_cast<uint64_t>(std::clamp(r.layer, 0, kMaxLayers - 1));
            order[i] = (t << 42) | (l << 32) | static_cast<uint64_t>(i);
        }
        if (!std::is_sorted(order.begin(), order.end())) std::sort(order.begin(), order.end());
        for (uint64_t o : order) {
            const auto& r = b.recs[static_cast<size_t>(o & 0xffffffffu)];
            if (r.layer < 0 || r.layer >= kMaxLayers)
                throw Error("routing event for layer " + std::to_string(r.layer) + ": layers 0.." +
                            std::to_string(kMaxLayers - 1) + " can be recorded");
            const int64_t key = routing_key(base + (r.position - b.first_position), r.layer);
            Stmt& s = w.ins_routing;
            s.bind(1, key);
            s.bind_blob(2, b.experts.data() + r.off, r.k * sizeof(int16_t));
            s.bind_blob(3, b.weights.data() + r.off, r.k * sizeof(float));
            if (r.shared_gate >= 0.0f) s.bind(4, static_cast<double>(r.shared_gate));
            else s.bind_null(4);
            s.run_keep_bindings();  // every parameter is rebound per row: skip clear_bindings
            if (r.n_logits > 0) {
                Stmt& l = w.ins_logits;
                l.bind(1, key);
                if (options_.logits_dtype == LogitsDtype::F16) {
                    f16.resize(r.n_logits);
                    for (uint32_t e = 0; e < r.n_logits; ++e) f16[e] = f32_to_f16(b.logits[r.logit_off + e]);
                    l.bind_blob(2, f16.data(), f16.size() * sizeof(uint16_t));
                } else {
                    l.bind_blob(2, b.logits.data() + r.logit_off, r.n_logits * sizeof(float));
                }
                l.run();
            }
            if (r.has_act) {
                Stmt& a = w.ins_act;
                a.bind(1, key);
                a.bind_blob(2, b.out_norm.data() + r.act_off, r.k * sizeof(float));
                a.bind_blob(3, b.dp_max.data() + r.act_off, r.k * sizeof(float));
                a.bind_blob(4, b.dp_chan.data() + r.act_off, r.k * sizeof(int32_t));
                if (std::isnan(r.contribution)) a.bind_null(5);
                else a.bind(5, static_cast<double>(r.contribution));
                a.run();
            }
            // aggregates (in memory; written below with absolute values, inside this transaction)
            w.aggregate(r, b);
        }
        std::sort(b.stats.begin(), b.stats.end(), [](const StepBuffer::Stat& x, const StepBuffer::Stat& y) {
            return x.position != y.position ? x.position < y.position : x.layer < y.layer;
        });
        for (const auto& st : b.stats) {
            int64_t t = st.position - b.first_position;
            if (t < 0 || t >= b.n_tokens || st.layer < 0 || st.layer >= kMaxLayers) continue;
            Stmt& s = w.ins_stat;
            s.bind(1, routing_key(base + t, st.layer)).bind(2, static_cast<double>(st.hidden_max_abs));
            s.bind(3, st.hidden_max_channel).bind(4, static_cast<double>(st.hidden_norm));
            s.bind(5, static_cast<double>(st.sink_mass));
            if (st.n_heads > 0) s.bind_blob(6, b.heads.data() + st.head_off, st.n_heads * sizeof(float));
            s.run();
        }
        w.ins_step.bind(1, run_id_).bind(2, b.index).bind(3, b.seq).bind(4, b.step).bind(5, base).bind(6, b.n_tokens);
        w.ins_step.run();
        w.next_token = base + b.n_tokens;
    }
    flush_aggregates();
    w.upd_run.bind(1, w.steps_written + steps).bind(2, run_id_).run();
    txn.commit();
    w.steps_written += steps;
}

void Recorder::flush_aggregates() {
    Writer& w = *w_;
    for (const auto& [layer, expert] : w.dirty) {
        const Writer::Agg a = w.total(layer, expert);
        Stmt& s = w.put_agg;
        s.bind(1, run_id_).bind(2, layer).bind(3, expert).bind(4, a.count).bind(5, a.weight_sum);
        if (a.has_dp) s.bind(6, static_cast<double>(a.dp_max));
        s.run();
    }
    for (int layer : w.dirty_layers)
        w.put_layer.bind(1, run_id_).bind(2, layer)
            .bind(3, w.layer_tokens[static_cast<size_t>(layer)] + w.pend_tokens[static_cast<size_t>(layer)])
            .run();
}

}  // namespace moescope::storage
