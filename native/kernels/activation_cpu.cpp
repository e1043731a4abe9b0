// CPU twin of activation.h. Each loop is written once as a template over (kind, storage type) and compiled
// three times (simd.h: LMF_T512, LMF_T256 and the portable baseline); GCC's vectoriser turns the
// branch-free vmath formulas into SIMD code inside each target function.
#include <cmath>
#include <type_traits>

#include "../runtime/thread_pool.h"
#include "activation.h"
#include "dtype_io.h"
#include "simd.h"


namespace lmf::kernels {

const char* act_name(ActKind k) {
  switch (k) {
    case ActKind::relu: return "relu";
    case ActKind::gelu_tanh: return "gelu";
    case ActKind::gelu_erf: return "gelu_erf";
    case ActKind::silu: return "silu";
    case ActKind::glu: return "glu";
    case ActKind::geglu: return "geglu";
    case ActKind::swiglu: return "swiglu";
    case ActKind::reglu: return "reglu";
  }
  return "unknown";
}

namespace {

template <class C> struct M;
template <> struct M<float> {
  static LMF_AI float exp(float x) { return vmath::exp(x); }
  static LMF_AI float sigmoid(float x) { return vmath::sigmoid(x); }
  static LMF_AI float erf(float x) { return vmath::erf(x); }
};
template <> struct M<double> {
  static double exp(double x) { return std::exp(x); }
  static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
  static double erf(double x) { return std::erf(x); }
};

// f(x) and f'(x) for the plain kinds and glu's sigmoid: math.h's formulas (shared with the CUDA twin)
// with this file's vectorisable exp/sigmoid/erf.
template <ActKind K, class C>
LMF_AI void act_fd(C x, C& f, C& d) { math::act_fd<K, C, M<C>>(x, f, d); }
template <ActKind K, class C>
LMF_AI C act_f(C x) { return math::act_f<K, C, M<C>>(x); }

// Plain kinds: n contiguous elements. Gated kinds: rows of [2h] -> [h].
template <ActKind K, class T>
LMF_AI void fwd_impl(T* __restrict y, const T* __restrict x, int64_t rows, int64_t n) {
  using C = acc_t<T>;
  if constexpr (!act_is_gated(K)) {
    for (int64_t i = 0; i < rows * n; ++i) st(y, i, act_f<K, C>(ld(x, i)));
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      const T* a = x + r * 2 * n;
      const T* b = a + n;
      T* yr = y + r * n;
      for (int64_t j = 0; j < n; ++j) st(yr, j, act_f<K, C>(ld(a, j)) * ld(b, j));
    }
  }
}

template <ActKind K, class T>
LMF_AI void bwd_impl(T* __restrict dx, const T* __restrict dy, const T* __restrict x, int64_t rows, int64_t n) {
  using C = acc_t<T>;
  if constexpr (!act_is_gated(K)) {
    for (int64_t i = 0; i < rows * n; ++i) {
      C f, d;
      act_fd<K, C>(ld(x, i), f, d);
      st(dx, i, ld(dy, i) * d);
    }
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      const T* a = x + r * 2 * n;
      const T* b = a + n;
      const T* g = dy + r * n;
      T* da = dx + r * 2 * n;
      T* db = da + n;
      for (int64_t j = 0; j < n; ++j) {
        C f, d;
        act_fd<K, C>(ld(a, j), f, d);
        const C gj = ld(g, j);
        st(da, j, gj * ld(b, j) * d);
        st(db, j, gj * f);
      }
    }
  }
}

template <ActKind K, class T> LMF_FLAT void fwd_portable(T* y, const T* x, int64_t rows, int64_t n) { fwd_impl<K, T>(y, x, rows, n); }
template <ActKind K, class T> LMF_FLAT void bwd_portable(T* dx, const T* dy, const T* x, int64_t rows, int64_t n) { bwd_impl<K, T>(dx, dy, x, rows, n); }
template <ActKind K, class T> LMF_T512 void fwd_512(T* y, const T* x, int64_t rows, int64_t n) { fwd_impl<K, T>(y, x, rows, n); }
template <ActKind K, class T> LMF_T512 void bwd_512(T* dx, const T* dy, const T* x, int64_t rows, int64_t n) { bwd_impl<K, T>(dx, dy, x, rows, n); }
template <ActKind K, class T> LMF_T256 void fwd_256(T* y, const T* x, int64_t rows, int64_t n) { fwd_impl<K, T>(y, x, rows, n); }
template <ActKind K, class T> LMF_T256 void bwd_256(T* dx, const T* dy, const T* x, int64_t rows, int64_t n) { bwd_impl<K, T>(dx, dy, x, rows, n); }

template <class T> using FwdFn = void (*)(T*, const T*, int64_t, int64_t);
template <class T> using BwdFn = void (*)(T*, const T*, const T*, int64_t, int64_t);

#if LMF_X86_TIERS
// Exact GELU and GeGLU on the AVX-512 tier, written with simd.h's vector Phi and exp: compiled from the
// generic loop, vmath::erf became a divide plus about 45 instructions per 16 lanes and the kernel ran
// compute-bound (0.5 ns per element on one core against ~0.3 for the memory traffic); this is about 30.
// Phi(x) and exp(-x^2 / 2) come from one vnormal_cdf call, so the backward's x phi(x) costs one multiply.
template <class T>
LMF_TARGET_AVX512 LMF_AI __m512 vload(const T* p, __mmask16 m) {
  if constexpr (std::is_same_v<T, float>) return _mm512_maskz_loadu_ps(m, p);
  else return simd::bf16x16_load(p, m);
}
template <class T>
LMF_TARGET_AVX512 LMF_AI void vstore(T* p, __m512 v, __mmask16 m) {
  if constexpr (std::is_same_v<T, float>) _mm512_mask_storeu_ps(p, m, v);
  else simd::bf16x16_store(p, v, m);
}
LMF_AI __mmask16 tail_mask(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

// GELU value f and derivative d of 16 lanes.
LMF_TARGET_AVX512 LMF_AI void gelu_fd16(__m512 x, __m512& f, __m512& d) {
  __m512 e;
  const __m512 cdf = simd::vnormal_cdf(x, e);
  f = _mm512_mul_ps(x, cdf);
  d = _mm512_fmadd_ps(_mm512_mul_ps(x, e), _mm512_set1_ps(0.3989422804014327f), cdf);
}

template <ActKind K, class T>
LMF_TARGET_AVX512 void gelu_fwd_512(T* y, const T* x, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* a = x + r * (act_is_gated(K) ? 2 * n : n);
    T* yr = y + r * n;
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = tail_mask(n - j);
      const __m512 v = vload(a + j, m);
      __m512 e;
      __m512 f = _mm512_mul_ps(v, simd::vnormal_cdf(v, e));
      if constexpr (act_is_gated(K)) f = _mm512_mul_ps(f, vload(a + n + j, m));
      vstore(yr + j, f, m);
    }
  }
}

template <ActKind K, class T>
LMF_TARGET_AVX512 void gelu_bwd_512(T* dx, const T* dy, const T* x, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t w = act_is_gated(K) ? 2 * n : n;
    const T* a = x + r * w;
    const T* g = dy + r * n;
    T* da = dx + r * w;
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = tail_mask(n - j);
      __m512 f, d;
      gelu_fd16(vload(a + j, m), f, d);
      const __m512 gj = vload(g + j, m);
      if constexpr (act_is_gated(K)) {
        vstore(da + j, _mm512_mul_ps(_mm512_mul_ps(gj, vload(a + n + j, m)), d), m);
        vstore(da + n + j, _mm512_mul_ps(gj, f), m);
      } else {
        vstore(da + j, _mm512_mul_ps(gj, d), m);
      }
    }
  }
}
#endif

template <ActKind K, class T>
void pick(FwdFn<T>& f, BwdFn<T>& b) {
  if constexpr (std::is_same_v<T, double>) {  // libm calls do not vectorise: one build is enough
    f = fwd_portable<K, T>;
    b = bwd_portable<K, T>;
  } else {
    FwdFn<T> f512 = fwd_512<K, T>;
    BwdFn<T> b512 = bwd_512<K, T>;
#if LMF_X86_TIERS
    if constexpr (K == ActKind::gelu_erf || K == ActKind::geglu) {
      f512 = gelu_fwd_512<K, T>;
      b512 = gelu_bwd_512<K, T>;
    }
#endif
    f = pick_tier<FwdFn<T>>(f512, fwd_256<K, T>, fwd_portable<K, T>);
    b = pick_tier<BwdFn<T>>(b512, bwd_256<K, T>, bwd_portable<K, T>);
  }
}

template <class T>
void pick_kind(ActKind k, FwdFn<T>& f, BwdFn<T>& b) {
  switch (k) {
    case ActKind::relu: pick<ActKind::relu, T>(f, b); return;
    case ActKind::gelu_tanh: pick<ActKind::gelu_tanh, T>(f, b); return;
    case ActKind::gelu_erf: pick<ActKind::gelu_erf, T>(f, b); return;
    case ActKind::silu: pick<ActKind::silu, T>(f, b); return;
    case ActKind::glu: pick<ActKind::glu, T>(f, b); return;
    case ActKind::geglu: pick<ActKind::geglu, T>(f, b); return;
    case ActKind::swiglu: pick<ActKind::swiglu, T>(f, b); return;
    case ActKind::reglu: pick<ActKind::reglu, T>(f, b); return;
  }
}

// Calls g(Storage*) with the raw storage type of a float dtype this family supports.
template <class G>
void dispatch_act(DType t, const char* op, G&& g) {
  switch (t) {
    case DType::f32: g(static_cast<float*>(nullptr)); return;
    case DType::bf16: g(static_cast<uint16_t*>(nullptr)); return;
    case DType::f64: g(static_cast<double*>(nullptr)); return;
    default: LMF_THROW(dtype, op, "expected float32, bfloat16 or float64, got " << dtype_name(t));
  }
}

constexpr int64_t kGrain = 8192;  // elements per task, so small tensors stay on one thread

}  // namespace

void activation_forward_cpu(void* y, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n) {
  dispatch_act(dtype, act_name(kind), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    FwdFn<T> f;
    BwdFn<T> b;
    pick_kind<T>(kind, f, b);
    T* Y = static_cast<T*>(y);
    const T* X = static_cast<const T*>(x);
    if (!act_is_gated(kind)) {
      const int64_t total = rows * n;
      parallel_for(total, kGrain, [&](int64_t i0, int64_t i1, int) { f(Y + i0, X + i0, 1, i1 - i0); });
    } else {
      const int64_t grain = n >= kGrain ? 1 : kGrain / (n > 0 ? n : 1);
      parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) { f(Y + r0 * n, X + r0 * 2 * n, r1 - r0, n); });
    }
  });
}

void activation_backward_cpu(void* dx, const void* dy, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n) {
  dispatch_act(dtype, act_name(kind), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    FwdFn<T> f;
    BwdFn<T> b;
    pick_kind<T>(kind, f, b);
    T* DX = static_cast<T*>(dx);
    const T* DY = static_cast<const T*>(dy);
    const T* X = static_cast<const T*>(x);
    if (!act_is_gated(kind)) {
      const int64_t total = rows * n;
      parallel_for(total, kGrain, [&](int64_t i0, int64_t i1, int) { b(DX + i0, DY + i0, X + i0, 1, i1 - i0); });
    } else {
      const int64_t grain = n >= kGrain ? 1 : kGrain / (n > 0 ? n : 1);
      parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) { b(DX + r0 * 2 * n, DY + r0 * n, X + r0 * 2 * n, r1 - r0, n); });
    }
  });
}

}  // namespace lmf::kernels
