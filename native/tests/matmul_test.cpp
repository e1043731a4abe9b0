// Standalone check of matmul_forward_cpu against a float64 loop, on every CPU tier this machine has, for
// f32/bf16/f16, every transpose (and a non-unit-stride layout), shapes that are multiples of no block size,
// broadcast batches, alpha/beta, bias and residual, and 1-3 threads.
// Built and run by scripts/native_tests.sh (CMake); alone: build/native/matmul_test
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../kernels/math.h"
#include "../kernels/matmul.h"
#include "../kernels/matmul_ukernels.h"
#include "../runtime/cpu_features.h"
#include "../runtime/thread_pool.h"

using lmf::DType;
using lmf::kernels::GemmParams;

namespace {

int g_passed = 0, g_failed = 0;
std::mt19937_64 g_rng(12345);

// A buffer of dtype values with its float64 image (the exact values the kernel sees).
struct Buf {
  DType dt;
  std::vector<uint16_t> h;
  std::vector<float> f;
  Buf(DType d, size_t n) : dt(d) {
    if (d == DType::f32) f.assign(n, 0.0f); else h.assign(n, 0);
  }
  void* data() { return dt == DType::f32 ? static_cast<void*>(f.data()) : static_cast<void*>(h.data()); }
  double get(size_t i) const {
    if (dt == DType::f32) return f[i];
    return dt == DType::bf16 ? lmf::math::bf16_to_f32(h[i]) : lmf::math::f16_to_f32(h[i]);
  }
  void set(size_t i, float v) {
    if (dt == DType::f32) f[i] = v;
    else h[i] = dt == DType::bf16 ? lmf::math::f32_to_bf16(v) : lmf::math::f32_to_f16(v);
  }
  void randomize() {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const size_t n = dt == DType::f32 ? f.size() : h.size();
    for (size_t i = 0; i < n; ++i) set(i, u(g_rng));
  }
};

// Operand layouts: 0 row-major, 1 transposed (column-major), 2 neither stride is 1.
struct Layout {
  int64_t rs, cs, size;
};
Layout layout(int kind, int64_t rows, int64_t cols) {
  switch (kind) {
    case 0: return {cols + 3, 1, rows * (cols + 3)};      // padded leading dimension
    case 1: return {1, rows, rows * cols};
    default: return {2, 2 * rows + 1, (2 * rows + 1) * cols};
  }
}

struct Case {
  int64_t batch, M, N, K;
  int la, lb;
  bool bcast_a, bcast_b;
  float alpha, beta;
  bool bias, residual;
};

void run_case(const Case& cs, DType dt, const std::string& label) {
  const Layout La = layout(cs.la, cs.M, cs.K), Lb = layout(cs.lb, cs.K, cs.N);
  const int64_t na = cs.bcast_a ? 1 : cs.batch, nb = cs.bcast_b ? 1 : cs.batch;
  Buf A(dt, std::max<int64_t>(1, La.size * na)), B(dt, std::max<int64_t>(1, Lb.size * nb));
  const int64_t rs_c = cs.N + 1;  // C rows padded: the kernel must not touch the pad
  Buf C(dt, cs.batch * cs.M * rs_c), bias(dt, cs.N), res(dt, cs.batch * cs.M * cs.N);
  A.randomize();
  B.randomize();
  C.randomize();
  bias.randomize();
  res.randomize();
  if (cs.beta == 0.0f) {  // beta == 0 must ignore C, NaN included
    for (int64_t b = 0; b < cs.batch; ++b)
      for (int64_t m = 0; m < cs.M; ++m)
        for (int64_t n = 0; n < cs.N; ++n) C.set((b * cs.M + m) * rs_c + n, std::numeric_limits<float>::quiet_NaN());
  }
  const Buf C0 = C;

  GemmParams p;
  p.batch = cs.batch; p.M = cs.M; p.N = cs.N; p.K = cs.K; p.dtype = dt;
  p.a = A.data(); p.bs_a = cs.bcast_a ? 0 : La.size; p.rs_a = La.rs; p.cs_a = La.cs;
  p.b = B.data(); p.bs_b = cs.bcast_b ? 0 : Lb.size; p.rs_b = Lb.rs; p.cs_b = Lb.cs;
  p.c = C.data(); p.bs_c = cs.M * rs_c; p.rs_c = rs_c;
  p.alpha = cs.alpha; p.beta = cs.beta;
  p.bias = cs.bias ? bias.data() : nullptr;
  p.residual = cs.residual ? res.data() : nullptr;
  p.bs_r = cs.M * cs.N; p.rs_r = cs.N;
  try {
    lmf::kernels::matmul_forward_cpu(p);
  } catch (const std::exception& e) {
    ++g_failed;
    std::printf("FAIL %s: threw %s\n", label.c_str(), e.what());
    return;
  }

  const double eps_acc = cs.K > 512 ? 3e-5 : 1e-5;
  const double eps_out = dt == DType::f32 ? 0.0 : dt == DType::bf16 ? 1.0 / 256 : 1.0 / 1024;
  // f16 results below 2^-14 round to subnormals, whose spacing 2^-24 is absolute, not relative.
  const double eps_abs = dt == DType::f16 ? std::ldexp(1.0, -24) : 0.0;
  double worst = 0.0;
  int64_t bad = 0;
  for (int64_t b = 0; b < cs.batch; ++b) {
    const int64_t oa = cs.bcast_a ? 0 : b * La.size, ob = cs.bcast_b ? 0 : b * Lb.size;
    for (int64_t m = 0; m < cs.M; ++m) {
      for (int64_t n = 0; n < cs.N; ++n) {
        double sum = 0.0, mag = 0.0;
        for (int64_t k = 0; k < cs.K; ++k) {
          const double x = A.get(oa + m * La.rs + k * La.cs) * B.get(ob + k * Lb.rs + n * Lb.cs);
          sum += x;
          mag += std::fabs(x);
        }
        const size_t ci = (b * cs.M + m) * rs_c + n;
        double ref = cs.alpha * sum;
        mag *= std::fabs(cs.alpha);
        if (cs.beta != 0.0f) { ref += cs.beta * C0.get(ci); mag += std::fabs(cs.beta * C0.get(ci)); }
        if (cs.bias) { ref += bias.get(n); mag += std::fabs(bias.get(n)); }
        if (cs.residual) { const double r = res.get((b * cs.M + m) * cs.N + n); ref += r; mag += std::fabs(r); }
        const double got = C.get(ci);
        const double err = std::fabs(got - ref), tol = eps_acc * mag + eps_out * std::fabs(ref) + eps_abs + 1e-30;
        if (!(err <= tol)) ++bad;
        if (std::isfinite(err) && tol > 0) worst = std::max(worst, err / tol);
        if (!std::isfinite(got)) worst = std::numeric_limits<double>::infinity();
      }
      // the padding column after each row must be untouched
      const size_t pad = (b * cs.M + m) * rs_c + cs.N;
      const double g = C.get(pad), w = C0.get(pad);
      if (!(g == w || (std::isnan(g) && std::isnan(w)))) ++bad;
    }
  }
  if (bad == 0) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s: %lld bad elements, worst err/tol %.3g\n", label.c_str(), static_cast<long long>(bad), worst);
  }
}

std::string describe(const Case& c, DType dt, const char* tier, int threads) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "tier=%s threads=%d %s batch=%lld M=%lld N=%lld K=%lld layoutA=%d layoutB=%d bcast=%d%d alpha=%g beta=%g bias=%d res=%d",
                tier, threads, lmf::dtype_name(dt), static_cast<long long>(c.batch), static_cast<long long>(c.M),
                static_cast<long long>(c.N), static_cast<long long>(c.K), c.la, c.lb, c.bcast_a, c.bcast_b, c.alpha,
                c.beta, c.bias, c.residual);
  return buf;
}

// A batch sharing one B, with A, C and residual rows continuing across batch elements, is run as one
// product of batch * M rows (B packed once): each element of C must be bitwise what a separate call per
// batch element gives.
void check_batch_fold(DType dt, const char* tier) {
  const int64_t batch = 3, M = 45, N = 70, K = 1100;  // K over one K block of every kernel set
  Buf A(dt, batch * M * K), B(dt, K * N), R(dt, batch * M * N), C1(dt, batch * M * N), C2(dt, batch * M * N);
  A.randomize();
  B.randomize();
  R.randomize();
  GemmParams p;
  p.batch = batch; p.M = M; p.N = N; p.K = K; p.dtype = dt;
  p.a = A.data(); p.bs_a = M * K; p.rs_a = K; p.cs_a = 1;
  p.b = B.data(); p.bs_b = 0; p.rs_b = N; p.cs_b = 1;
  p.c = C1.data(); p.bs_c = M * N; p.rs_c = N;
  p.residual = R.data(); p.bs_r = M * N; p.rs_r = N;
  lmf::kernels::matmul_forward_cpu(p);
  const size_t esz = lmf::dtype_size(dt);
  for (int64_t b = 0; b < batch; ++b) {
    GemmParams q = p;
    q.batch = 1;
    q.a = static_cast<const char*>(A.data()) + b * M * K * esz;
    q.c = static_cast<char*>(C2.data()) + b * M * N * esz;
    q.residual = static_cast<const char*>(R.data()) + b * M * N * esz;
    lmf::kernels::matmul_forward_cpu(q);
  }
  bool same = true;
  for (int64_t i = 0; i < batch * M * N; ++i) same = same && C1.get(i) == C2.get(i);
  if (same) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL tier=%s %s: a batch over a shared B differs from per-element calls\n", tier, lmf::dtype_name(dt));
  }
}

}  // namespace

int main() {
  const DType dtypes[] = {DType::f32, DType::bf16, DType::f16};
  const int64_t Ms[] = {1, 7, 37, 130}, Ns[] = {1, 5, 33, 129}, Ks[] = {1, 3, 67, 300};
  // The AVX-512 tier runs bf16 on AMX tiles where it can; a second pass covers its vdpbf16ps kernel.
  struct Tier { const char* name; bool amx; };
  const Tier tiers[] = {{"avx512", true}, {"avx512", false}, {"avx2", true}, {"neon", true}, {"scalar", true}};
  for (const auto [tier, amx] : tiers) {
    try {
      lmf::set_cpu_tier(tier);
    } catch (const lmf::Error&) {
      std::printf("tier %s: skipped (not supported by this CPU)\n", tier);
      continue;
    }
    lmf::kernels::gemm::set_amx_enabled(amx);
    for (DType dt : dtypes) {
      if (!amx && dt != DType::bf16) continue;
      std::printf("tier %s, %s: kernel %s\n", tier, lmf::dtype_name(dt), lmf::kernels::matmul_kernel_name(dt));
      int variant = 0;
      lmf::set_num_threads(2);
      for (int64_t M : Ms)
        for (int64_t N : Ns)
          for (int64_t K : Ks)
            for (int t = 0; t < 4; ++t, ++variant) {
              // Epilogue options rotate with the case so every combination meets every shape class.
              Case c{1, M, N, K, t & 1, t >> 1, false, false, 1.0f, 0.0f, false, false};
              if (variant % 3 == 1) { c.alpha = 0.5f; c.beta = -1.25f; }
              if (variant % 5 >= 2) c.bias = true;
              if (variant % 7 >= 4) c.residual = true;
              run_case(c, dt, describe(c, dt, tier, 2));
            }
      // Generic (non-unit) strides, blocking over K, M and N, odd thread counts, batches, K == 0.
      struct Big { int threads; Case c; };
      const Big bigs[] = {
          {2, {1, 37, 33, 67, 2, 2, false, false, 1.0f, 0.5f, true, false}},
          {2, {1, 500, 300, 1000, 0, 1, false, false, 0.75f, 0.5f, true, true}},
          {2, {1, 1000, 70, 900, 1, 0, false, false, 1.0f, 0.0f, false, true}},
          {2, {1, 1900, 40, 800, 1, 0, false, false, 1.0f, 0.5f, true, false}},  // row chunks (non-fp32 C)
          {3, {1, 61, 4300, 40, 0, 0, false, false, 1.0f, 1.0f, true, true}},
          {1, {1, 130, 129, 800, 1, 1, false, false, -1.0f, 2.0f, false, false}},
          {2, {5, 37, 33, 67, 0, 1, false, true, 1.0f, 0.0f, true, true}},
          {2, {3, 200, 150, 90, 1, 0, true, false, 1.0f, 0.5f, false, true}},
          {3, {7, 20, 9, 13, 0, 0, false, false, 2.0f, 0.0f, true, false}},
          {2, {2, 9, 11, 0, 0, 0, false, false, 1.0f, 0.5f, true, true}},
          {2, {1, 9, 11, 0, 0, 0, false, false, 1.0f, 0.0f, false, false}},
      };
      for (const Big& bg : bigs) {
        lmf::set_num_threads(bg.threads);
        run_case(bg.c, dt, describe(bg.c, dt, tier, bg.threads));
      }
      check_batch_fold(dt, tier);
      lmf::set_num_threads(2);
    }
  }
  lmf::set_cpu_tier("");
  lmf::kernels::gemm::set_amx_enabled(true);

  // Integer dtypes are refused with lmf::Error, not a crash.
  {
    GemmParams p;
    p.M = p.N = p.K = 2;
    p.dtype = DType::i32;
    int32_t a[4] = {}, b[4] = {}, c[4] = {};
    p.a = a; p.b = b; p.c = c; p.rs_a = p.rs_b = p.rs_c = 2; p.cs_a = p.cs_b = 1;
    bool threw = false;
    try {
      lmf::kernels::matmul_forward_cpu(p);
    } catch (const lmf::Error& e) {
      threw = e.kind() == lmf::ErrorKind::dtype;
    }
    if (threw) ++g_passed; else { ++g_failed; std::printf("FAIL int32 matmul did not throw a DTypeError\n"); }
  }

  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
