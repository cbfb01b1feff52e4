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

namespace {
constexpr uint64_t kIdShift = 40, kCountShift = 20, kMask20 = (uint64_t{1} << 20) - 1;
}

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

void ThreadPool::drain(int index) {
    for (;;) {
        uint64_t v = claim_.load(std::memory_order_acquire);
        const int64_t count = static_cast<int64_t>((v >> kCountShift) & kMask20);
        const int64_t next = static_cast<int64_t>(v & kMask20);
        if (next >= count) return;  // nothing left (or no job)
        if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        // Claimed chunk `next` of the job that v describes; its parameters are stable until we finish.
        if (chunk_fn_) {
            (*chunk_fn_)(next, index);
        } else {
            int64_t b, e;
            chunk_range(n_, static_cast<int>(next), n_threads_, grain_, b, e);
            if (b < e) (*range_fn_)(b, e, index);
        }
        done_.fetch_add(1, std::memory_order_acq_rel);
    }
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
        drain(index);
    }
}

void ThreadPool::run_job(int64_t n_chunks) {
    job_id_ = (job_id_ + 1) & ((1u << 24) - 1);
    done_.store(0, std::memory_order_relaxed);
    claim_.store((static_cast<uint64_t>(job_id_) << kIdShift) | (static_cast<uint64_t>(n_chunks) << kCountShift),
                 std::memory_order_release);
    {
        // Bumping the generation under the mutex means a worker that is about to sleep either sees the
        // new generation in its wait predicate or is already waiting and gets the notification.
        std::lock_guard<std::mutex> lock(mu_);
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_start_.notify_all();
    drain(0);
    for (int i = 1; done_.load(std::memory_order_acquire) != n_chunks; ++i) {
        MOESCOPE_PAUSE();
        if ((i & 1023) == 0) std::this_thread::yield();  // a descheduled worker holds a chunk
    }
    // Retire the job: later claims see no chunk left.
    claim_.store(static_cast<uint64_t>(job_id_) << kIdShift, std::memory_order_release);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& f, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    if (n_threads_ == 1 || n <= grain) {
        f(0, n, 0);
        return;
    }
    range_fn_ = &f;
    chunk_fn_ = nullptr;
    n_ = n;
    grain_ = grain;
    run_job(n_threads_);
}

void ThreadPool::for_each_chunk(int64_t n_chunks, const std::function<void(int64_t, int)>& f) {
    if (n_chunks <= 0) return;
    if (n_threads_ == 1 || n_chunks == 1) {
        for (int64_t c = 0; c < n_chunks; ++c) f(c, 0);
        return;
    }
    // More chunks than the claim word holds: run them in rounds.
    for (int64_t base = 0; base < n_chunks; base += kMaxChunks) {
        const int64_t m = std::min(kMaxChunks, n_chunks - base);
        const std::function<void(int64_t, int)> shifted = [&](int64_t c, int t) { f(base + c, t); };
        chunk_fn_ = base == 0 && m == n_chunks ? &f : &shifted;
        range_fn_ = nullptr;
        run_job(m);
    }
}

}  // namespace moescope::cpu
