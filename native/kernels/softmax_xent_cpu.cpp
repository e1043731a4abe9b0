#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "../runtime/thread_pool.h"
#include "dtype_io.h"
#include "index_fault.h"
#include "simd.h"
#include "softmax_xent.h"


namespace lmf::kernels {
namespace {

// fp32/bf16 fast path: rows in 16 fp32 lanes with the vectorisable exp of simd.h, compiled per tier.
constexpr int kLanes = 16;

template <class T>
LMF_AI double row_lse_fast_impl(const T* __restrict x, int64_t n) {
  constexpr float ninf = -std::numeric_limits<float>::infinity();
  const int64_t nv = n / kLanes * kLanes;
  vmath::v16f mx = vmath::v16f{} + ninf;
  for (int64_t i = 0; i < nv; i += kLanes) {
    const vmath::v16f v = vmath::load16(x + i);
    mx = v > mx ? v : mx;
  }
  float m = ninf;
  for (int l = 0; l < kLanes; ++l) m = mx[l] > m ? mx[l] : m;
  for (int64_t i = nv; i < n; ++i) m = ld(x, i) > m ? ld(x, i) : m;
  if (m == ninf) {  // every entry -inf (or NaN)
    for (int64_t i = 0; i < n; ++i)
      if (ld(x, i) != ld(x, i)) return std::numeric_limits<double>::quiet_NaN();
    return -std::numeric_limits<double>::infinity();
  }
  vmath::v16f acc = vmath::v16f{};
  for (int64_t i = 0; i < nv; i += kLanes) acc += vmath::exp16(vmath::load16(x + i) - m);
  double sum = 0;
  for (int l = 0; l < kLanes; ++l) sum += acc[l];
  for (int64_t i = nv; i < n; ++i) sum += vmath::exp(ld(x, i) - m);
  return static_cast<double>(m) + std::log(sum);  // NaN anywhere makes the sum NaN
}

// dx[j] = scale * exp(x[j] - lse) for the whole row, then dx[t] = tv where t >= 0 (the target entry,
// computed in double by the caller).
template <class T>
LMF_AI void row_grad_fast_impl(T* __restrict dx, const T* __restrict x, int64_t n, float lse, float scale, int64_t t, float tv) {
  for (int64_t j = 0; j < n; ++j) st(dx, j, scale * vmath::exp(ld(x, j) - lse));
  if (t >= 0) st(dx, t, tv);
}

template <class T> LMF_FLAT double lse_portable(const T* x, int64_t n, const T*) { return row_lse_fast_impl(x, n); }
template <class T> LMF_FLAT void grad_portable(T* dx, const T* x, int64_t n, float lse, float sc, int64_t t, float tv, bool) {
  row_grad_fast_impl(dx, x, n, lse, sc, t, tv);
}
template <class T> LMF_T512 double lse_512(const T* x, int64_t n, const T*) { return row_lse_fast_impl(x, n); }
template <class T> LMF_T512 void grad_512(T* dx, const T* x, int64_t n, float lse, float sc, int64_t t, float tv, bool) {
  row_grad_fast_impl(dx, x, n, lse, sc, t, tv);
}
template <class T> LMF_T256 double lse_256(const T* x, int64_t n, const T*) { return row_lse_fast_impl(x, n); }
template <class T> LMF_T256 void grad_256(T* dx, const T* x, int64_t n, float lse, float sc, int64_t t, float tv, bool) {
  row_grad_fast_impl(dx, x, n, lse, sc, t, tv);
}

#if LMF_X86_TIERS
// The AVX-512 tier with simd::vexp2_nonpos (vreduceps and vscalefps, 10 instructions per 16 lanes against
// about 24 for the generic exp16 with its clamps and exponent arithmetic): the rows are in L1/L2 on their
// second pass, so the exp is what bounds these loops. Same structure and NaN rules as the generic loops above.
// e^(x - m) as 2^((x - m) log2 e), for x <= m: x - m first, exact where x is near m (folding m log2 e into
// one fused multiply-subtract would round m log2 e, an error of ulp(m log2 e) on every exponent).
LMF_TARGET_AVX512 LMF_AI __m512 exp_minus(__m512 x, __m512 m) {
  return simd::vexp2_nonpos(_mm512_mul_ps(_mm512_sub_ps(x, m), _mm512_set1_ps(1.44269504088896341f)));
}
template <class T>
LMF_TARGET_AVX512 LMF_AI __m512 xload(const T* p, __mmask16 m, __m512 fill) {
  if constexpr (std::is_same_v<T, float>) return _mm512_mask_loadu_ps(fill, m, p);
  else return _mm512_mask_blend_ps(m, fill, simd::bf16x16_load(p, m));
}
LMF_AI __mmask16 tail16(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

// `next` (the thread's next row, or null) is prefetched into L2 during the exp pass, one line per line
// of this row consumed: the next row's first pass then reads from L2 while this row's exp runs, instead
// of the two phases taking turns on one core (memory stalls, then compute).
template <class T>
LMF_TARGET_AVX512 double lse_512x(const T* x, int64_t n, const T* next) {
  constexpr float ninf = -std::numeric_limits<float>::infinity();
  const __m512 vninf = _mm512_set1_ps(ninf);
  // Four independent maxima (one vmaxps chain would cost its latency, 4 cycles, per 16 lanes); max is
  // exact, so the order does not change m.
  __m512 mx0 = vninf, mx1 = vninf, mx2 = vninf, mx3 = vninf;
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {  // a NaN lane keeps mx
    mx0 = _mm512_max_ps(xload(x + j, 0xffff, vninf), mx0);
    mx1 = _mm512_max_ps(xload(x + j + 16, 0xffff, vninf), mx1);
    mx2 = _mm512_max_ps(xload(x + j + 32, 0xffff, vninf), mx2);
    mx3 = _mm512_max_ps(xload(x + j + 48, 0xffff, vninf), mx3);
  }
  for (; j < n; j += 16) mx0 = _mm512_max_ps(xload(x + j, tail16(n - j), vninf), mx0);
  const float m = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(mx0, mx1), _mm512_max_ps(mx2, mx3)));
  if (m == ninf) {  // every entry -inf (or NaN)
    for (int64_t i = 0; i < n; ++i)
      if (ld(x, i) != ld(x, i)) return std::numeric_limits<double>::quiet_NaN();
    return -std::numeric_limits<double>::infinity();
  }
  const __m512 vm = _mm512_set1_ps(m);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  const char* pf = reinterpret_cast<const char*>(next);
  for (; i + 32 <= n; i += 32) {
    if (pf) {
      for (int64_t b = 0; b < 32 * int64_t(sizeof(T)); b += 64) _mm_prefetch(pf + i * int64_t(sizeof(T)) + b, _MM_HINT_T1);
    }
    a0 = _mm512_add_ps(a0, exp_minus(xload(x + i, 0xffff, vm), vm));
    a1 = _mm512_add_ps(a1, exp_minus(xload(x + i + 16, 0xffff, vm), vm));
  }
  for (; i < n; i += 16) a0 = _mm512_add_ps(a0, exp_minus(xload(x + i, tail16(n - i), vninf), vm));
  const double sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  return static_cast<double>(m) + std::log(sum);  // NaN anywhere makes the sum NaN
}

// 16 lanes of the row's gradient from i on (lanes in m), the target entry put in, stored normally or
// (nt: a full, aligned vector) by a non-temporal store.
template <class T>
LMF_TARGET_AVX512 LMF_AI void grad16(T* dx, const T* x, int64_t i, __mmask16 m, __m512 vl, __m512 vs, int64_t t, __m512 vt, bool nt) {
  __m512 y = _mm512_mul_ps(vs, exp_minus(xload(x + i, m, vl), vl));
  if (static_cast<uint64_t>(t - i) < 16) y = _mm512_mask_mov_ps(y, static_cast<__mmask16>(1u << (t - i)), vt);
  if constexpr (std::is_same_v<T, float>) {
    if (nt) _mm512_stream_ps(dx + i, y);
    else _mm512_mask_storeu_ps(dx + i, m, y);
  } else {
    if (nt) _mm256_stream_si256(reinterpret_cast<__m256i*>(dx + i), simd::bf16x16_round(y));
    else simd::bf16x16_store(dx + i, y, m);
  }
}

// stream: the output is larger than the caches (kStreamBytes), so its lines are written by non-temporal
// stores, which skip reading each line before overwriting it (this pass then moves 2 bytes per byte of
// logits instead of 3) and do not evict the logits; the caller fences after its rows.
template <class T>
LMF_TARGET_AVX512 void grad_512x(T* dx, const T* x, int64_t n, float lse, float scale, int64_t t, float tv, bool stream) {
  const __m512 vl = _mm512_set1_ps(lse), vs = _mm512_set1_ps(scale), vt = _mm512_set1_ps(tv);
  int64_t i = 0;
  if (stream) {
    constexpr uintptr_t kAlign = 16 * sizeof(T);  // one vector's bytes: vmovntps / vmovntdq need them aligned
    const int64_t head = std::min<int64_t>(n, static_cast<int64_t>((kAlign - reinterpret_cast<uintptr_t>(dx) % kAlign) % kAlign / sizeof(T)));
    if (head > 0) grad16(dx, x, 0, tail16(head), vl, vs, t, vt, false);
    for (i = head; i + 16 <= n; i += 16) grad16(dx, x, i, 0xffff, vl, vs, t, vt, true);
  }
  for (; i < n; i += 16) grad16(dx, x, i, tail16(n - i), vl, vs, t, vt, false);
}
#endif

template <class T>
void pick_fast(double (*&lse)(const T*, int64_t, const T*), void (*&grad)(T*, const T*, int64_t, float, float, int64_t, float, bool)) {
#if LMF_X86_TIERS
  lse = pick_tier(lse_512x<T>, lse_256<T>, lse_portable<T>);
  grad = pick_tier(grad_512x<T>, grad_256<T>, grad_portable<T>);
#else
  lse = pick_tier(lse_512<T>, lse_256<T>, lse_portable<T>);
  grad = pick_tier(grad_512<T>, grad_256<T>, grad_portable<T>);
#endif
}

template <class T> struct Raw { using type = T; };
template <> struct Raw<bf16_t> { using type = uint16_t; };
template <class T> constexpr bool kFast = std::is_same_v<T, float> || std::is_same_v<T, bf16_t>;

// Max-subtracted log-sum-exp of n values at stride s, in double.
template <typename T>
double row_lse(const T* x, int64_t n, int64_t s) {
  double m = -std::numeric_limits<double>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const double v = load_f(x + i * s);
    nan = nan || v != v;
    m = v > m ? v : m;
  }
  if (nan) return std::numeric_limits<double>::quiet_NaN();
  if (m == -std::numeric_limits<double>::infinity()) return m;  // every entry -inf
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(load_f(x + i * s)) - m);
  return m + std::log(sum);
}

// Outputs of at least this many bytes (twice this machine's L2 in all) are written by non-temporal stores.
constexpr int64_t kStreamBytes = int64_t(8) << 20;

int64_t rows_grain(int64_t width) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(width, 1)); }

}  // namespace

void softmax_forward_cpu(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, bool log) {
  dispatch_float(dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
    parallel_for(outer * inner, rows_grain(n), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t base = (r / inner) * n * inner + r % inner;
        const double lse = row_lse(x + base, n, inner);
        for (int64_t i = 0; i < n; ++i) {
          const double v = static_cast<double>(load_f(x + base + i * inner)) - lse;
          store_f(y + base + i * inner, log ? v : std::exp(v));
        }
      }
    });
  });
}

void xent_forward_cpu(double* loss, double* lse, uint64_t* status, const void* logits, DType dtype, const int32_t* target,
                      const XentParams& p) {
  std::atomic<uint64_t> fault{status[0]}, valid{status[1]};
  dispatch_float(dtype, "crossEntropy", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    using R = typename Raw<T>::type;
    double (*lse_fast)(const R*, int64_t, const R*) = nullptr;
    void (*grad_fast)(R*, const R*, int64_t, float, float, int64_t, float, bool) = nullptr;
    if constexpr (kFast<T>) pick_fast<R>(lse_fast, grad_fast);
    parallel_for(p.N, rows_grain(p.V), [&](int64_t r0, int64_t r1, int) {
      uint64_t first = kNoIndexFault, counted = 0;
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * p.V;
        double l;
        if constexpr (kFast<T>) l = lse_fast(reinterpret_cast<const R*>(row), p.V, r + 1 < r1 ? reinterpret_cast<const R*>(row + p.V) : nullptr);
        else l = row_lse(row, p.V, 1);
        lse[r] = l;
        const int32_t t = target[r];
        if (t == p.ignore_index) {
          loss[r] = 0.0;
        } else if (t < 0 || t >= p.V) {
          loss[r] = std::numeric_limits<double>::quiet_NaN();
          first = std::min(first, index_fault_key(r, t));
        } else {
          loss[r] = l - static_cast<double>(load_f(row + t)) + p.z_loss * l * l;
          ++counted;
        }
      }
      if (first != kNoIndexFault) lower_index_fault(fault, first);
      valid.fetch_add(counted, std::memory_order_relaxed);
    });
  });
  status[0] = fault.load();
  status[1] = valid.load();
}

void xent_backward_cpu(void* dlogits, uint64_t* fault, const void* logits, DType dtype, const int32_t* target, const double* lse,
                       const double* row_grad, const XentParams& p) {
  std::atomic<uint64_t> first_fault{*fault};
  dispatch_float(dtype, "crossEntropy backward", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    T* dx = static_cast<T*>(dlogits);
    using R = typename Raw<T>::type;
    double (*lse_fast)(const R*, int64_t, const R*) = nullptr;
    void (*grad_fast)(R*, const R*, int64_t, float, float, int64_t, float, bool) = nullptr;
    if constexpr (kFast<T>) pick_fast<R>(lse_fast, grad_fast);
    const bool stream = kFast<T> && LMF_X86_TIERS && p.N * p.V * static_cast<int64_t>(sizeof(T)) >= kStreamBytes;
    parallel_for(p.N, rows_grain(p.V), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * p.V;
        T* drow = dx + r * p.V;
        const int32_t t = target[r];
        if (t != p.ignore_index && (t < 0 || t >= p.V)) {
          for (int64_t j = 0; j < p.V; ++j) store_f(drow + j, std::numeric_limits<double>::quiet_NaN());
          lower_index_fault(first_fault, index_fault_key(r, t));
          continue;
        }
        const double g = t == p.ignore_index ? 0.0 : row_grad[r];
        const double scale = g * (1.0 + 2.0 * p.z_loss * lse[r]);
        // The target entry, in double: scale * softmax - g.
        const double tv = t == p.ignore_index ? 0.0 : scale * std::exp(static_cast<double>(load_f(row + t)) - lse[r]) - g;
        if constexpr (kFast<T>) {
          grad_fast(reinterpret_cast<R*>(drow), reinterpret_cast<const R*>(row), p.V, static_cast<float>(lse[r]), static_cast<float>(scale),
                    t == p.ignore_index ? -1 : t, static_cast<float>(tv), stream);
        } else {
          for (int64_t j = 0; j < p.V; ++j)
            store_f(drow + j, scale * std::exp(static_cast<double>(load_f(row + j)) - lse[r]));
          if (t != p.ignore_index) store_f(drow + t, tv);
        }
      }
#if LMF_X86_TIERS
      if (stream) _mm_sfence();  // the non-temporal stores are visible before the pool reports this chunk done
#endif
    });
  });
  *fault = first_fault.load();
}

}  // namespace lmf::kernels
