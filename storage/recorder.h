#pragma once
// Recorder: a RoutingObserver that writes what the engine reports into the activation database.
//
// Threads. The engine thread calls on_routing / on_layer_stats (copy into the open step's buffer, no
// lock, no I/O) and on_step_end (one lock: hand the finished step to a bounded queue). One writer
// thread owns its own write connection, drains the queue and writes whole steps in batches, one
// transaction per batch (BEGIN IMMEDIATE ... COMMIT, prepared statements, WAL, synchronous=NORMAL).
// A step is never split across transactions, so a crash leaves no half-written step (style.md §2F I3).
// After COMMIT returns OK the writer acknowledges the batch's steps (committed_steps(), the commit
// callback); acknowledged steps survive kill -9.
//
// Backpressure when the queue is full: Block (default) pauses the engine thread until the writer
// catches up — nothing is lost; Drop discards the step and counts it in run.dropped_steps.
// On a write error (disk full, I/O error) the writer rolls back, stops recording, marks the run
// failed with the reason, and from then on drops incoming steps cheaply: generation is never aborted.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/routing_tap.h"
#include "storage/database.h"

namespace moescope::storage {

enum class Backpressure { Block, Drop };

struct RecorderOptions {
    CaptureLevel level = CaptureLevel::Routing;
    LogitsDtype logits_dtype = LogitsDtype::F16;
    bool sink_per_head = false;        // store attention sink mass per head (opt-in, level Activations)
    size_t queue_steps = 1024;         // bound on queued steps ...
    size_t queue_bytes = 256u << 20;   // ... and on their bytes
    size_t max_batch_steps = 256;      // steps per transaction at most
    Backpressure backpressure = Backpressure::Block;
    int64_t max_page_count = 0;        // > 0: PRAGMA max_page_count on the write connection (tests: disk full)
};

// One finished step as queued for the writer (internal, but visible for the benchmark).
struct StepBuffer;

class Recorder final : public RoutingObserver {
public:
    // `db` must be open for writing and outlive the recorder; `run_id` an existing run (begin_run).
    // The recorder opens its own write connection to the same file for its writer thread.
    Recorder(Database& db, int64_t run_id, RecorderOptions options = {});
    ~Recorder() override;  // an unfinished recorder finishes as Interrupted
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    // ---- engine thread ----
    CaptureLevel capture_level() const override { return options_.level; }
    void on_routing(const RoutingEvent& e) override;
    void on_layer_stats(const LayerStatsEvent& e) override;
    void on_step_end(const StepEvent& e) override;
    // Starts a new sequence (one prompt); following steps' tokens belong to it. prompt_id < 0: none.
    void begin_sequence(int64_t prompt_id = -1);
    // Text of the token at `position` of the current sequence (stored with it, or updated later).
    void set_token_text(int64_t position, std::string text);

    // ---- any thread ----
    int64_t steps_enqueued() const;   // steps handed to the queue (excludes dropped)
    int64_t committed_steps() const;  // steps acknowledged as committed
    int64_t dropped_steps() const;
    int64_t producer_waits() const;   // times on_step_end had to wait for queue space (Block policy)
    int64_t busy_retries() const;
    double writer_cpu_seconds() const;  // CPU time of the writer thread (valid after finish())     // batches retried because another process held the write lock
    // Waits until at least n steps are committed, or the recorder failed. Returns committed >= n.
    bool wait_committed(int64_t n);
    // Called on the writer thread after each COMMIT with the acknowledged step index range [first, last].
    void set_commit_callback(std::function<void(int64_t first, int64_t last)> cb);
    bool failed() const;
    std::string error() const;  // empty unless failed()

    // Flushes the queue, stops the writer thread and closes the run with `status` (a failed recorder
    // keeps Failed). Returns the final error message, empty when everything was written. Idempotent.
    std::string finish(RunStatus status = RunStatus::Complete, const std::string& detail = {});

private:
    void writer_main();
    void write_batch(std::vector<std::unique_ptr<StepBuffer>>& batch);
    void write_batch_txn(std::vector<std::unique_ptr<StepBuffer>>& batch);
    void prepare_statements();
    void flush_aggregates();
    void fail(const std::string& message);
    void enqueue(std::unique_ptr<StepBuffer> step);

    Database& owner_;
    int64_t run_id_;
    RecorderOptions options_;

    // engine-thread state
    std::unique_ptr<StepBuffer> open_;
    int seq_ = -1;
    int64_t prompt_id_ = -1;
    int64_t next_index_ = 0;

    // shared state (mu_)
    mutable std::mutex mu_;
    std::condition_variable cv_space_, cv_work_, cv_commit_;
    std::deque<std::unique_ptr<StepBuffer>> queue_;
    size_t queued_bytes_ = 0;
    bool stopping_ = false;
    bool failed_ = false;
    std::string error_;
    double writer_cpu_ = 0;
    int64_t enqueued_ = 0, committed_ = 0, dropped_ = 0, producer_waits_ = 0, busy_retries_ = 0;
    std::function<void(int64_t, int64_t)> commit_cb_;

    // writer-thread state
    struct Writer;
    std::unique_ptr<Writer> w_;
    std::thread thread_;
    bool finished_ = false;
};

}  // namespace moescope::storage
