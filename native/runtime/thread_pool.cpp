#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/error.h"

namespace lmf {
namespace {

// One job at a time: the caller publishes it, wakes the workers, runs chunk 0 itself and waits for the rest.
class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(int chunks, const std::function<void(int)>& body) {
    std::lock_guard<std::mutex> job_lock(job_mu_);  // callers from several JS workers take turns
    {
      std::lock_guard<std::mutex> lk(mu_);
      body_ = &body;
      chunks_ = chunks;
      next_.store(1);
      pending_ = chunks - 1;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    run_chunk(0);
    for (;;) {  // the caller helps with chunks not yet claimed
      int c = next_.fetch_add(1);
      if (c >= chunks) break;
      run_chunk(c);
      finish_one();
    }
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    body_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_chunk(int c) {
    try {
      (*body_)(c);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void finish_one() {
    std::lock_guard<std::mutex> lk(mu_);
    if (--pending_ == 0) done_cv_.notify_all();
  }
  void loop(int) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      for (;;) {
        int c = next_.fetch_add(1);
        if (c >= chunks_) break;
        run_chunk(c);
        finish_one();
      }
    }
  }

  int n_;
  std::vector<std::thread> workers_;
  std::mutex job_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* body_ = nullptr;
  std::atomic<int> chunks_{0};
  std::atomic<int> next_{0};
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

int default_threads() {
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

std::mutex g_pool_mu;
std::unique_ptr<Pool> g_pool;
int g_threads = default_threads();
thread_local bool t_inside = false;

Pool& pool() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (!g_pool || g_pool->size() != g_threads) {
    g_pool.reset();
    g_pool = std::make_unique<Pool>(g_threads);
  }
  return *g_pool;
}

}  // namespace

int num_threads() { return g_threads; }

void set_num_threads(int n) {
  LMF_CHECK(n >= 1 && n <= 1024, value, "setNumThreads", "thread count must be in [1, 1024], got " << n);
  std::lock_guard<std::mutex> lk(g_pool_mu);
  g_threads = n;
  g_pool.reset();
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = std::min<int64_t>(g_threads, (n + grain - 1) / grain);
  if (chunks <= 1 || t_inside) {
    fn(0, n, 0);
    return;
  }
  const int c = static_cast<int>(chunks);
  pool().run(c, [&](int i) {
    t_inside = true;
    int64_t b = n * i / c, e = n * (i + 1) / c;
    try {
      if (b < e) fn(b, e, i);
    } catch (...) {
      t_inside = false;
      throw;
    }
    t_inside = false;
  });
}

}  // namespace lmf
