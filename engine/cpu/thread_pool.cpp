#include "engine/cpu/thread_pool.h"

#include <algorithm>

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
    if (n_threads <= 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
    n_threads_ = n_threads;
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back(&ThreadPool::worker, this, i);
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_start_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        const std::function<void(int64_t, int64_t, int)>* job;
        int64_t n, grain;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_start_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
            n = n_;
            grain = grain_;
        }
        int64_t b, e;
        chunk_range(n, index, n_threads_, grain, b, e);
        if (b < e) (*job)(b, e, index);
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (--pending_ == 0) cv_done_.notify_one();
        }
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& f, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    if (n_threads_ == 1 || n <= grain) {
        f(0, n, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        job_ = &f;
        n_ = n;
        grain_ = grain;
        pending_ = n_threads_ - 1;
        ++generation_;
    }
    cv_start_.notify_all();
    int64_t b, e;
    chunk_range(n, 0, n_threads_, grain, b, e);
    if (b < e) f(b, e, 0);
    std::unique_lock<std::mutex> lock(mu_);
    cv_done_.wait(lock, [&] { return pending_ == 0; });
}

}  // namespace moescope::cpu
