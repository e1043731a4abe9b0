#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/error.h"

namespace lmf {
namespace {

// How long a thread spins before it sleeps: a worker after its job (waiting for the next), the caller
// after its own chunk (waiting for the workers'). On the 2-core VM we measure on, a worker woken through
// the condition variable starts 25-45 us late and the sleeping caller resumes 30-40 us after the last
// chunk ends: a GELU over [2048, 384] took 250 us instead of 170, and a 1 MB ReLU 95 us instead of 13.
// Spinning holds a core for at most this long after each job; LMF_SPIN_US=0 turns it off (a machine
// shared by several processes), larger values suit a dedicated one. Read when a pool is built; a value
// that is not a whole number of microseconds in [0, 1000000] fails that (and so the op that needed it).
int64_t spin_ns() {
  const char* v = std::getenv("LMF_SPIN_US");
  if (!v || !*v) return 100 * 1000;
  char* end = nullptr;
  const long long us = std::strtoll(v, &end, 10);
  LMF_CHECK(*end == '\0' && us >= 0 && us <= 1000000, value, "thread pool",
            "LMF_SPIN_US must be a whole number of microseconds from 0 to 1000000, got '" << v << "'");
  return us * 1000;
}

// Calls done() until it is true or spin_ns has passed; false when it timed out.
template <class F>
bool spin_until(int64_t budget_ns, F done) {
  if (budget_ns <= 0) return done();
  using clock = std::chrono::steady_clock;
  const auto until = clock::now() + std::chrono::nanoseconds(budget_ns);
  for (int i = 1;; ++i) {
    if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();  // also lets a hypervisor see the spin (pause-loop exiting)
#endif
    if ((i & 63) == 0 && clock::now() > until) return done();
  }
}

// One job at a time: the caller publishes it, wakes the workers that sleep, runs chunk 0 itself and waits
// for the rest. generation_ and pending_ are atomics so that spinning threads see a job start and end
// without the mutex; sleeping ones are woken under it, so no wake-up is lost.
class Pool {
 public:
  explicit Pool(int n) : n_(n), spin_ns_(spin_ns()) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(int chunks, const std::function<void(int)>& body) {
    std::lock_guard<std::mutex> job_lock(job_mu_);  // callers from several JS workers take turns
    bool sleeping;
    {
      std::lock_guard<std::mutex> lk(mu_);
      body_ = &body;
      chunks_ = chunks;
      next_.store(1);
      pending_.store(chunks - 1);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
      sleeping = sleepers_ > 0;
    }
    if (sleeping) cv_.notify_all();  // a futex call only when a worker sleeps
    run_chunk(0);
    for (;;) {  // the caller helps with chunks not yet claimed
      int c = next_.fetch_add(1);
      if (c >= chunks) break;
      run_chunk(c);
      finish_one();
    }
    if (!spin_until(spin_ns_, [this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [this] { return pending_.load() == 0; });
    }
    std::lock_guard<std::mutex> lk(mu_);  // error_ was written under it
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
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lk(mu_);  // the caller may be between its check and its wait
      done_cv_.notify_all();
    }
  }
  void loop(int) {
    uint64_t seen = 0;
    for (;;) {
      const bool started = spin_until(spin_ns_, [&] {
        return generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_relaxed);
      });
      {
        std::unique_lock<std::mutex> lk(mu_);
        if (!started) {
          ++sleepers_;
          cv_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
          --sleepers_;
        }
        if (stop_) return;
        seen = generation_.load();
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
  int64_t spin_ns_;
  std::vector<std::thread> workers_;
  std::mutex job_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* body_ = nullptr;
  std::atomic<int> chunks_{0};
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  int sleepers_ = 0;  // workers waiting on cv_, under mu_
  std::atomic<bool> stop_{false};
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
