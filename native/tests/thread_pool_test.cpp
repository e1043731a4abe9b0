// The thread pool's hand-offs, with and without spinning (LMF_SPIN_US, read when a pool is built): many
// jobs back to back and with pauses longer than the spin (so workers and the caller go to sleep and must be
// woken), more threads than cores, exceptions from any chunk, nested calls. A lost wake-up hangs the test
// (ctest's timeout fails it); a chunk run twice or never shows in the per-item counts.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../core/error.h"
#include "../runtime/thread_pool.h"

namespace {
int g_passed = 0, g_failed = 0;
void check(bool ok, const std::string& what) {
  if (ok) ++g_passed;
  else { ++g_failed; std::printf("FAIL: %s\n", what.c_str()); }
}

// Every item of [0, n) visited exactly once by jobs of `jobs` calls, pausing `pause_us` between some.
void coverage(const char* spin, int threads, int jobs, int pause_us) {
  setenv("LMF_SPIN_US", spin, 1);
  lmf::set_num_threads(threads);  // a new pool, which reads the variable
  const int64_t n = 997;
  std::vector<std::atomic<int>> hits(n);
  int bad_jobs = 0;
  for (int j = 0; j < jobs; ++j) {
    for (auto& h : hits) h.store(0, std::memory_order_relaxed);
    lmf::parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
    });
    for (auto& h : hits) bad_jobs += h.load() != 1 ? 1 : 0;
    if (pause_us > 0 && j % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
  check(bad_jobs == 0, std::string("every item once: spin ") + spin + " us, " + std::to_string(threads) + " threads, " +
                           std::to_string(jobs) + " jobs, pauses " + std::to_string(pause_us) + " us (" +
                           std::to_string(bad_jobs) + " wrong counts)");
}

void exceptions(const char* spin) {
  setenv("LMF_SPIN_US", spin, 1);
  lmf::set_num_threads(3);
  for (int thrower = 0; thrower < 3; ++thrower) {
    std::string got;
    try {
      lmf::parallel_for(3, 1, [&](int64_t, int64_t, int i) {
        if (i == thrower) throw std::runtime_error("chunk " + std::to_string(i));
      });
    } catch (const std::runtime_error& e) {
      got = e.what();
    }
    check(got == "chunk " + std::to_string(thrower), std::string("chunk ") + std::to_string(thrower) + "'s exception reaches the caller (spin " + spin + ")");
  }
  std::atomic<int64_t> sum{0};
  lmf::parallel_for(1000, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  check(sum.load() == 999 * 1000 / 2, std::string("the pool works after exceptions (spin ") + spin + ")");
}

// A bad LMF_SPIN_US fails the call that builds the pool with an error naming it; a good one then works.
void bad_setting() {
  for (const char* bad : {"abc", "-5", "2000000", "10us"}) {
    setenv("LMF_SPIN_US", bad, 1);
    std::string got;
    try {
      lmf::set_num_threads(2);
      lmf::parallel_for(100, 1, [](int64_t, int64_t, int) {});
    } catch (const lmf::Error& e) {
      got = e.what();
    }
    check(got.find("LMF_SPIN_US") != std::string::npos && got.find(bad) != std::string::npos,
          std::string("LMF_SPIN_US='") + bad + "' is refused by name (" + got + ")");
  }
  setenv("LMF_SPIN_US", "50", 1);
  std::atomic<int64_t> n{0};
  lmf::parallel_for(100, 1, [&](int64_t b, int64_t e, int) { n += e - b; });
  check(n.load() == 100, "a good LMF_SPIN_US after a bad one: the pool works");
}

void nested() {
  setenv("LMF_SPIN_US", "100", 1);
  lmf::set_num_threads(2);
  std::atomic<int64_t> count{0};
  lmf::parallel_for(8, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) lmf::parallel_for(100, 1, [&](int64_t x, int64_t y, int) { count += y - x; });
  });
  check(count.load() == 800, "nested calls run inline, every item once");
}

}  // namespace

int main() {
  for (const char* spin : {"0", "100"}) {
    coverage(spin, 2, 20000, 0);
    coverage(spin, 2, 2000, 300);  // pauses past the spin: both sides sleep and are woken
    coverage(spin, 5, 5000, 150);  // more threads than cores
    exceptions(spin);
  }
  nested();
  bad_setting();
  unsetenv("LMF_SPIN_US");
  std::printf("thread_pool_test: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
