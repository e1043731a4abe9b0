// CPU twin of norm.h: one row per iteration, the row kept in L1 between its passes; the per-row loops are
// compiled for AVX-512, AVX2+FMA and the portable baseline and picked at run time (simd.h).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "../runtime/thread_pool.h"
#include "dtype_io.h"
#include "norm.h"
#include "simd.h"


namespace lmf::kernels {
namespace {


constexpr int W = 16;  // lanes of the partial sums

template <class C>
LMF_AI C lanes_total(const C (&acc)[W]) {
  C s = 0;
  for (int l = 0; l < W; ++l) s += acc[l];
  return s;
}

template <class T, bool RMS, bool RES, bool BIAS>
LMF_AI void fwd_rows_impl(T* __restrict y, T* __restrict sum, acc_t<T>* __restrict mean, acc_t<T>* __restrict rstd,
                          const T* __restrict x, const T* __restrict r, const T* __restrict w, const T* __restrict b,
                          int64_t r0, int64_t r1, int64_t D, acc_t<T> eps) {
  using C = acc_t<T>;
  const int64_t Dv = D / W * W;
  for (int64_t row = r0; row < r1; ++row) {
    const T* s = x + row * D;
    if constexpr (RES) {
      T* so = sum + row * D;
      const T* rr = r + row * D;
      for (int64_t i = 0; i < D; ++i) st(so, i, ld(s, i) + ld(rr, i));
      s = so;
    }
    C m = 0, q = 0;
    if constexpr (std::is_same_v<C, float>) {  // whole-vector partial sums (see vmath::v16f)
      if constexpr (!RMS) {
        vmath::v16f acc = vmath::v16f{};
        for (int64_t i = 0; i < Dv; i += W) acc += vmath::load16(s + i);
        C t = vmath::hsum16(acc);
        for (int64_t i = Dv; i < D; ++i) t += ld(s, i);
        m = t / C(D);
      }
      vmath::v16f acc = vmath::v16f{};
      for (int64_t i = 0; i < Dv; i += W) {
        const vmath::v16f c = vmath::load16(s + i) - m;
        acc += c * c;
      }
      q = vmath::hsum16(acc);
    } else {
      C acc[W] = {};
      if constexpr (!RMS) {
        for (int64_t i = 0; i < Dv; i += W)
          for (int l = 0; l < W; ++l) acc[l] += ld(s, i + l);
        C t = lanes_total(acc);
        for (int64_t i = Dv; i < D; ++i) t += ld(s, i);
        m = t / C(D);
        for (int l = 0; l < W; ++l) acc[l] = 0;
      }
      for (int64_t i = 0; i < Dv; i += W)
        for (int l = 0; l < W; ++l) {
          const C c = ld(s, i + l) - m;
          acc[l] += c * c;
        }
      q = lanes_total(acc);
    }
    for (int64_t i = Dv; i < D; ++i) {
      const C c = ld(s, i) - m;
      q += c * c;
    }
    const C rs = C(1) / std::sqrt(q / C(D) + eps);
    if constexpr (!RMS) mean[row] = m;
    rstd[row] = rs;
    T* yr = y + row * D;
    for (int64_t i = 0; i < D; ++i) {
      C v = (ld(s, i) - m) * rs * ld(w, i);
      if constexpr (BIAS) v += ld(b, i);
      st(yr, i, v);
    }
  }
}

// One chunk of rows: dx for each row, and this chunk's dw/db partial sums (pw, pb, zeroed by the caller).
template <class T, bool RMS, bool DSUM>
LMF_AI void bwd_rows_impl(T* __restrict dx, acc_t<T>* __restrict pw, acc_t<T>* __restrict pb, const T* __restrict dy,
                          const T* __restrict dsum, const T* __restrict s, const T* __restrict w,
                          const acc_t<T>* __restrict mean, const acc_t<T>* __restrict rstd, int64_t r0, int64_t r1,
                          int64_t D) {
  using C = acc_t<T>;
  const int64_t Dv = D / W * W;
  for (int64_t row = r0; row < r1; ++row) {
    const T* sr = s + row * D;
    const T* g = dy + row * D;
    const C m = RMS ? C(0) : mean[row], rs = rstd[row];
    C c1, c2;
    if constexpr (std::is_same_v<C, float>) {
      vmath::v16f a1 = vmath::v16f{}, a2 = vmath::v16f{};
      for (int64_t i = 0; i < Dv; i += W) {
        const vmath::v16f xh = (vmath::load16(sr + i) - m) * rs;
        const vmath::v16f gy = vmath::load16(g + i);
        const vmath::v16f gw = gy * vmath::load16(w + i);
        a1 += gw * xh;
        a2 += gw;
        vmath::store16(pw + i, vmath::load16(pw + i) + gy * xh);
        vmath::store16(pb + i, vmath::load16(pb + i) + gy);
      }
      c1 = vmath::hsum16(a1), c2 = vmath::hsum16(a2);
    } else {
      C a1[W] = {}, a2[W] = {};
      for (int64_t i = 0; i < Dv; i += W)
        for (int l = 0; l < W; ++l) {
          const C xh = (ld(sr, i + l) - m) * rs;
          const C gy = ld(g, i + l);
          const C gw = gy * ld(w, i + l);
          a1[l] += gw * xh;
          a2[l] += gw;
          pw[i + l] += gy * xh;
          pb[i + l] += gy;
        }
      c1 = lanes_total(a1), c2 = lanes_total(a2);
    }
    for (int64_t i = Dv; i < D; ++i) {
      const C xh = (ld(sr, i) - m) * rs;
      const C gy = ld(g, i);
      const C gw = gy * ld(w, i);
      c1 += gw * xh;
      c2 += gw;
      pw[i] += gy * xh;
      pb[i] += gy;
    }
    c1 /= C(D);
    c2 = RMS ? C(0) : c2 / C(D);
    T* d = dx + row * D;
    for (int64_t i = 0; i < D; ++i) {
      const C xh = (ld(sr, i) - m) * rs;
      C v = rs * (ld(g, i) * ld(w, i) - c2 - xh * c1);
      if constexpr (DSUM) v += ld(dsum, i + row * D);
      st(d, i, v);
    }
  }
}

#define LMF_FWD_ARGS T *y, T *sum, acc_t<T> *mean, acc_t<T> *rstd, const T *x, const T *r, const T *w, const T *b, int64_t r0, int64_t r1, int64_t D, acc_t<T> eps
#define LMF_FWD_PASS y, sum, mean, rstd, x, r, w, b, r0, r1, D, eps
#define LMF_BWD_ARGS T *dx, acc_t<T> *pw, acc_t<T> *pb, const T *dy, const T *dsum, const T *s, const T *w, const acc_t<T> *mean, const acc_t<T> *rstd, int64_t r0, int64_t r1, int64_t D
#define LMF_BWD_PASS dx, pw, pb, dy, dsum, s, w, mean, rstd, r0, r1, D

template <class T, bool RMS, bool RES, bool BIAS> LMF_FLAT void fwd_portable(LMF_FWD_ARGS) { fwd_rows_impl<T, RMS, RES, BIAS>(LMF_FWD_PASS); }
template <class T, bool RMS, bool DSUM> LMF_FLAT void bwd_portable(LMF_BWD_ARGS) { bwd_rows_impl<T, RMS, DSUM>(LMF_BWD_PASS); }
template <class T, bool RMS, bool RES, bool BIAS> LMF_T512 void fwd_512(LMF_FWD_ARGS) { fwd_rows_impl<T, RMS, RES, BIAS>(LMF_FWD_PASS); }
template <class T, bool RMS, bool DSUM> LMF_T512 void bwd_512(LMF_BWD_ARGS) { bwd_rows_impl<T, RMS, DSUM>(LMF_BWD_PASS); }
template <class T, bool RMS, bool RES, bool BIAS> LMF_T256 void fwd_256(LMF_FWD_ARGS) { fwd_rows_impl<T, RMS, RES, BIAS>(LMF_FWD_PASS); }
template <class T, bool RMS, bool DSUM> LMF_T256 void bwd_256(LMF_BWD_ARGS) { bwd_rows_impl<T, RMS, DSUM>(LMF_BWD_PASS); }

template <class T> using FwdFn = void (*)(LMF_FWD_ARGS);
template <class T> using BwdFn = void (*)(LMF_BWD_ARGS);

// float64 runs the portable build alone: its libm calls do not vectorise.
template <class T, bool RMS, bool RES, bool BIAS>
FwdFn<T> pick_fwd3() {
  if constexpr (std::is_same_v<T, double>) return fwd_portable<T, RMS, RES, BIAS>;
  else
    return pick_tier<FwdFn<T>>(fwd_512<T, RMS, RES, BIAS>, fwd_256<T, RMS, RES, BIAS>, fwd_portable<T, RMS, RES, BIAS>);
}
template <class T>
FwdFn<T> pick_fwd(bool rms, bool res, bool bias) {
  if (rms) return res ? pick_fwd3<T, true, true, false>() : pick_fwd3<T, true, false, false>();
  if (res) return bias ? pick_fwd3<T, false, true, true>() : pick_fwd3<T, false, true, false>();
  return bias ? pick_fwd3<T, false, false, true>() : pick_fwd3<T, false, false, false>();
}
template <class T, bool RMS, bool DSUM>
BwdFn<T> pick_bwd2() {
  if constexpr (std::is_same_v<T, double>) return bwd_portable<T, RMS, DSUM>;
  else return pick_tier<BwdFn<T>>(bwd_512<T, RMS, DSUM>, bwd_256<T, RMS, DSUM>, bwd_portable<T, RMS, DSUM>);
}
template <class T>
BwdFn<T> pick_bwd(bool rms, bool dsum) {
  if (rms) return dsum ? pick_bwd2<T, true, true>() : pick_bwd2<T, true, false>();
  return dsum ? pick_bwd2<T, false, true>() : pick_bwd2<T, false, false>();
}

template <class G>
void dispatch_norm(DType t, const char* op, G&& g) {
  switch (t) {
    case DType::f32: g(static_cast<float*>(nullptr)); return;
    case DType::bf16: g(static_cast<uint16_t*>(nullptr)); return;
    case DType::f64: g(static_cast<double*>(nullptr)); return;
    default: LMF_THROW(dtype, op, "expected float32, bfloat16 or float64, got " << dtype_name(t));
  }
}

int64_t rows_grain(int64_t D) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)); }

}  // namespace

void norm_forward_cpu(void* y, void* sum, void* mean, void* rstd, const void* x, const void* r, const void* w,
                      const void* b, DType dtype, const NormParams& p) {
  const char* op = p.rms ? "rmsNorm" : "layerNorm";
  dispatch_norm(dtype, op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using C = acc_t<T>;
    const FwdFn<T> f = pick_fwd<T>(p.rms, r != nullptr, !p.rms && b != nullptr);
    parallel_for(p.rows, rows_grain(p.D), [&](int64_t r0, int64_t r1, int) {
      f(static_cast<T*>(y), static_cast<T*>(sum), static_cast<C*>(mean), static_cast<C*>(rstd), static_cast<const T*>(x),
        static_cast<const T*>(r), static_cast<const T*>(w), static_cast<const T*>(b), r0, r1, p.D, static_cast<C>(p.eps));
    });
  });
}

void norm_backward_cpu(void* dx, void* dw, void* db, const void* dy, const void* dsum, const void* s, const void* w,
                       const void* mean, const void* rstd, DType dtype, const NormParams& p) {
  const char* op = p.rms ? "rmsNorm backward" : "layerNorm backward";
  dispatch_norm(dtype, op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using C = acc_t<T>;
    const BwdFn<T> f = pick_bwd<T>(p.rms, dsum != nullptr);
    const int64_t D = p.D;
    // A fixed chunking of the rows (a function of rows only), so dw/db do not depend on the thread count.
    const int64_t nchunks = std::max<int64_t>(1, std::min<int64_t>(64, p.rows / 8));
    const int64_t per = (p.rows + nchunks - 1) / nchunks;
    std::vector<C> pw(static_cast<size_t>(nchunks * D), C(0)), pb(static_cast<size_t>(nchunks * D), C(0));
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(per * D, 1));
    parallel_for(nchunks, grain, [&](int64_t c0, int64_t c1, int) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t r0 = c * per, r1 = std::min(p.rows, r0 + per);
        if (r0 >= r1) continue;
        f(static_cast<T*>(dx), pw.data() + c * D, pb.data() + c * D, static_cast<const T*>(dy), static_cast<const T*>(dsum),
          static_cast<const T*>(s), static_cast<const T*>(w), static_cast<const C*>(mean), static_cast<const C*>(rstd), r0, r1, D);
      }
    });
    T* DW = static_cast<T*>(dw);
    T* DB = static_cast<T*>(db);
    // Chunk by chunk over contiguous rows of the partials (the loop vectorises; the column-wise loop it
    // replaces was scalar and strided, ~30% of the call at 256 x 384); each dw[i] still sums its chunks in
    // chunk order, so the result is the same to the bit.
    std::vector<double> sw(static_cast<size_t>(D), 0.0), sb(static_cast<size_t>(D), 0.0);
    for (int64_t c = 0; c < nchunks; ++c) {
      const C* a = pw.data() + c * D;
      const C* bb = pb.data() + c * D;
      for (int64_t i = 0; i < D; ++i) {
        sw[i] += a[i];
        sb[i] += bb[i];
      }
    }
    for (int64_t i = 0; i < D; ++i) {
      st(DW, i, static_cast<C>(sw[i]));
      if (DB) st(DB, i, static_cast<C>(sb[i]));
    }
  });
}

}  // namespace lmf::kernels
