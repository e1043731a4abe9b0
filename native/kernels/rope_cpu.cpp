// CPU twin of rope.h: a cached cos/sin table, then one pass over the rows, compiled per SIMD tier.
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "../core/error.h"
#include "../runtime/thread_pool.h"
#include "dtype_io.h"
#include "rope.h"
#include "simd.h"


namespace lmf::kernels {
namespace {



struct Table {
  int64_t T, offset, d;
  double base;
  bool dbl;
  std::vector<float> cf, sf;   // [T, d/2] when !dbl
  std::vector<double> cd, sd;  // when dbl
};

std::shared_ptr<const Table> get_table(int64_t T, int64_t offset, int64_t d, double base, bool dbl) {
  static std::mutex mu;
  static std::vector<std::shared_ptr<const Table>> cache;  // most recent last
  {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t k = 0; k < cache.size(); ++k) {
      const auto& t = cache[k];
      if (t->T == T && t->offset == offset && t->d == d && t->base == base && t->dbl == dbl) return t;
    }
  }
  auto t = std::make_shared<Table>();
  t->T = T, t->offset = offset, t->d = d, t->base = base, t->dbl = dbl;
  const int64_t half = d / 2;
  std::vector<double> theta(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) theta[i] = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(d));
  const size_t n = static_cast<size_t>(T * half);
  if (dbl) t->cd.resize(n), t->sd.resize(n); else t->cf.resize(n), t->sf.resize(n);
  parallel_for(T, std::max<int64_t>(1, 2048 / std::max<int64_t>(half, 1)), [&](int64_t t0, int64_t t1, int) {
    for (int64_t tt = t0; tt < t1; ++tt)
      for (int64_t i = 0; i < half; ++i) {
        const double a = static_cast<double>(offset + tt) * theta[i];
        const double c = std::cos(a), s = std::sin(a);
        if (dbl) t->cd[tt * half + i] = c, t->sd[tt * half + i] = s;
        else t->cf[tt * half + i] = static_cast<float>(c), t->sf[tt * half + i] = static_cast<float>(s);
      }
  });
  std::lock_guard<std::mutex> lock(mu);
  cache.push_back(t);
  if (cache.size() > 8) cache.erase(cache.begin());
  return t;
}

// The [B, H, T] rows of x and y (element strides), visited in x's memory order: (b, h, t) with t fastest, or
// (b, t, h) with h fastest when x is token-major (q and k read in place from a fused projection, where one
// token's heads are adjacent and its next row is a whole token further on).
struct RowMap {
  int64_t H, T, xb, xh, xt, yb, yh, yt;
  bool token_major() const { return xt > xh; }
};

// Rows [r0, r1) of the visiting order over the [B*H*T, D] rows; sgn = -1 rotates by -angle. The row's
// (b, h, t) is stepped from one row to the next: decoding it from r took four integer divisions per 64-value
// row, more than the rotation itself.
template <class T, bool INTERLEAVED>
LMF_AI void rope_rows_impl(T* y, const T* x, const acc_t<T>* __restrict cs, const acc_t<T>* __restrict sn,
                           int64_t r0, int64_t r1, const RowMap& m, int64_t D, int64_t d, acc_t<T> sgn) {
  using C = acc_t<T>;
  const int64_t half = d / 2;
  const bool tok = m.token_major();
  const int64_t n_in = tok ? m.H : m.T, n_mid = tok ? m.T : m.H;  // the fastest and the middle index
  int64_t bi = r0 / (m.H * m.T), mid = r0 / n_in % n_mid, in = r0 % n_in;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t h = tok ? in : mid, t = tok ? mid : in;
    const C* c = cs + t * half;
    const C* s = sn + t * half;
    const T* xr = x + bi * m.xb + h * m.xh + t * m.xt;
    T* yr = y + bi * m.yb + h * m.yh + t * m.yt;
    if (++in == n_in) {
      in = 0;
      if (++mid == n_mid) mid = 0, ++bi;
    }
    if constexpr (INTERLEAVED) {
      for (int64_t i = 0; i < half; ++i) {
        const C a = ld(xr, 2 * i), b = ld(xr, 2 * i + 1), si = sgn * s[i];
        st(yr, 2 * i, a * c[i] - b * si);
        st(yr, 2 * i + 1, a * si + b * c[i]);
      }
    } else {
      for (int64_t i = 0; i < half; ++i) {
        const C a = ld(xr, i), b = ld(xr, i + half), si = sgn * s[i];
        st(yr, i, a * c[i] - b * si);
        st(yr, i + half, a * si + b * c[i]);
      }
    }
    if (yr != xr)
      for (int64_t i = d; i < D; ++i) yr[i] = xr[i];
  }
}

#define LMF_ROPE_ARGS T *y, const T *x, const acc_t<T> *cs, const acc_t<T> *sn, int64_t r0, int64_t r1, const RowMap &m, int64_t D, int64_t d, acc_t<T> sgn
#define LMF_ROPE_PASS y, x, cs, sn, r0, r1, m, D, d, sgn
template <class T, bool I> LMF_FLAT void rope_portable(LMF_ROPE_ARGS) { rope_rows_impl<T, I>(LMF_ROPE_PASS); }
template <class T, bool I> LMF_T512 void rope_512(LMF_ROPE_ARGS) { rope_rows_impl<T, I>(LMF_ROPE_PASS); }
template <class T, bool I> LMF_T256 void rope_256(LMF_ROPE_ARGS) { rope_rows_impl<T, I>(LMF_ROPE_PASS); }
template <class T> using RopeFn = void (*)(LMF_ROPE_ARGS);

// float64 runs the portable build alone.
template <class T, bool I>
RopeFn<T> pick2() {
  if constexpr (std::is_same_v<T, double>) return rope_portable<T, I>;
  else return pick_tier<RopeFn<T>>(rope_512<T, I>, rope_256<T, I>, rope_portable<T, I>);
}

}  // namespace

void rope_cpu(void* y, const void* x, DType dtype, const RopeParams& p, bool inverse) {
  auto run = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using C = acc_t<T>;
    constexpr bool dbl = std::is_same_v<T, double>;
    const auto tab = get_table(p.T, p.offset, p.rotary_dims, p.base, dbl);
    const C* cs;
    const C* sn;
    if constexpr (dbl) cs = tab->cd.data(), sn = tab->sd.data();
    else cs = tab->cf.data(), sn = tab->sf.data();
    const RopeFn<T> f = p.interleaved ? pick2<T, true>() : pick2<T, false>();
    const int64_t rows = p.B * p.H * p.T;
    const C sgn = inverse ? C(-1) : C(1);
    const RowMap m = !p.strided ? RowMap{p.H, p.T, p.H * p.T * p.D, p.T * p.D, p.D, p.H * p.T * p.D, p.T * p.D, p.D}
                           : RowMap{p.H, p.T, p.xb, p.xh, p.xt, p.yb, p.yh, p.yt};
    parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.D, 1)), [&](int64_t r0, int64_t r1, int) {
      f(static_cast<T*>(y), static_cast<const T*>(x), cs, sn, r0, r1, m, p.D, p.rotary_dims, sgn);
    });
  };
  switch (dtype) {
    case DType::f32: run(static_cast<float*>(nullptr)); return;
    case DType::bf16: run(static_cast<uint16_t*>(nullptr)); return;
    case DType::f64: run(static_cast<double*>(nullptr)); return;
    default: LMF_THROW(dtype, "rope", "expected float32, bfloat16 or float64, got " << dtype_name(dtype));
  }
}

}  // namespace lmf::kernels
