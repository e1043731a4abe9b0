#include "cpu_peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "../core/error.h"
#include "cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lmf {
namespace {

// Each loop keeps 12 independent accumulators: enough to cover FMA latency (4 cycles) on two pipes.
// Returns FMAs performed per lane so the caller can scale by the vector width.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iters, float* sink) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float tmp[16];  // (_mm512_reduce_add_ps trips a false -Wuninitialized in GCC 12)
  _mm512_store_ps(tmp, s);
  *sink = tmp[0] + tmp[15];
  return static_cast<double>(iters) * 12 * 16;
}

__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iters, float* sink) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float tmp[8];
  _mm256_storeu_ps(tmp, s);
  *sink = tmp[0];
  return static_cast<double>(iters) * 12 * 8;
}
#endif

double fma_loop_scalar(int64_t iters, float* sink) {
  float acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = 1.0f + i * 1e-3f;
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * 0.999999f + 1e-7f;
  float s = 0;
  for (float v : acc) s += v;
  *sink = s;
  return static_cast<double>(iters) * 12;
}

double run_loop(int64_t iters, float* sink) {
#if defined(__x86_64__)
  const std::string tier = cpu_tier();
  if (tier == "avx512") return fma_loop_avx512(iters, sink);
  if (tier == "avx2") return fma_loop_avx2(iters, sink);
#endif
  return fma_loop_scalar(iters, sink);
}

}  // namespace

double measure_fma_peak_gflops(int threads, double seconds) {
  LMF_CHECK(threads >= 1 && threads <= 1024, value, "fmaPeak", "threads must be in [1, 1024], got " << threads);
  LMF_CHECK(seconds > 0 && seconds <= 60, value, "fmaPeak", "seconds must be in (0, 60], got " << seconds);
  using clock = std::chrono::steady_clock;
  float sink = 0;
  // Calibrate the iteration count on one thread, then run all threads together.
  int64_t iters = 1 << 16;
  for (;;) {
    auto t0 = clock::now();
    run_loop(iters, &sink);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt > seconds / 10 || iters > (int64_t(1) << 40)) {
      iters = static_cast<int64_t>(iters * (seconds / 3) / std::max(dt, 1e-9)) + 1;
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> pool;
    std::vector<double> fmas(threads);
    std::vector<float> sinks(threads);
    std::atomic<int> ready{0};
    auto t0 = clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        ready++;
        fmas[t] = run_loop(iters, &sinks[t]);
      });
    for (auto& th : pool) th.join();
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    double total = 0;
    for (double f : fmas) total += f;
    best = std::max(best, 2.0 * total / dt / 1e9);
  }
  return best;
}

}  // namespace lmf
