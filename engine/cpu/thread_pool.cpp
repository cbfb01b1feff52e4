#include "engine/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MOESCOPE_PAUSE() _mm_pause()
#else
#define MOESCOPE_PAUSE() std::this_thread::yield()
#endif

namespace moescope::cpu {

void chunk_range(int64_t n, int t, int T, int64_t grain, int64_t& begin, int64_t& end) {
    const int64_t blocks = (n + grain - 1) / grain;
    const int64_t per = blocks / T, extra = blocks % T;
    const int64_t b0 = t * per + std::min<int64_t>(t, extra);
    const int64_t b1 = b0 + per + (t < extra ? 1 : 0);
    begin = std::min(n, b0 * grain);
    end = std::min(n, b1 * grain);
}

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    n_threads_ = n_threads;
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back(&ThreadPool::worker, this, i);
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
        stop_flag_.store(true, std::memory_order_release);
    }
    cv_start_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        // Spin a little: the next job usually follows within microseconds during a forward pass.
        uint64_t gen = generation_.load(std::memory_order_acquire);
        if (gen == seen && !stop_flag_.load(std::memory_order_acquire)) {
            const auto spin = std::chrono::microseconds(spin_us_.load(std::memory_order_relaxed));
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 1;; ++i) {
                MOESCOPE_PAUSE();
                gen = generation_.load(std::memory_order_acquire);
                if (gen != seen || stop_flag_.load(std::memory_order_acquire)) break;
                if ((i & 63) == 0 && std::chrono::steady_clock::now() - t0 >= spin) break;
            }
        }
        if (gen == seen) {
            std::unique_lock<std::mutex> lock(mu_);
            cv_start_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
            if (stop_) return;
            gen = generation_.load(std::memory_order_acquire);
        }
        if (stop_flag_.load(std::memory_order_acquire)) return;
        seen = gen;
        int64_t b, e;
        chunk_range(n_, index, n_threads_, grain_, b, e);
        if (b < e) (*job_)(b, e, index);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& f, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    if (n_threads_ == 1 || n <= grain) {
        f(0, n, 0);
        return;
    }
    job_ = &f;
    n_ = n;
    grain_ = grain;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    {
        // Bumping the generation under the mutex means a worker that is about to sleep either sees the
        // new generation in its wait predicate or is already waiting and gets the notification.
        std::lock_guard<std::mutex> lock(mu_);
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_start_.notify_all();
    int64_t b, e;
    chunk_range(n, 0, n_threads_, grain, b, e);
    if (b < e) f(b, e, 0);
    for (int i = 1; pending_.load(std::memory_order_acquire) != 0; ++i) {
        MOESCOPE_PAUSE();
        if ((i & 1023) == 0) std::this_thread::yield();  // a descheduled worker needs this core
    }
}

}  // namespace moescope::cpu
