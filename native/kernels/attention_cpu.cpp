// CPU attention: the tiled fp32/bf16 kernels (attention_tiles.inc) compiled once per tier (AVX-512,
// AVX2+FMA, portable scalar) and picked at run time with simd.h's pick_tier; plus a plain double-precision
// path for float64 (gradcheck), which keeps only O(D) per row and no Tq x Tk buffer either.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "../runtime/thread_pool.h"
#include "attention.h"
#include "dtype_io.h"
#include "simd.h"

namespace lmf::kernels {

// The tiles are whole #pragma regions per tier (their thread-pool lambdas must see the target too).
#if LMF_TIER_REGIONS
namespace attn_avx512 {
LMF_BEGIN_AVX512
constexpr int W = 16, RMAX = 6, NVMAX = 4;
constexpr const char* kName = "avx512";
using vf = __m512;
inline vf vzero() { return _mm512_setzero_ps(); }
inline vf vset1(float x) { return _mm512_set1_ps(x); }
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vf x) { _mm512_storeu_ps(p, x); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
using simd::vexp2;
#include "attention_tiles.inc"
LMF_END_TARGET
}  // namespace attn_avx512

namespace attn_avx2 {
LMF_BEGIN_AVX2
constexpr int W = 8, RMAX = 6, NVMAX = 2;
constexpr const char* kName = "avx2";
using vf = __m256;
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vset1(float x) { return _mm256_set1_ps(x); }
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vf x) { _mm256_storeu_ps(p, x); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
using simd::vexp2;
#include "attention_tiles.inc"
LMF_END_TARGET
}  // namespace attn_avx2
#endif

// Portable: one float per "vector" (the compiler may still vectorise what it can).
namespace attn_scalar {
constexpr int W = 1, RMAX = 4, NVMAX = 4;
constexpr const char* kName = "scalar";
using vf = float;
inline vf vzero() { return 0.0f; }
inline vf vset1(float x) { return x; }
inline vf vload(const float* p) { return *p; }
inline void vstore(float* p, vf x) { *p = x; }
inline vf vadd(vf a, vf b) { return a + b; }
inline vf vsub(vf a, vf b) { return a - b; }
inline vf vmul(vf a, vf b) { return a * b; }
inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
inline vf vmax(vf a, vf b) { return a > b ? a : (a != a ? a : b); }
inline vf vexp2(vf x) { return std::exp2(x); }
#include "attention_tiles.inc"
}  // namespace attn_scalar

#if !LMF_TIER_REGIONS
// Without tier regions (other architectures, clang) every tier runs the portable tiles.
namespace attn_avx512 = attn_scalar;
namespace attn_avx2 = attn_scalar;
#endif

namespace {

// ---- float64: a plain path in double, one query row (or one key row) at a time. ----

struct F64 {
  const AttentionParams& p;
  int64_t G, off;
  explicit F64(const AttentionParams& pp) : p(pp), G(pp.H / pp.Hkv), off(pp.Tk - pp.Tq) {}
  // Keys [0, kend) that query i (absolute position pos) may see, and whether key j is visible.
  int64_t kend(int64_t pos) const { return p.causal ? pos + 1 : p.Tk; }
  bool visible(int64_t b, int64_t pos, int64_t j) const {
    return !p.doc_ids || p.doc_ids[b * p.Tk + j] == p.doc_ids[b * p.Tk + pos];
  }
  double score(const double* qi, const double* kj, int64_t h, int64_t pos, int64_t j) const {
    double s = 0.0;
    for (int64_t x = 0; x < p.D; ++x) s += qi[x] * kj[x];
    s *= p.scale;
    if (p.slopes) s -= p.slopes[h] * static_cast<double>(pos - j);
    return s;
  }
};

void forward_f64(double* out, double* lse, const double* q, const double* k, const double* v, const AttentionParams& p) {
  const F64 f(p);
  const int64_t D = p.D;
  parallel_for(p.B * p.H * p.Tq, 16, [&](int64_t r0, int64_t r1, int) {
    std::vector<double> o(D);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bh = r / p.Tq, i = r % p.Tq, b = bh / p.H, h = bh % p.H, pos = f.off + i;
      const int64_t kvb = (b * p.Hkv + h / f.G) * p.Tk;
      const double* qi = q + r * D;
      double m = -std::numeric_limits<double>::infinity(), l = 0.0;
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = 0; j < f.kend(pos); ++j) {
        if (!f.visible(b, pos, j)) continue;
        const double s = f.score(qi, k + (kvb + j) * D, h, pos, j);
        if (s > m) {
          const double a = std::exp(m - s);
          l *= a;
          for (int64_t x = 0; x < D; ++x) o[x] *= a;
          m = s;
        }
        const double e = std::exp(s - m);
        l += e;
        const double* vj = v + (kvb + j) * D;
        for (int64_t x = 0; x < D; ++x) o[x] += e * vj[x];
      }
      for (int64_t x = 0; x < D; ++x) out[r * D + x] = l > 0.0 ? o[x] / l : 0.0;
      lse[r] = l > 0.0 ? m + std::log(l) : std::numeric_limits<double>::infinity();
    }
  });
}

void backward_f64(double* dq, double* dk, double* dv, const double* dout, const double* q, const double* k, const double* v,
                  const double* out, const double* lse, const AttentionParams& p) {
  const F64 f(p);
  const int64_t D = p.D, rows = p.B * p.H * p.Tq;
  std::vector<double> Di(static_cast<size_t>(rows));
  auto dot = [D](const double* a, const double* b) {
    double s = 0.0;
    for (int64_t x = 0; x < D; ++x) s += a[x] * b[x];
    return s;
  };
  for (int64_t r = 0; r < rows; ++r) Di[r] = dot(dout + r * D, out + r * D);
  // dq, one query row per item.
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bh = r / p.Tq, i = r % p.Tq, b = bh / p.H, h = bh % p.H, pos = f.off + i;
      const int64_t kvb = (b * p.Hkv + h / f.G) * p.Tk;
      double* g = dq + r * D;
      std::fill(g, g + D, 0.0);
      for (int64_t j = 0; j < f.kend(pos); ++j) {
        if (!f.visible(b, pos, j)) continue;
        const double pr = std::exp(f.score(q + r * D, k + (kvb + j) * D, h, pos, j) - lse[r]);
        const double ds = pr * (dot(dout + r * D, v + (kvb + j) * D) - Di[r]) * p.scale;
        for (int64_t x = 0; x < D; ++x) g[x] += ds * k[(kvb + j) * D + x];
      }
    }
  });
  // dk and dv, one key row per item, over the query heads of its group.
  parallel_for(p.B * p.Hkv * p.Tk, 16, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bk = r / p.Tk, j = r % p.Tk, b = bk / p.Hkv, hk = bk % p.Hkv;
      double* gk = dk + r * D;
      double* gv = dv + r * D;
      std::fill(gk, gk + D, 0.0);
      std::fill(gv, gv + D, 0.0);
      for (int64_t h = hk * f.G; h < (hk + 1) * f.G; ++h) {
        for (int64_t i = 0; i < p.Tq; ++i) {
          const int64_t pos = f.off + i, qr = (b * p.H + h) * p.Tq + i;
          if ((p.causal && j > pos) || !f.visible(b, pos, j)) continue;
          const double pr = std::exp(f.score(q + qr * D, k + r * D, h, pos, j) - lse[qr]);
          const double ds = pr * (dot(dout + qr * D, v + r * D) - Di[qr]) * p.scale;
          for (int64_t x = 0; x < D; ++x) {
            gv[x] += pr * dout[qr * D + x];
            gk[x] += ds * q[qr * D + x];
          }
        }
      }
    }
  });
}

// p with every stride set: its own when strided, else the contiguous ones.
AttentionParams with_strides(const AttentionParams& p) {
  if (p.strided) return p;
  AttentionParams c = p;
  c.sq = c.so = c.sg = c.sdq = attention_contiguous_strides(p.H, p.Tq, p.D);
  c.sk = c.sv = c.sdk = c.sdv = attention_contiguous_strides(p.Hkv, p.Tk, p.D);
  return c;
}

template <typename T>
void forward_fast(void* out, void* lse, const void* q, const void* k, const void* v, const AttentionParams& p) {
  auto o = static_cast<T*>(out);
  auto l = static_cast<float*>(lse);
  auto qq = static_cast<const T*>(q);
  auto kk = static_cast<const T*>(k);
  auto vv = static_cast<const T*>(v);
  pick_tier(attn_avx512::forward_tiles<T>, attn_avx2::forward_tiles<T>, attn_scalar::forward_tiles<T>)(
      o, l, qq, kk, vv, with_strides(p));
}

template <typename T>
void backward_fast(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                   const void* out, const void* lse, float* ws, const AttentionParams& p) {
  auto a = static_cast<T*>(dq);
  auto b = static_cast<T*>(dk);
  auto c = static_cast<T*>(dv);
  auto g = static_cast<const T*>(dout);
  auto qq = static_cast<const T*>(q);
  auto kk = static_cast<const T*>(k);
  auto vv = static_cast<const T*>(v);
  auto oo = static_cast<const T*>(out);
  auto l = static_cast<const float*>(lse);
  pick_tier(attn_avx512::backward_tiles<T>, attn_avx2::backward_tiles<T>, attn_scalar::backward_tiles<T>)(
      a, b, c, g, qq, kk, vv, oo, l, ws, with_strides(p));
}

}  // namespace

void attention_forward_cpu(void* out, void* lse, const void* q, const void* k, const void* v, const AttentionParams& p) {
  if (p.B * p.H * p.Tq == 0) return;
  switch (p.dtype) {
    case DType::f64:
      return forward_f64(static_cast<double*>(out), static_cast<double*>(lse), static_cast<const double*>(q),
                         static_cast<const double*>(k), static_cast<const double*>(v), p);
    case DType::f32: return forward_fast<float>(out, lse, q, k, v, p);
    case DType::bf16: return forward_fast<bf16_t>(out, lse, q, k, v, p);
    default: LMF_THROW(dtype, "attention", "no kernel for " << dtype_name(p.dtype) << " (use float32, bfloat16 or float64)");
  }
}

int64_t attention_backward_workspace(const AttentionParams& p) {
  if (p.dtype == DType::f64) return 0;
  return pick_tier(attn_avx512::backward_workspace, attn_avx2::backward_workspace, attn_scalar::backward_workspace)(p);
}

void attention_backward_cpu(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                            const void* out, const void* lse, float* workspace, const AttentionParams& p) {
  switch (p.dtype) {
    case DType::f64:
      return backward_f64(static_cast<double*>(dq), static_cast<double*>(dk), static_cast<double*>(dv),
                          static_cast<const double*>(dout), static_cast<const double*>(q), static_cast<const double*>(k),
                          static_cast<const double*>(v), static_cast<const double*>(out), static_cast<const double*>(lse), p);
    case DType::f32: return backward_fast<float>(dq, dk, dv, dout, q, k, v, out, lse, workspace, p);
    case DType::bf16: return backward_fast<bf16_t>(dq, dk, dv, dout, q, k, v, out, lse, workspace, p);
    default: LMF_THROW(dtype, "attention", "no kernel for " << dtype_name(p.dtype) << " (use float32, bfloat16 or float64)");
  }
}

const char* attention_kernel_name() {
  return pick_tier(attn_avx512::kName, attn_avx2::kName, attn_scalar::kName);
}

}  // namespace lmf::kernels
