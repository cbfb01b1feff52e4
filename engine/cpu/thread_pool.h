#pragma once
// A persistent pool of worker threads for the CPU backend: no thread creation per token.
//
// Work is cut into chunks that threads CLAIM from a shared atomic counter: whichever thread is running
// takes the next unclaimed chunk, so a worker that the OS has not scheduled yet (a busy desktop, or
// more threads than free cores) never holds the caller up — the others do its share. The caller waits
// only for chunks already claimed. The thread_index handed to f identifies the executing thread
// (0 = caller, 1..size()-1 = workers) and is unique among concurrently running calls, so it can pick
// per-thread scratch; the chunks themselves are fixed by (n, size(), grain), so code whose result per
// item does not depend on the executing thread (all of the engine's) is deterministic.
//
// Decode calls the pool hundreds of times per token, so the hand-off must cost ~1 µs, not the ~10-50 µs
// of a condition-variable wake-up: workers spin (with pause) for a short while after each job before
// they fall back to sleeping on the condition variable.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace moescope::cpu {

class ThreadPool {
public:
    // n_threads <= 0: hardware concurrency.
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls f(begin, end, thread_index) for the size() contiguous chunks of [0, n) given by chunk_range
    // (aligned to `grain`, useful to keep SIMD blocks whole); blocks until all are done. Not re-entrant.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& f, int64_t grain = 1);

    // Calls f(chunk, thread_index) for every chunk in [0, n_chunks) (any thread may run any chunk, each
    // exactly once); blocks until all are done. For many small chunks of balanced work. Not re-entrant.
    void for_each_chunk(int64_t n_chunks, const std::function<void(int64_t, int)>& f);

    // How long an idle worker spins before sleeping (microseconds; 0 = sleep at once). Default 200.
    void set_spin_us(int us) { spin_us_.store(us, std::memory_order_relaxed); }

    static constexpr int64_t kMaxChunks = (int64_t{1} << 20) - 1;

private:
    void worker(int index);
    // Claims and runs chunks of the current job until none is left or the job changed.
    void drain(int index);
    void run_job(int64_t n_chunks);

    int n_threads_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_start_;
    // Current job. The parameters are written before claim_ publishes the job (release) and are read
    // only after a successful claim (acquire), which also proves the job is still running: the caller
    // cannot return, and so cannot post the next job, before every claimed chunk is done.
    const std::function<void(int64_t, int64_t, int)>* range_fn_ = nullptr;
    const std::function<void(int64_t, int)>* chunk_fn_ = nullptr;
    int64_t n_ = 0, grain_ = 1;
    // claim_ = job id (24 bits) | n_chunks (20 bits) | next unclaimed chunk (20 bits).
    std::atomic<uint64_t> claim_{0};
    std::atomic<int64_t> done_{0};
    uint32_t job_id_ = 0;
    std::atomic<uint64_t> generation_{0};  // bumped per job: wakes the workers
    std::atomic<int> spin_us_{200};
    bool stop_ = false;  // guarded by mu_
    std::atomic<bool> stop_flag_{false};
};

// Chunk [begin, end) of n items for thread t of T, aligned to grain.
void chunk_range(int64_t n, int t, int T, int64_t grain, int64_t& begin, int64_t& end);

}  // namespace moescope::cpu
