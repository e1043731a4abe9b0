// CPU twin of the fused optimizer steps (optim.h). The element rules live in optim_math.h; here they run
// in plain loops that the compiler vectorises inside drivers compiled for each CPU tier (AVX-512, AVX2+FMA,
// portable), picked at run time with simd.h's pick_tier. The library is built without -march.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <memory>
#include <new>
#include <type_traits>

#include "../runtime/thread_pool.h"
#include "optim.h"
#include "optim_avx512.h"
#include "simd.h"

#if LMF_X86_TIERS
// GCC 12 reports its own AVX-512 conversion intrinsics as reading uninitialised values inside
// target-attributed functions: a known false positive (see matmul_avx512.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#if defined(__GNUC__)
#define LMF_OPT_INLINE inline __attribute__((always_inline))
#else
#define LMF_OPT_INLINE inline
#endif

namespace lmf::kernels {

using namespace lmf::optim;

std::vector<OptimChunk> optim_chunks(const std::vector<int64_t>& sizes, int64_t chunk) {
  std::vector<OptimChunk> r;
  for (size_t s = 0; s < sizes.size(); ++s)
    for (int64_t b = 0; b < sizes[s]; b += chunk) r.push_back({static_cast<int32_t>(s), b, std::min(sizes[s], b + chunk)});
  return r;
}

namespace {

constexpr int64_t kChunk = 32768;

LMF_OPT_INLINE float load_g(const float* g, int64_t i) { return g[i]; }
LMF_OPT_INLINE float load_g(const uint16_t* g, int64_t i) { return math::bf16_to_f32(g[i]); }

template <OptimKind K, typename G, bool W16>
LMF_OPT_INLINE void range_loop(const OptimSlot& s, int64_t b, int64_t e) {
  float* __restrict w = s.w;
  uint16_t* __restrict w16 = s.w16;
  const G* __restrict g = static_cast<const G*>(s.g);
  float* __restrict s0 = s.s0;
  float* __restrict s1 = s.s1;
  if constexpr (K == OptimKind::sgd) {
    const SgdCoef c = s.sgd;
    if (s0) {
      for (int64_t i = b; i < e; ++i) {
        float wi = w[i], bi = s0[i];
        sgd_update(wi, load_g(g, i), bi, c);
        w[i] = wi;
        s0[i] = bi;
        if constexpr (W16) w16[i] = math::f32_to_bf16(wi);
      }
    } else {
      for (int64_t i = b; i < e; ++i) {
        float wi = w[i];
        sgd_plain_update(wi, load_g(g, i), c);
        w[i] = wi;
        if constexpr (W16) w16[i] = math::f32_to_bf16(wi);
      }
    }
  } else if constexpr (K == OptimKind::adam) {
    const AdamCoef c = s.adam;
    for (int64_t i = b; i < e; ++i) {
      float wi = w[i], mi = s0[i], vi = s1[i];
      adam_update(wi, load_g(g, i), mi, vi, c);
      w[i] = wi;
      s0[i] = mi;
      s1[i] = vi;
      if constexpr (W16) w16[i] = math::f32_to_bf16(wi);
    }
  } else if constexpr (K == OptimKind::lion) {
    const LionCoef c = s.lion;
    for (int64_t i = b; i < e; ++i) {
      float wi = w[i], mi = s0[i];
      lion_update(wi, load_g(g, i), mi, c);
      w[i] = wi;
      s0[i] = mi;
      if constexpr (W16) w16[i] = math::f32_to_bf16(wi);
    }
  } else {
    const SophiaCoef c = s.sophia;
    for (int64_t i = b; i < e; ++i) {
      float wi = w[i], mi = s0[i];
      sophia_update(wi, load_g(g, i), mi, s1[i], c);
      w[i] = wi;
      s0[i] = mi;
      if constexpr (W16) w16[i] = math::f32_to_bf16(wi);
    }
  }
}

template <OptimKind K>
LMF_OPT_INLINE void range_dispatch(const OptimSlot& s, int64_t b, int64_t e) {
  if (s.g_bf16) {
    if (s.w16) range_loop<K, uint16_t, true>(s, b, e); else range_loop<K, uint16_t, false>(s, b, e);
  } else {
    if (s.w16) range_loop<K, float, true>(s, b, e); else range_loop<K, float, false>(s, b, e);
  }
}

LMF_OPT_INLINE void range_any(OptimKind k, const OptimSlot& s, int64_t b, int64_t e) {
  switch (k) {
    case OptimKind::sgd: range_dispatch<OptimKind::sgd>(s, b, e); return;
    case OptimKind::adam: range_dispatch<OptimKind::adam>(s, b, e); return;
    case OptimKind::lion: range_dispatch<OptimKind::lion>(s, b, e); return;
    case OptimKind::sophia: range_dispatch<OptimKind::sophia>(s, b, e); return;
  }
}

using RangeFn = void (*)(OptimKind, const OptimSlot&, int64_t, int64_t);

void range_portable(OptimKind k, const OptimSlot& s, int64_t b, int64_t e) { range_any(k, s, b, e); }
#if LMF_X86_TIERS
LMF_TARGET_AVX2 void range_avx2(OptimKind k, const OptimSlot& s, int64_t b, int64_t e) { range_any(k, s, b, e); }
template <bool GB, bool W16>
LMF_TARGET_AVX512 void adam_avx512(const OptimSlot& s, int64_t b, int64_t e) {
  const avx512::AdamVec k = avx512::adam_vec(s.adam);
  int64_t i = b;
  for (; i + 16 <= e; i += 16) {
    __m512 w = _mm512_loadu_ps(s.w + i), m = _mm512_loadu_ps(s.s0 + i), v = _mm512_loadu_ps(s.s1 + i);
    __m512 g = GB ? simd::bf16x16_load(static_cast<const uint16_t*>(s.g) + i) : _mm512_loadu_ps(static_cast<const float*>(s.g) + i);
    g = _mm512_fmadd_ps(k.l2, w, g);
    avx512::moments(g, m, v, k);
    w = avx512::apply(w, m, v, k);
    _mm512_storeu_ps(s.w + i, w);
    _mm512_storeu_ps(s.s0 + i, m);
    _mm512_storeu_ps(s.s1 + i, v);
    if (W16) simd::bf16x16_store(s.w16 + i, w);
  }
  if (i < e) range_loop<OptimKind::adam, std::conditional_t<GB, uint16_t, float>, W16>(s, i, e);
}
LMF_TARGET_AVX512 void range_avx512(OptimKind k, const OptimSlot& s, int64_t b, int64_t e) {
  if (k == OptimKind::adam) {
    if (s.g_bf16) {
      if (s.w16) adam_avx512<true, true>(s, b, e); else adam_avx512<true, false>(s, b, e);
    } else {
      if (s.w16) adam_avx512<false, true>(s, b, e); else adam_avx512<false, false>(s, b, e);
    }
    return;
  }
  range_any(k, s, b, e);
}
#else
constexpr RangeFn range_avx512 = range_portable, range_avx2 = range_portable;  // no x86 tiers here: never picked
#endif

RangeFn pick_range() { return pick_tier<RangeFn>(range_avx512, range_avx2, range_portable); }

// ---- gradient norm: sum of squares in double ----

using SumsqFn = double (*)(const void*, bool, int64_t, int64_t);

double sumsq_portable(const void* g, bool bf16, int64_t b, int64_t e) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = b;
  if (bf16) {
    const uint16_t* p = static_cast<const uint16_t*>(g);
    for (; i + 4 <= e; i += 4) {
      const double x0 = load_g(p, i), x1 = load_g(p, i + 1), x2 = load_g(p, i + 2), x3 = load_g(p, i + 3);
      a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3;
    }
    for (; i < e; ++i) { const double x = load_g(p, i); a0 += x * x; }
  } else {
    const float* p = static_cast<const float*>(g);
    for (; i + 4 <= e; i += 4) {
      const double x0 = p[i], x1 = p[i + 1], x2 = p[i + 2], x3 = p[i + 3];
      a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3;
    }
    for (; i < e; ++i) { const double x = p[i]; a0 += x * x; }
  }
  return (a0 + a1) + (a2 + a3);
}

#if LMF_X86_TIERS
LMF_TARGET_AVX512 double sumsq_avx512(const void* g, bool bf16, int64_t b, int64_t e) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd(), a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
  int64_t i = b;
  for (; i + 32 <= e; i += 32) {
    __m512 x, y;
    if (bf16) {
      const uint16_t* p = static_cast<const uint16_t*>(g) + i;
      x = simd::bf16x16_load(p);
      y = simd::bf16x16_load(p + 16);
    } else {
      const float* p = static_cast<const float*>(g) + i;
      x = _mm512_loadu_ps(p);
      y = _mm512_loadu_ps(p + 16);
    }
    const __m512d x0 = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    const __m512d x1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
    const __m512d y0 = _mm512_cvtps_pd(_mm512_castps512_ps256(y));
    const __m512d y1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(y), 1)));
    a0 = _mm512_fmadd_pd(x0, x0, a0);
    a1 = _mm512_fmadd_pd(x1, x1, a1);
    a2 = _mm512_fmadd_pd(y0, y0, a2);
    a3 = _mm512_fmadd_pd(y1, y1, a3);
  }
  double r = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
  return r + sumsq_portable(g, bf16, i, e);
}

LMF_TARGET_AVX2 double sumsq_avx2(const void* g, bool bf16, int64_t b, int64_t e) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    __m256 x;
    if (bf16) {
      x = simd::bf16x8_load(static_cast<const uint16_t*>(g) + i);
    } else {
      x = _mm256_loadu_ps(static_cast<const float*>(g) + i);
    }
    const __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    const __m256d x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    a0 = _mm256_fmadd_pd(x0, x0, a0);
    a1 = _mm256_fmadd_pd(x1, x1, a1);
  }
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(a0, a1));
  return ((t[0] + t[1]) + (t[2] + t[3])) + sumsq_portable(g, bf16, i, e);
}
#else
constexpr SumsqFn sumsq_avx512 = sumsq_portable, sumsq_avx2 = sumsq_portable;  // no x86 tiers here: never picked
#endif

SumsqFn pick_sumsq() { return pick_tier<SumsqFn>(sumsq_avx512, sumsq_avx2, sumsq_portable); }

std::vector<int64_t> grad_sizes(const std::vector<GradView>& grads) {
  std::vector<int64_t> sizes;
  sizes.reserve(grads.size());
  for (const GradView& g : grads) sizes.push_back(g.n);
  return sizes;
}

}  // namespace

void optim_step_cpu(OptimKind kind, const std::vector<OptimSlot>& slots) {
  std::vector<int64_t> sizes;
  sizes.reserve(slots.size());
  for (const OptimSlot& s : slots) sizes.push_back(s.n);
  const std::vector<OptimChunk> chunks = optim_chunks(sizes, kChunk);
  const RangeFn fn = pick_range();
  parallel_for(static_cast<int64_t>(chunks.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t c = b; c < e; ++c) fn(kind, slots[chunks[c].slot], chunks[c].begin, chunks[c].end);
  });
}

GradNormResult grad_sumsq_cpu(const std::vector<GradView>& grads) {
  const std::vector<OptimChunk> chunks = optim_chunks(grad_sizes(grads), 65536);
  std::vector<double> partial(chunks.size(), 0.0);
  const SumsqFn fn = pick_sumsq();
  parallel_for(static_cast<int64_t>(chunks.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t c = b; c < e; ++c) {
      const GradView& g = grads[chunks[c].slot];
      partial[c] = fn(g.g, g.bf16, chunks[c].begin, chunks[c].end);
    }
  });
  GradNormResult r;
  for (double p : partial) r.sumsq += p;  // fixed order: independent of the thread count
  // A NaN or Inf element makes its square, and so the sum, non-finite; finite floats squared in double
  // cannot overflow (FLT_MAX^2 ~ 1e77).
  r.finite = std::isfinite(r.sumsq);
  return r;
}

bool grads_finite_cpu(const std::vector<GradView>& grads) { return grad_sumsq_cpu(grads).finite; }

void grad_scale_cpu(const std::vector<GradView>& grads, float scale) {
  const std::vector<OptimChunk> chunks = optim_chunks(grad_sizes(grads), kChunk);
  parallel_for(static_cast<int64_t>(chunks.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t c = b; c < e; ++c) {
      const GradView& g = grads[chunks[c].slot];
      if (g.bf16) {
        uint16_t* p = static_cast<uint16_t*>(g.g);
        for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) p[i] = math::f32_to_bf16(load_g(p, i) * scale);
      } else {
        float* p = static_cast<float*>(g.g);
        for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) p[i] *= scale;
      }
    }
  });
}

void ema_update_cpu(const std::vector<EmaSlot>& slots) {
  std::vector<int64_t> sizes;
  for (const EmaSlot& s : slots) sizes.push_back(s.n);
  const std::vector<OptimChunk> chunks = optim_chunks(sizes, kChunk);
  parallel_for(static_cast<int64_t>(chunks.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t c = b; c < e; ++c) {
      const EmaSlot& s = slots[chunks[c].slot];
      for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) {
        const float x = s.e_bf16 ? load_g(static_cast<const uint16_t*>(s.e), i) : static_cast<const float*>(s.e)[i];
        ema_update(s.h[i], x, s.b2);
      }
    }
  });
}

}  // namespace lmf::kernels
