#include "mem_bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "../core/error.h"
#include "cpu_features.h"

namespace lmf {
namespace {

void triad_impl(float* __restrict a, const float* __restrict b, const float* __restrict c, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"), flatten)) void triad_512(float* a, const float* b, const float* c, int64_t n, float s) { triad_impl(a, b, c, n, s); }
__attribute__((target("avx2,fma"), flatten)) void triad_256(float* a, const float* b, const float* c, int64_t n, float s) { triad_impl(a, b, c, n, s); }
#endif
void triad(float* a, const float* b, const float* c, int64_t n, float s) {
#if defined(__x86_64__) && defined(__GNUC__)
  const char* t = cpu_tier();
  if (std::strcmp(t, "avx512") == 0) return triad_512(a, b, c, n, s);
  if (std::strcmp(t, "avx2") == 0) return triad_256(a, b, c, n, s);
#endif
  triad_impl(a, b, c, n, s);
}

struct Aligned {
  float* p = nullptr;
  explicit Aligned(size_t n) {
    p = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    if (!p) throw std::bad_alloc();
  }
  ~Aligned() { std::free(p); }
};

}  // namespace

double measure_mem_bandwidth_gbs(int threads, double seconds) {
  LMF_CHECK(threads >= 1 && threads <= 1024, value, "memBandwidth", "threads must be in [1, 1024], got " << threads);
  LMF_CHECK(seconds > 0 && seconds <= 60, value, "memBandwidth", "seconds must be in (0, 60], got " << seconds);
  using clock = std::chrono::steady_clock;
  constexpr int64_t n = int64_t(4) << 20;  // 16 MiB per array
  constexpr int kRounds = 5;
  std::atomic<int> ready{0}, done{0}, round{-1};
  std::vector<std::thread> pool;
  std::vector<double> seconds_per_triad(kRounds, 0);
  // Calibrated below: triads per round so that all rounds take about `seconds`.
  std::atomic<int64_t> reps{1};
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      Aligned a(n), b(n), c(n);
      for (int64_t i = 0; i < n; ++i) a.p[i] = 0.0f, b.p[i] = 1.0f, c.p[i] = 2.0f;
      triad(a.p, b.p, c.p, n, 0.5f);  // warm the pages and the TLB
      ready++;
      for (int r = 0; r < kRounds + 1; ++r) {
        while (round.load() < r) std::this_thread::yield();
        const int64_t k = reps.load();
        for (int64_t i = 0; i < k; ++i) triad(a.p, b.p, c.p, n, 0.5f + static_cast<float>(i & 1));
        done++;
      }
    });
  while (ready.load() < threads) std::this_thread::yield();
  double best = 0;
  for (int r = 0; r < kRounds + 1; ++r) {
    const auto t0 = clock::now();
    round.store(r);
    while (done.load() < threads * (r + 1)) std::this_thread::yield();
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (r == 0) {  // calibration round of one triad per thread
      reps.store(std::max<int64_t>(1, static_cast<int64_t>(seconds / kRounds / std::max(dt, 1e-6))));
      continue;
    }
    const double bytes = 12.0 * static_cast<double>(n) * static_cast<double>(reps.load()) * threads;
    best = std::max(best, bytes / dt / 1e9);
  }
  for (auto& th : pool) th.join();
  return best;
}

}  // namespace lmf
