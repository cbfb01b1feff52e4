#pragma once
// A persistent pool of worker threads for the CPU backend: no thread creation per token.
// parallel_for splits [0, n) into contiguous chunks, one per thread (the calling thread takes part),
// so a given thread count always partitions work the same way (deterministic results).
//
// Decode calls parallel_for a few hundred times per token, so the hand-off must cost ~1 µs, not the
// ~10-50 µs of a condition-variable wake-up: workers spin (with pause) on an atomic generation counter
// for a short while after each job before they fall back to sleeping on the condition variable, and
// the caller spins on an atomic count of unfinished workers.
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
    // Calls f(begin, end, thread_index) for chunks covering [0, n); blocks until all are done.
    // Chunks are aligned to `grain` (useful to keep SIMD blocks whole). Not re-entrant.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& f, int64_t grain = 1);

    // How long an idle worker spins before sleeping (microseconds; 0 = sleep at once). Default 200.
    void set_spin_us(int us) { spin_us_.store(us, std::memory_order_relaxed); }

private:
    void worker(int index);
    int n_threads_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_start_;
    // Job description, written by the caller before generation_ is bumped (release) and read by the
    // workers after they observe the new generation (acquire).
    const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
    int64_t n_ = 0, grain_ = 1;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<int> spin_us_{200};
    bool stop_ = false;  // guarded by mu_
    std::atomic<bool> stop_flag_{false};
};

// Chunk [begin, end) of n items for thread t of T, aligned to grain.
void chunk_range(int64_t n, int t, int T, int64_t grain, int64_t& begin, int64_t& end);

}  // namespace moescope::cpu
