// Standalone check of the fused layer kernels (activation, norm, rope, cross-entropy with z-loss) against
// float64 loops written from the definitions, on every CPU tier this machine has, for fp32, bf16 and
// float64, on shapes that are multiples of no vector width, with 1 and 2 threads.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../kernels/activation.h"
#include "../kernels/embedding.h"
#include "../kernels/index_fault.h"
#include "../kernels/math.h"
#include "../kernels/norm.h"
#include "../kernels/rope.h"
#include "../kernels/softmax_xent.h"
#include "../runtime/cpu_features.h"
#include "../runtime/thread_pool.h"

using lmf::DType;
using namespace lmf::kernels;

namespace {

int g_passed = 0, g_failed = 0;
std::mt19937_64 g_rng(777);

// A buffer in a dtype plus the exact double values it holds.
struct Buf {
  DType dt;
  std::vector<float> f;
  std::vector<uint16_t> h;
  std::vector<double> d;
  Buf(DType t, size_t n) : dt(t) {
    if (t == DType::f32) f.assign(n, 0); else if (t == DType::bf16) h.assign(n, 0); else d.assign(n, 0);
  }
  size_t size() const { return dt == DType::f32 ? f.size() : dt == DType::bf16 ? h.size() : d.size(); }
  void* data() { return dt == DType::f32 ? (void*)f.data() : dt == DType::bf16 ? (void*)h.data() : (void*)d.data(); }
  double get(size_t i) const { return dt == DType::f32 ? f[i] : dt == DType::bf16 ? lmf::math::bf16_to_f32(h[i]) : d[i]; }
  void set(size_t i, double v) {
    if (dt == DType::f32) f[i] = (float)v; else if (dt == DType::bf16) h[i] = lmf::math::f32_to_bf16((float)v); else d[i] = v;
  }
  void randomize(double scale = 2.0) {
    std::uniform_real_distribution<double> u(-scale, scale);
    for (size_t i = 0; i < size(); ++i) set(i, u(g_rng));
  }
};

const char* dtn(DType t) { return lmf::dtype_name(t); }

// Relative tolerance per dtype of the stored result (fp32: a few ulp of the fast exp; bf16: its rounding).
double tol_of(DType t) { return t == DType::f32 ? 2e-5 : t == DType::bf16 ? 1.6e-2 : 1e-12; }

void check(const std::string& what, const Buf& got, const std::vector<double>& want, double tol, double atol_scale = 1.0) {
  double worst = 0;
  size_t at = 0;
  double amax = 0;
  for (double w : want) amax = std::max(amax, std::fabs(w));
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(got.get(i) - want[i]) / (tol * (std::fabs(want[i]) + 1e-3 * atol_scale * amax) + 1e-300);
    if (!(err <= worst)) worst = err, at = i;
  }
  if (worst <= 1.0) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s: [%zu] got %.9g want %.9g (ratio %.3g)\n", what.c_str(), at, got.get(at), want[at], worst);
  }
}

void expect(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s\n", what.c_str());
  }
}

double ref_act(ActKind k, double x) {
  switch (k) {
    case ActKind::relu: case ActKind::reglu: return x > 0 ? x : 0;
    case ActKind::gelu_tanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case ActKind::gelu_erf: case ActKind::geglu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case ActKind::silu: case ActKind::swiglu: return x / (1 + std::exp(-x));
    case ActKind::glu: return 1 / (1 + std::exp(-x));
  }
  return 0;
}
double ref_dact(ActKind k, double x) {  // central difference in double: an independent derivative
  const double h = 1e-5 * std::max(1.0, std::fabs(x));
  if ((k == ActKind::relu || k == ActKind::reglu)) return x > 0 ? 1 : 0;
  return (ref_act(k, x + h) - ref_act(k, x - h)) / (2 * h);
}

void test_activations(DType dt, const char* tier) {
  const int64_t rows = 3 * 13, n = 40;
  for (int ki = 0; ki < kNumActKinds; ++ki) {
    const ActKind k = static_cast<ActKind>(ki);
    const bool gated = act_is_gated(k);
    const int64_t xin = gated ? 2 * n : n;
    Buf x(dt, rows * xin), y(dt, rows * n), dy(dt, rows * n), dx(dt, rows * xin);
    x.randomize(4.0);
    dy.randomize(1.0);
    activation_forward_cpu(y.data(), x.data(), dt, k, rows, n);
    activation_backward_cpu(dx.data(), dy.data(), x.data(), dt, k, rows, n);
    std::vector<double> wy(rows * n), wdx(rows * xin);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const double a = x.get(r * xin + j), g = dy.get(r * n + j);
        if (!gated) {
          wy[r * n + j] = ref_act(k, a);
          wdx[r * n + j] = g * ref_dact(k, a);
        } else {
          const double b = x.get(r * xin + n + j);
          wy[r * n + j] = ref_act(k, a) * b;
          wdx[r * xin + j] = g * b * ref_dact(k, a);
          wdx[r * xin + n + j] = g * ref_act(k, a);
        }
      }
    const std::string w = std::string(act_name(k)) + " " + dtn(dt) + " " + tier;
    // gelu_erf and geglu: erf to 1.5e-7 absolute (simd.h's vmath), so their tails are judged against the
    // row scale (geglu's error is also multiplied by the gate value).
    const double sc = k == ActKind::gelu_erf ? 10 : k == ActKind::geglu ? 30 : 1;
    check(w + " forward", y, wy, tol_of(dt), sc);
    check(w + " backward", dx, wdx, dt == DType::f64 ? 1e-7 : tol_of(dt) * 5, sc);
  }
}

void test_norm(DType dt, const char* tier, bool rms, bool res, bool bias) {
  const int64_t rows = 3 * 13, D = 40;
  Buf x(dt, rows * D), r(dt, rows * D), w(dt, D), b(dt, D), y(dt, rows * D), sum(dt, rows * D), dy(dt, rows * D), dsum(dt, rows * D);
  Buf dx(dt, rows * D), dw(dt, D), db(dt, D);
  x.randomize(); r.randomize(); w.randomize(); b.randomize(); dy.randomize(); dsum.randomize();
  const bool dbl = dt == DType::f64;
  std::vector<double> md(rows), rd(rows);
  std::vector<float> mf(rows), rf(rows);
  NormParams p;
  p.rows = rows, p.D = D, p.eps = 1e-5, p.rms = rms;
  void* mean = rms ? nullptr : dbl ? (void*)md.data() : (void*)mf.data();
  void* rstd = dbl ? (void*)rd.data() : (void*)rf.data();
  norm_forward_cpu(y.data(), res ? sum.data() : nullptr, mean, rstd, x.data(), res ? r.data() : nullptr, w.data(),
                   bias ? b.data() : nullptr, dt, p);
  norm_backward_cpu(dx.data(), dw.data(), bias ? db.data() : nullptr, dy.data(), res ? dsum.data() : nullptr,
                    res ? sum.data() : x.data(), w.data(), mean, rstd, dt, p);
  std::vector<double> wy(rows * D), wsum(rows * D), wdx(rows * D), wdw(D, 0), wdb(D, 0);
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<double> s(D), xh(D);
    for (int64_t j = 0; j < D; ++j) {
      s[j] = res ? sum.get(i * D + j) : x.get(i * D + j);  // the stored sum, as documented
      wsum[i * D + j] = x.get(i * D + j) + r.get(i * D + j);
    }
    double m = 0, v = 0;
    if (!rms) { for (double e : s) m += e; m /= D; }
    for (double e : s) v += (e - m) * (e - m);
    const double rs = 1 / std::sqrt(v / D + 1e-5);
    double c1 = 0, c2 = 0;
    for (int64_t j = 0; j < D; ++j) {
      xh[j] = (s[j] - m) * rs;
      wy[i * D + j] = xh[j] * w.get(j) + (bias ? b.get(j) : 0);
      const double gw = dy.get(i * D + j) * w.get(j);
      c1 += gw * xh[j];
      c2 += gw;
      wdw[j] += dy.get(i * D + j) * xh[j];
      wdb[j] += dy.get(i * D + j);
    }
    c1 /= D, c2 = rms ? 0 : c2 / D;
    for (int64_t j = 0; j < D; ++j)
      wdx[i * D + j] = rs * (dy.get(i * D + j) * w.get(j) - c2 - xh[j] * c1) + (res ? dsum.get(i * D + j) : 0);
  }
  const std::string what = std::string(rms ? "rmsnorm" : "layernorm") + (res ? "+residual" : "") + (bias ? "+bias" : "") + " " + dtn(dt) + " " + tier;
  check(what + " y", y, wy, tol_of(dt), 10);
  if (res) check(what + " sum", sum, wsum, tol_of(dt));
  check(what + " dx", dx, wdx, tol_of(dt) * 4, 10);
  check(what + " dw", dw, wdw, tol_of(dt) * 4);
  if (bias) check(what + " db", db, wdb, tol_of(dt) * 4);
}

void test_rope(DType dt, const char* tier, bool inter, int64_t rd) {
  RopeParams p;
  p.B = 2, p.H = 3, p.T = 7, p.D = 40, p.rotary_dims = rd, p.offset = 5, p.base = 10000, p.interleaved = inter;
  const int64_t n = p.B * p.H * p.T * p.D;
  Buf x(dt, n), y(dt, n), back(dt, n);
  x.randomize();
  rope_cpu(y.data(), x.data(), dt, p, false);
  rope_cpu(back.data(), y.data(), dt, p, true);
  std::vector<double> wy(n), wx(n);
  for (int64_t row = 0; row < p.B * p.H * p.T; ++row) {
    const int64_t t = row % p.T;
    for (int64_t j = 0; j < p.D; ++j) wy[row * p.D + j] = x.get(row * p.D + j);
    for (int64_t i = 0; i < rd / 2; ++i) {
      const double th = std::pow(10000.0, -2.0 * i / rd), ang = (p.offset + t) * th;
      const int64_t ia = inter ? 2 * i : i, ib = inter ? 2 * i + 1 : i + rd / 2;
      const double a = x.get(row * p.D + ia), b = x.get(row * p.D + ib);
      wy[row * p.D + ia] = a * std::cos(ang) - b * std::sin(ang);
      wy[row * p.D + ib] = a * std::sin(ang) + b * std::cos(ang);
    }
  }
  for (int64_t i = 0; i < n; ++i) wx[i] = x.get(i);
  const std::string what = std::string("rope ") + (inter ? "interleaved" : "half") + " rd=" + std::to_string(rd) + " " + dtn(dt) + " " + tier;
  check(what + " forward", y, wy, tol_of(dt), 10);
  // two bf16 roundings of values up to 2: judged against that scale
  check(what + " inverse", back, wx, tol_of(dt) * 2, dt == DType::bf16 ? 400 : 10);
}

void test_xent(DType dt, const char* tier, double z) {
  XentParams p;
  p.N = 13, p.V = 1001, p.ignore_index = -100, p.z_loss = z;
  Buf x(dt, p.N * p.V), dx(dt, p.N * p.V);
  x.randomize(5.0);
  std::vector<int32_t> tg(p.N);
  for (int64_t i = 0; i < p.N; ++i) tg[i] = i == 3 ? -100 : static_cast<int32_t>((i * 7919) % p.V);
  std::vector<double> loss(p.N), lse(p.N), rg(p.N);
  for (int64_t i = 0; i < p.N; ++i) rg[i] = 0.5 + 0.1 * i;
  uint64_t status[2] = {kNoIndexFault, 0}, fault = kNoIndexFault;
  xent_forward_cpu(loss.data(), lse.data(), status, x.data(), dt, tg.data(), p);
  xent_backward_cpu(dx.data(), &fault, x.data(), dt, tg.data(), lse.data(), rg.data(), p);
  Buf lossb(DType::f64, p.N);
  std::vector<double> wl(p.N), wdx(p.N * p.V);
  for (int64_t i = 0; i < p.N; ++i) {
    lossb.set(i, loss[i]);
    double m = -1e300, s = 0;
    for (int64_t j = 0; j < p.V; ++j) m = std::max(m, x.get(i * p.V + j));
    for (int64_t j = 0; j < p.V; ++j) s += std::exp(x.get(i * p.V + j) - m);
    const double l = m + std::log(s);
    const bool ign = tg[i] == -100;
    wl[i] = ign ? 0 : l - x.get(i * p.V + tg[i]) + z * l * l;
    for (int64_t j = 0; j < p.V; ++j) {
      const double sm = std::exp(x.get(i * p.V + j) - l);
      wdx[i * p.V + j] = ign ? 0 : rg[i] * ((1 + 2 * z * l) * sm - (j == tg[i] ? 1 : 0));
    }
  }
  const std::string what = std::string("xent z=") + std::to_string(z) + " " + dtn(dt) + " " + tier;
  check(what + " loss", lossb, wl, dt == DType::f64 ? 1e-12 : 1e-6);
  check(what + " dlogits", dx, wdx, tol_of(dt) * 4, 10);
  expect(status[0] == kNoIndexFault && fault == kNoIndexFault && status[1] == uint64_t(p.N - 1), what + " status (12 valid rows)");
}

// Outputs of 8 MiB and more are written by non-temporal stores (rows of odd length: unaligned starts,
// a scalar head and a masked tail): the same bits as the ordinary stores used for a few rows at a time.
void test_xent_stream(DType dt, const char* tier) {
  XentParams p;
  p.N = 2063, p.V = 2053, p.ignore_index = -100;
  Buf x(dt, p.N * p.V), dx(dt, p.N * p.V), part(dt, p.N * p.V);
  x.randomize(5.0);
  std::vector<int32_t> tg(p.N);
  for (int64_t i = 0; i < p.N; ++i) tg[i] = i % 11 == 3 ? -100 : static_cast<int32_t>((i * 7919) % p.V);
  std::vector<double> loss(p.N), lse(p.N), rg(p.N);
  for (int64_t i = 0; i < p.N; ++i) rg[i] = 0.5 + 0.001 * i;
  uint64_t status[2] = {kNoIndexFault, 0}, fault = kNoIndexFault;
  xent_forward_cpu(loss.data(), lse.data(), status, x.data(), dt, tg.data(), p);
  xent_backward_cpu(dx.data(), &fault, x.data(), dt, tg.data(), lse.data(), rg.data(), p);
  const size_t es = dt == DType::f32 ? 4 : 2;
  XentParams q = p;
  for (int64_t r0 = 0; r0 < p.N; r0 += 7) {
    q.N = std::min<int64_t>(7, p.N - r0);
    uint64_t f2 = kNoIndexFault;
    xent_backward_cpu(static_cast<char*>(part.data()) + r0 * p.V * es, &f2, static_cast<const char*>(x.data()) + r0 * p.V * es, dt,
                      tg.data() + r0, lse.data() + r0, rg.data() + r0, q);
  }
  const bool same = std::memcmp(dx.data(), part.data(), p.N * p.V * es) == 0;
  expect(same && fault == kNoIndexFault, std::string("xent backward streamed = row blocks, bitwise ") + dtn(dt) + " " + tier);
}

// Indices out of range, found by the kernels that read them (index_fault.h): the first one (lowest
// position) in the fault word, NaN where its result would go, nothing read or written outside the table.
void test_index_faults(DType dt) {
  const std::string what = std::string("index faults ") + dtn(dt);
  const int64_t V = 7, D = 5, N = 300;
  Buf w(dt, V * D), out(dt, N * D), g(dt, N * D);
  w.randomize(), g.randomize();
  std::vector<int32_t> ix(N);
  for (int64_t i = 0; i < N; ++i) ix[i] = static_cast<int32_t>(i % V);
  ix[250] = -2, ix[123] = V, ix[299] = 1 << 30;
  uint64_t fault = kNoIndexFault;
  embedding_forward_cpu(out.data(), &fault, w.data(), ix.data(), N, V, D, dt);
  expect(fault == index_fault_key(123, V), what + " embedding forward: the first bad position, 123, and its index");
  expect(index_fault_position(fault) == 123 && index_fault_value(fault) == V, what + " key round trip");
  bool rows_ok = true;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < D; ++c) {
      const double got = out.get(i * D + c);
      rows_ok &= ix[i] >= 0 && ix[i] < V ? got == w.get(ix[i] * D + c) : std::isnan(got);
    }
  expect(rows_ok, what + " embedding forward: gathered rows, NaN for the bad ones");
  std::vector<double> dw_acc(V * D, 0.0), want(V * D, 0.0);
  std::vector<float> dw32(V * D, 0.0f);
  fault = kNoIndexFault;
  const DType acc = dt == DType::f64 ? DType::f64 : DType::f32;
  embedding_backward_cpu(acc == DType::f64 ? static_cast<void*>(dw_acc.data()) : static_cast<void*>(dw32.data()), &fault, acc, g.data(), dt,
                         ix.data(), N, V, D);
  for (int64_t i = 0; i < N; ++i)
    if (ix[i] >= 0 && ix[i] < V)
      for (int64_t c = 0; c < D; ++c) want[ix[i] * D + c] += g.get(i * D + c);
  double worst = 0;
  for (int64_t k = 0; k < V * D; ++k) worst = std::max(worst, std::fabs((acc == DType::f64 ? dw_acc[k] : dw32[k]) - want[k]));
  expect(fault == index_fault_key(123, V) && worst < 1e-4, what + " embedding backward: bad rows skipped, fault word");

  XentParams p;
  p.N = 6, p.V = 9, p.ignore_index = -100;
  Buf x(dt, p.N * p.V), dx(dt, p.N * p.V);
  x.randomize();
  const std::vector<int32_t> tg = {3, 9, -100, -1, 0, 8};
  std::vector<double> loss(p.N), lse(p.N), rg(p.N, 1.0);
  uint64_t status[2] = {kNoIndexFault, 0};
  xent_forward_cpu(loss.data(), lse.data(), status, x.data(), dt, tg.data(), p);
  expect(status[0] == index_fault_key(1, 9) && status[1] == 3, what + " crossEntropy forward: first bad row 1, 3 valid rows");
  expect(std::isnan(loss[1]) && std::isnan(loss[3]) && !std::isnan(loss[0]) && loss[2] == 0.0, what + " crossEntropy forward: NaN losses");
  fault = kNoIndexFault;
  xent_backward_cpu(dx.data(), &fault, x.data(), dt, tg.data(), lse.data(), rg.data(), p);
  expect(fault == index_fault_key(1, 9) && std::isnan(dx.get(1 * p.V)) && std::isnan(dx.get(3 * p.V + 8)) && !std::isnan(dx.get(0)),
         what + " crossEntropy backward: NaN rows, fault word");
}

}  // namespace

int main() {
  const char* tiers[] = {"avx512", "avx2", "scalar"};
  for (const char* tier : tiers) {
    try {
      lmf::set_cpu_tier(tier);
    } catch (const lmf::Error&) {
      std::printf("tier %s: not on this CPU, skipped\n", tier);
      continue;
    }
    for (int threads : {1, 2}) {
      lmf::set_num_threads(threads);
      for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
        test_activations(dt, tier);
        for (int m = 0; m < 5; ++m) test_norm(dt, tier, m >= 3, m == 1 || m == 4, m == 2 || m == 1);
        for (bool inter : {false, true})
          for (int64_t rd : {40, 24}) test_rope(dt, tier, inter, rd);
        for (double z : {0.0, 1e-2}) test_xent(dt, tier, z);
        if (dt != DType::f64) test_xent_stream(dt, tier);
        test_index_faults(dt);
      }
    }
  }
  lmf::set_cpu_tier("");
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
