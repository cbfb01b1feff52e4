#pragma once
// A persistent pool of worker threads for the CPU backend: no thread creation per token.
// parallel_for splits [0, n) into contiguous chunks, one per thread (the calling thread takes part),
// so a given thread count always partitions work the same way (deterministic results).
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

private:
    void worker(int index);
    int n_threads_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_start_, cv_done_;
    const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
    int64_t n_ = 0, grain_ = 1;
    uint64_t generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
};

// Chunk [begin, end) of n items for thread t of T, aligned to grain.
void chunk_range(int64_t n, int t, int T, int64_t grain, int64_t& begin, int64_t& end);

}  // namespace moescope::cpu
