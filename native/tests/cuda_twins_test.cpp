// Every CUDA twin against its CPU twin, on shapes that are multiples of no block size, for float32,
// bfloat16, float16 (where the CPU twin has it) and float64; which engine the GEMMs ran on (bf16/fp16 must
// reach cuBLASLt when it is loaded); the norm backward past 65,535 row chunks; the driver and runtime
// versions. Built by CMake only in a CUDA build; on a machine without a usable GPU it prints "skipped: no
// CUDA device" and passes, unless LMF_REQUIRE_CUDA=1 (cuda_test_util.h).
//
// Each case fills host buffers with random values, runs the CPU twin on them and the CUDA twin on
// device copies, and compares element by element: |gpu - cpu| <= atol + rtol * |cpu|, with tolerances
// per dtype (one or two roundings of the output type apart: the twins sum in different orders).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../kernels/activation.h"
#include "../kernels/elementwise.h"
#include "../kernels/embedding.h"
#include "../kernels/index_fault.h"
#include "../kernels/math.h"
#include "../kernels/matmul.h"
#include "../kernels/norm.h"
#include "../kernels/reduce.h"
#include "../kernels/rope.h"
#include "../kernels/softmax_xent.h"
#include "../runtime/cublaslt.h"
#include "../runtime/cuda_runtime.h"
#include "cuda_test_util.h"

using lmf::DType;
using namespace lmf::kernels;

namespace {

using lmf::cudatest::g_failed;
using lmf::cudatest::g_passed;
std::mt19937_64 g_rng(2024);

double uni(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(g_rng); }

// Host bytes of one dtype, with exact double access.
struct Host {
  DType dt;
  std::vector<uint8_t> bytes;
  Host(DType t, size_t n) : dt(t), bytes(n * lmf::dtype_size(t) + 8, 0) {}
  size_t n() const { return (bytes.size() - 8) / lmf::dtype_size(dt); }
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
  double get(size_t i) const {
    const uint8_t* p = bytes.data() + i * lmf::dtype_size(dt);
    uint16_t h;
    switch (dt) {
      case DType::f32: { float f; std::memcpy(&f, p, 4); return f; }
      case DType::f64: { double d; std::memcpy(&d, p, 8); return d; }
      case DType::bf16: std::memcpy(&h, p, 2); return lmf::math::bf16_to_f32(h);
      case DType::f16: std::memcpy(&h, p, 2); return lmf::math::f16_to_f32(h);
      case DType::i32: { int32_t v; std::memcpy(&v, p, 4); return v; }
      case DType::u8: return *p;
      case DType::i8: return static_cast<int8_t>(*p);
    }
    return 0;
  }
  void set(size_t i, double v) {
    uint8_t* p = bytes.data() + i * lmf::dtype_size(dt);
    uint16_t h;
    switch (dt) {
      case DType::f32: { float f = static_cast<float>(v); std::memcpy(p, &f, 4); return; }
      case DType::f64: std::memcpy(p, &v, 8); return;
      case DType::bf16: h = lmf::math::f32_to_bf16(static_cast<float>(v)); std::memcpy(p, &h, 2); return;
      case DType::f16: h = lmf::math::f32_to_f16(static_cast<float>(v)); std::memcpy(p, &h, 2); return;
      case DType::i32: { int32_t x = static_cast<int32_t>(v); std::memcpy(p, &x, 4); return; }
      case DType::u8: *p = static_cast<uint8_t>(v); return;
      case DType::i8: *p = static_cast<uint8_t>(static_cast<int8_t>(v)); return;
    }
  }
  void random(double lo, double hi) {
    for (size_t i = 0; i < n(); ++i) set(i, uni(lo, hi));
  }
};

// A device copy of a host buffer (or a fresh one), freed at scope exit.
struct Dev {
  size_t bytes;
  void* p;
  explicit Dev(size_t b) : bytes(b ? b : 8), p(lmf::cuda_alloc(bytes)) {}
  explicit Dev(const Host& h) : Dev(h.bytes.size()) { lmf::cuda_copy(p, h.bytes.data(), h.bytes.size(), 0); }
  ~Dev() { lmf::cuda_free(p, bytes); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void to(Host& h) const { lmf::cuda_copy(h.data(), p, h.bytes.size(), 1); }
  template <class T> T* as() const { return static_cast<T*>(p); }
};

struct Tol {
  double atol, rtol;
};
Tol tol_for(DType t, double scale = 1.0) {
  switch (t) {
    case DType::f64: return {1e-10 * scale, 1e-10};
    case DType::f32: return {2e-5 * scale, 2e-5};
    case DType::f16: return {2e-3 * scale, 4e-3};
    case DType::bf16: return {1.6e-2 * scale, 1.6e-2};
    default: return {0, 0};
  }
}

void check(const std::string& name, const Host& gpu, const Host& cpu, Tol t, size_t n = SIZE_MAX) {
  if (n == SIZE_MAX) n = cpu.n();
  double worst = 0;
  size_t bad = SIZE_MAX;
  for (size_t i = 0; i < n; ++i) {
    const double g = gpu.get(i), c = cpu.get(i);
    if (std::isnan(c) && std::isnan(g)) continue;
    if (std::isinf(c) && g == c) continue;
    const double err = std::fabs(g - c), lim = t.atol + t.rtol * std::fabs(c);
    if (!(err <= lim)) {
      if (bad == SIZE_MAX) bad = i;
    }
    if (err / (lim > 0 ? lim : 1) > worst) worst = err / (lim > 0 ? lim : 1);
  }
  if (bad == SIZE_MAX) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s: element %zu gpu %.9g cpu %.9g (worst error %.3g x tolerance)\n", name.c_str(), bad, gpu.get(bad), cpu.get(bad),
                worst);
  }
}

template <class F>
void guarded(const std::string& name, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    ++g_failed;
    std::printf("FAIL %s: threw %s\n", name.c_str(), e.what());
  }
}

const DType kFloat[] = {DType::f32, DType::bf16, DType::f16, DType::f64};
const DType kLayer[] = {DType::f32, DType::bf16, DType::f64};  // the CPU layer kernels' dtypes
lmf::cuda_stream S() { return lmf::cuda_current_stream(); }

// ------------------------------------------------------------------------------------------- matmul
void test_matmul() {
  struct Case {
    int64_t batch, M, N, K;
    bool ta, tb, bias, res, bcast_b;
    float alpha, beta;
  };
  const Case cases[] = {
      {1, 1, 1, 1, false, false, false, false, false, 1, 0},    {1, 37, 53, 29, false, false, false, false, false, 1, 0},
      {1, 67, 1, 131, false, false, true, false, false, 1, 0},  {1, 1, 97, 65, false, true, true, true, false, 1, 0},
      {3, 45, 71, 33, true, false, false, true, false, 1, 0},  {2, 130, 67, 257, true, true, true, true, false, 0.5f, 0},
      {4, 19, 23, 300, false, false, false, false, true, 1, 0}, {2, 33, 65, 17, false, false, true, false, false, 1.5f, 0.75f},
      {2, 29, 31, 41, false, true, true, true, false, 1, 0.5f},
  };
  for (DType dt : kFloat)
    for (const Case& c : cases) {
      const std::string name = std::string("matmul ") + lmf::dtype_name(dt) + " b" + std::to_string(c.batch) + " " + std::to_string(c.M) + "x" +
                               std::to_string(c.N) + "x" + std::to_string(c.K) + (c.ta ? " tA" : "") + (c.tb ? " tB" : "") +
                               (c.bias ? " bias" : "") + (c.res ? " res" : "") + (c.bcast_b ? " bcastB" : "") +
                               (c.beta != 0 ? " beta" : "");
      guarded(name, [&] {
        const int64_t nb_b = c.bcast_b ? 1 : c.batch;
        Host a(dt, c.batch * c.M * c.K), b(dt, nb_b * c.K * c.N), bias(dt, c.N), res(dt, c.batch * c.M * c.N), out(dt, c.batch * c.M * c.N);
        a.random(-1, 1), b.random(-1, 1), bias.random(-1, 1), res.random(-1, 1), out.random(-1, 1);
        GemmParams p;
        p.batch = c.batch, p.M = c.M, p.N = c.N, p.K = c.K, p.dtype = dt;
        p.bs_a = c.M * c.K;
        if (c.ta) p.rs_a = 1, p.cs_a = c.M; else p.rs_a = c.K, p.cs_a = 1;
        p.bs_b = c.bcast_b ? 0 : c.K * c.N;
        if (c.tb) p.rs_b = 1, p.cs_b = c.K; else p.rs_b = c.N, p.cs_b = 1;
        p.bs_c = c.M * c.N, p.rs_c = c.N;
        p.alpha = c.alpha, p.beta = c.beta;
        p.bs_r = c.M * c.N, p.rs_r = c.N;
        Host ref = out;
        GemmParams pc = p;
        pc.a = a.data(), pc.b = b.data(), pc.c = ref.data(), pc.bias = c.bias ? bias.data() : nullptr, pc.residual = c.res ? res.data() : nullptr;
        if (dt == DType::f64) matmul_f64_cpu(pc);
        else matmul_forward_cpu(pc);
        for (int engine = 0; engine < 2; ++engine) {
          Dev da(a), db(b), dbias(bias), dres(res), dout(out);
          GemmParams pg = p;
          pg.a = da.p, pg.b = db.p, pg.c = dout.p, pg.bias = c.bias ? dbias.p : nullptr, pg.residual = c.res ? dres.p : nullptr;
          if (engine == 0) matmul_forward_cuda(pg, S());
          else matmul_fallback_cuda(pg, S());
          Host got(dt, out.n());
          dout.to(got);
          check(name + (engine == 0 ? " [default engine]" : " [fallback kernel]"), got, ref, tol_for(dt, std::sqrt(double(c.K)) + 2));
        }
      });
    }
  std::printf("matmul: GEMM engine %s\n", lmf::cuda_gemm_engine().c_str());
}

// Which engine a GEMM really ran on. bf16 and fp16 GEMMs with plain layouts must reach cuBLASLt whenever
// it is loaded (a silent decline would leave training on the slow fallback kernel); a call cuBLASLt cannot
// express must report the fallback. Under LMF_REQUIRE_CUDA=1 cuBLASLt must be loaded too, unless
// LMF_CUBLASLT=0 turned it off on purpose.
void test_gemm_engine() {
  std::string why;
  const bool lt = lmf::cublaslt_available(&why);
  const char* off = std::getenv("LMF_CUBLASLT");
  const bool turned_off = off && std::strcmp(off, "0") == 0;
  std::printf("gemm engine: %s\n", lmf::cuda_gemm_engine().c_str());
  if (lmf::cudatest::cuda_required() && !turned_off) lmf::cudatest::check(lt, "cuBLASLt is loaded (" + why + ")");
  for (DType dt : {DType::bf16, DType::f16, DType::f32})
    for (int shift : {0, 1}) {  // shift: every operand one element off its 256-byte alignment
      const std::string name = std::string("gemm engine ") + lmf::dtype_name(dt) + (shift ? " unaligned" : "");
      guarded(name, [&] {
        const int64_t M = 192, N = 320, K = 256;
        Host a(dt, M * K + shift), b(dt, K * N + shift), ref(dt, M * N + shift), got(dt, M * N + shift);
        a.random(-1, 1), b.random(-1, 1);
        GemmParams p;
        p.M = M, p.N = N, p.K = K, p.dtype = dt, p.rs_a = K, p.cs_a = 1, p.rs_b = N, p.cs_b = 1, p.rs_c = N;
        GemmParams pc = p;
        pc.a = static_cast<char*>(a.data()) + shift * lmf::dtype_size(dt), pc.b = static_cast<char*>(b.data()) + shift * lmf::dtype_size(dt);
        pc.c = static_cast<char*>(ref.data()) + shift * lmf::dtype_size(dt);
        matmul_forward_cpu(pc);
        Dev da(a), db(b), dc(got);
        GemmParams pg = p;
        pg.a = da.as<char>() + shift * lmf::dtype_size(dt), pg.b = db.as<char>() + shift * lmf::dtype_size(dt);
        pg.c = dc.as<char>() + shift * lmf::dtype_size(dt);
        matmul_forward_cuda(pg, S());
        const std::string engine = lmf::cuda_last_gemm_engine();
        dc.to(got);
        std::printf("  %-28s ran on %s\n", name.c_str(), engine.c_str());
        Host g2(dt, M * N), r2(dt, M * N);
        for (int64_t i = 0; i < M * N; ++i) g2.set(i, got.get(i + shift)), r2.set(i, ref.get(i + shift));
        check(name + " result", g2, r2, tol_for(dt, std::sqrt(double(K)) + 2));
        if (lt && dt != DType::f32 && !shift) lmf::cudatest::check(engine == "cublasLt", name + " ran on cuBLASLt, not " + engine);
        if (!lt) lmf::cudatest::check(engine.rfind("fallback kernel", 0) == 0, name + " reports the fallback kernel: " + engine);
        // beta and a residual together: cuBLASLt declines, and the report must say so.
        GemmParams pr = pg;
        pr.beta = 0.5f, pr.residual = pg.c, pr.rs_r = N;
        matmul_forward_cuda(pr, S());
        lmf::cudatest::check(lmf::cuda_last_gemm_engine().rfind("fallback kernel (", 0) == 0,
                             name + ": a call cuBLASLt cannot express reports the fallback, got " + lmf::cuda_last_gemm_engine());
      });
    }
}

// -------------------------------------------------------------------------------------- elementwise
void test_elementwise() {
  const lmf::Shape shape = {3, 17, 29};
  const int64_t n = 3 * 17 * 29;
  const lmf::Shape cont = lmf::contiguous_strides(shape);
  // a transposed view of a [29, 17, 3] buffer, and a [17, 1] operand broadcast over dims 0 and 2
  const lmf::Shape trans = {1, 3, 51};
  const lmf::Shape bcast = {0, 1, 0};
  for (DType dt : kFloat) {
    const std::string dn = lmf::dtype_name(dt);
    for (int op = 0; op <= static_cast<int>(UnaryOp::sign); ++op) {
      const std::string name = "unary " + std::to_string(op) + " " + dn;
      guarded(name, [&] {
        Host a(dt, n), ref(dt, n), got(dt, n);
        a.random(0.05, 2.5);  // positive: log, sqrt and rsqrt stay finite
        for (int strided = 0; strided < 2; ++strided) {
          const lmf::Shape* st[2] = {&cont, strided ? &trans : &cont};
          const StridedLoop L = make_loop(shape, st, 2);
          unary_forward_cpu(ref.data(), a.data(), L, dt, static_cast<UnaryOp>(op));
          Dev da(a), dout(got);
          unary_forward_cuda(dout.p, da.p, L, dt, static_cast<UnaryOp>(op), S());
          dout.to(got);
          check(name + (strided ? " strided" : ""), got, ref, tol_for(dt, 1e-2));
        }
      });
    }
    for (int op = 0; op <= static_cast<int>(BinaryOp::ne); ++op) {
      const std::string name = "binary " + std::to_string(op) + " " + dn;
      guarded(name, [&] {
        Host a(dt, n), b(dt, n), ref(dt, n), got(dt, n);
        a.random(0.1, 2), b.random(0.1, 2);
        for (int i = 0; i < 40; ++i) b.set(static_cast<size_t>(i) * 7, a.get(static_cast<size_t>(i) * 7));  // ties for the comparisons
        for (int mode = 0; mode < 3; ++mode) {  // contiguous, broadcast b, scalar (swapped)
          BinaryParams p;
          p.op = static_cast<BinaryOp>(op), p.dtype = dt, p.scalar = 1.25, p.swap = mode == 2;
          const lmf::Shape* st[3] = {&cont, &cont, mode == 1 ? &bcast : &cont};
          const StridedLoop L = make_loop(shape, st, mode == 2 ? 2 : 3);
          binary_forward_cpu(ref.data(), a.data(), mode == 2 ? nullptr : b.data(), L, p);
          Dev da(a), db(b), dout(got);
          binary_forward_cuda(dout.p, da.p, mode == 2 ? nullptr : db.p, L, p, S());
          dout.to(got);
          check(name + " mode " + std::to_string(mode), got, ref, tol_for(dt, 1e-2));
        }
      });
    }
  }
  // casts between every pair of dtypes, through a transposed view; values cover saturation and NaN
  const DType all[] = {DType::f32, DType::bf16, DType::f16, DType::i32, DType::u8, DType::i8, DType::f64};
  for (DType from : all)
    for (DType to : all) {
      const std::string name = std::string("copy ") + lmf::dtype_name(from) + " -> " + lmf::dtype_name(to);
      guarded(name, [&] {
        Host a(from, n), ref(to, n), got(to, n);
        for (int64_t i = 0; i < n; ++i)
          a.set(i, lmf::dtype_is_float(from) ? uni(-300, 300) : from == DType::u8 ? std::floor(uni(0, 255)) : std::floor(uni(-120, 120)));
        if (lmf::dtype_is_float(from)) a.set(5, NAN);
        const lmf::Shape* st[2] = {&cont, &trans};
        const StridedLoop L = make_loop(shape, st, 2);
        copy_cpu(ref.data(), to, a.data(), from, L);
        Dev da(a), dout(got);
        copy_cuda(dout.p, to, da.p, from, L, S());
        dout.to(got);
        check(name, got, ref, Tol{0, 0});
      });
    }
  for (DType dt : kFloat) {
    const std::string dn = lmf::dtype_name(dt);
    guarded("where " + dn, [&] {
      Host c(DType::u8, n), a(dt, n), b(dt, n), ref(dt, n), got(dt, n);
      for (int64_t i = 0; i < n; ++i) c.set(i, uni(0, 1) < 0.5 ? 0 : 3);
      a.random(-1, 1), b.random(-1, 1);
      const lmf::Shape* st[4] = {&cont, &cont, &bcast, &trans};
      const StridedLoop L = make_loop(shape, st, 4);
      where_cpu(ref.data(), c.data(), DType::u8, a.data(), b.data(), dt, L);
      Dev dc(c), da(a), db(b), dout(got);
      where_cuda(dout.p, dc.p, DType::u8, da.p, db.p, dt, L, S());
      dout.to(got);
      check("where " + dn, got, ref, Tol{0, 0});
    });
    guarded("fill/arange/rand " + dn, [&] {
      const int64_t m = 1003;
      Host ref(dt, m), got(dt, m);
      Dev dout(got);
      fill_cpu(ref.data(), dt, m, -3.3);
      fill_cuda(dout.p, dt, m, -3.3, S());
      dout.to(got);
      check("fill " + dn, got, ref, Tol{0, 0});
      arange_cpu(ref.data(), dt, m, -7.5, 0.25);
      arange_cuda(dout.p, dt, m, -7.5, 0.25, S());
      dout.to(got);
      check("arange " + dn, got, ref, Tol{0, 0});
      rand_uniform_cpu(ref.data(), dt, m, 42, 1000, -2, 3);
      rand_uniform_cuda(dout.p, dt, m, 42, 1000, -2, 3, S());
      dout.to(got);
      check("rand " + dn, got, ref, tol_for(dt, 1e-1));
      rand_normal_cpu(ref.data(), dt, m, 42, 77, 0.5f, 2.0f);
      rand_normal_cuda(dout.p, dt, m, 42, 77, 0.5f, 2.0f, S());
      dout.to(got);
      check("randn " + dn, got, ref, tol_for(dt, 1e-1));
    });
  }
}

// ------------------------------------------------------------------------------------------- reduce
void test_reduce() {
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 1000, 1}, {3, 517, 13}, {1, 5, 4099}, {33, 1, 1}};
  for (DType dt : kFloat)
    for (auto& sh : shapes)
      for (int op = 0; op <= static_cast<int>(ReduceOp::argmin); ++op) {
        const int64_t outer = sh[0], n = sh[1], inner = sh[2];
        const std::string name = std::string("reduce ") + std::to_string(op) + " " + lmf::dtype_name(dt) + " [" + std::to_string(outer) + "," +
                                 std::to_string(n) + "," + std::to_string(inner) + "]";
        guarded(name, [&] {
          const bool arg = op >= static_cast<int>(ReduceOp::argmax);
          const DType od = arg ? DType::i32 : dt;
          Host a(dt, outer * n * inner), ref(od, outer * inner), got(od, outer * inner);
          a.random(-2, 2);
          if (n > 3) a.set(2 * inner, a.get(0));  // a tie: the first index must win
          reduce_cpu(ref.data(), a.data(), dt, outer, n, inner, static_cast<ReduceOp>(op));
          Dev da(a), dout(got);
          reduce_cuda(dout.p, da.p, dt, outer, n, inner, static_cast<ReduceOp>(op), S());
          dout.to(got);
          check(name, got, ref, arg ? Tol{0, 0} : tol_for(dt, std::sqrt(double(n))));
        });
      }
}

// ------------------------------------------------------------------------------------- layer kernels
void test_activation() {
  const int64_t rows = 37, n = 83;
  for (DType dt : kLayer)
    for (int k = 0; k < kNumActKinds; ++k) {
      const ActKind kind = static_cast<ActKind>(k);
      const std::string name = std::string("activation ") + act_name(kind) + " " + lmf::dtype_name(dt);
      guarded(name, [&] {
        const int64_t xn = rows * n * (act_is_gated(kind) ? 2 : 1);
        Host x(dt, xn), dy(dt, rows * n), ref(dt, rows * n), got(dt, rows * n), dref(dt, xn), dgot(dt, xn);
        x.random(-4, 4), dy.random(-1, 1);
        activation_forward_cpu(ref.data(), x.data(), dt, kind, rows, n);
        activation_backward_cpu(dref.data(), dy.data(), x.data(), dt, kind, rows, n);
        Dev dx(x), ddy(dy), dout(got), ddx(dgot);
        activation_forward_cuda(dout.p, dx.p, dt, kind, rows, n, S());
        activation_backward_cuda(ddx.p, ddy.p, dx.p, dt, kind, rows, n, S());
        dout.to(got);
        ddx.to(dgot);
        check(name + " forward", got, ref, tol_for(dt, 1e-1));
        check(name + " backward", dgot, dref, tol_for(dt, 1e-1));
      });
    }
}

void test_norm() {
  const int64_t rows = 29, D = 389;
  for (DType dt : kLayer)
    for (int rms = 0; rms < 2; ++rms)
      for (int res = 0; res < 2; ++res) {
        const std::string name = std::string(rms ? "rmsNorm " : "layerNorm ") + lmf::dtype_name(dt) + (res ? " residual" : "");
        guarded(name, [&] {
          const DType sd = dt == DType::f64 ? DType::f64 : DType::f32;
          NormParams p;
          p.rows = rows, p.D = D, p.eps = 1e-5, p.rms = rms;
          Host x(dt, rows * D), r(dt, rows * D), w(dt, D), b(dt, D), dy(dt, rows * D), dsum(dt, rows * D);
          x.random(-2, 3), r.random(-1, 1), w.random(0.5, 1.5), b.random(-1, 1), dy.random(-1, 1), dsum.random(-1, 1);
          Host y(dt, rows * D), sum(dt, rows * D), mean(sd, rows), rstd(sd, rows);
          norm_forward_cpu(y.data(), res ? sum.data() : nullptr, rms ? nullptr : mean.data(), rstd.data(), x.data(), res ? r.data() : nullptr,
                           w.data(), rms ? nullptr : b.data(), dt, p);
          Dev dx(x), dr(r), dw(w), db(b), ddy(dy), ddsum(dsum), gy(y), gsum(sum), gmean(mean), grstd(rstd);
          norm_forward_cuda(gy.p, res ? gsum.p : nullptr, rms ? nullptr : gmean.p, grstd.p, dx.p, res ? dr.p : nullptr, dw.p,
                            rms ? nullptr : db.p, dt, p, S());
          Host hy(dt, rows * D), hsum(dt, rows * D), hmean(sd, rows), hrstd(sd, rows);
          gy.to(hy), gsum.to(hsum), gmean.to(hmean), grstd.to(hrstd);
          check(name + " y", hy, y, tol_for(dt, 1));
          if (res) check(name + " sum", hsum, sum, Tol{0, 0});
          if (!rms) check(name + " mean", hmean, mean, tol_for(sd, 1));
          check(name + " rstd", hrstd, rstd, tol_for(sd, 1));
          // backward from the CPU's saved statistics, so both twins see the same inputs
          const Host& s = res ? sum : x;
          Host gx(dt, rows * D), gw(dt, D), gb(dt, D);
          norm_backward_cpu(gx.data(), gw.data(), rms ? nullptr : gb.data(), dy.data(), res ? dsum.data() : nullptr, s.data(), w.data(),
                            rms ? nullptr : mean.data(), rstd.data(), dt, p);
          Dev ds(s), dmean(mean), drstd(rstd), ogx(gx), ogw(gw), ogb(gb);
          norm_backward_cuda(ogx.p, ogw.p, rms ? nullptr : ogb.p, ddy.p, res ? ddsum.p : nullptr, ds.p, dw.p, rms ? nullptr : dmean.p, drstd.p,
                             dt, p, S());
          Host hx(dt, rows * D), hw(dt, D), hb(dt, D);
          ogx.to(hx), ogw.to(hw), ogb.to(hb);
          check(name + " dx", hx, gx, tol_for(dt, 1));
          check(name + " dw", hw, gw, tol_for(dt, std::sqrt(double(rows))));
          if (!rms) check(name + " db", hb, gb, tol_for(dt, std::sqrt(double(rows))));
        });
      }
}

// More rows than 65,535 chunks of 128 (about 8.4M): the dw/db partial sums once put one block per chunk in
// gridDim.y, which has that limit; they now walk the chunks with a grid-stride loop (cuda_launch.cuh).
void test_norm_many_rows() {
  const std::string name = "rmsNorm backward, 8.4M rows";
  guarded(name, [&] {
    const DType dt = DType::f32;
    NormParams p;
    p.rows = int64_t(65535) * 128 + 77, p.D = 2, p.rms = true;
    const int64_t n = p.rows * p.D;
    Host s(dt, n), dy(dt, n), w(dt, p.D), rstd(dt, p.rows), dx(dt, n), dw(dt, p.D);
    s.random(-2, 2), dy.random(-1, 1), w.random(0.5, 1.5), rstd.random(0.5, 2);
    norm_backward_cpu(dx.data(), dw.data(), nullptr, dy.data(), nullptr, s.data(), w.data(), nullptr, rstd.data(), dt, p);
    Dev ds(s), ddy(dy), dwt(w), drstd(rstd), gdx(n * 4), gdw(p.D * 4);
    norm_backward_cuda(gdx.p, gdw.p, nullptr, ddy.p, nullptr, ds.p, dwt.p, nullptr, drstd.p, dt, p, S());
    Host hx(dt, n), hw(dt, p.D);
    gdx.to(hx), gdw.to(hw);
    check(name + " dx", hx, dx, tol_for(dt, 1));
    check(name + " dw", hw, dw, tol_for(dt, std::sqrt(double(p.rows))));
  });
}

void test_rope() {
  for (DType dt : kLayer)
    for (int inter = 0; inter < 2; ++inter)
      for (int64_t rd : {int64_t(0), int64_t(10)}) {
        const std::string name = std::string("rope ") + lmf::dtype_name(dt) + (inter ? " interleaved" : " half") + (rd ? " partial" : "");
        guarded(name, [&] {
          RopeParams p;
          p.B = 2, p.H = 3, p.T = 19, p.D = 14, p.rotary_dims = rd ? rd : 14, p.offset = 5, p.base = 10000, p.interleaved = inter;
          const int64_t n = p.B * p.H * p.T * p.D;
          Host x(dt, n), ref(dt, n), got(dt, n);
          x.random(-2, 2);
          for (int inv = 0; inv < 2; ++inv) {
            rope_cpu(ref.data(), x.data(), dt, p, inv);
            Dev dx(x), dout(got);
            rope_cuda(dout.p, dx.p, dt, p, inv, S());
            dout.to(got);
            check(name + (inv ? " inverse" : ""), got, ref, tol_for(dt, 1));
          }
        });
      }
}

void test_embedding() {
  const int64_t V = 53, D = 37, N = 211;
  for (DType dt : kFloat) {
    const std::string name = std::string("embedding ") + lmf::dtype_name(dt);
    guarded(name, [&] {
      Host w(dt, V * D), idx(DType::i32, N), g(dt, N * D), ref(dt, N * D), got(dt, N * D);
      w.random(-1, 1), g.random(-1, 1);
      for (int64_t i = 0; i < N; ++i) idx.set(i, std::floor(uni(0, V - 0.01)));
      idx.set(120, -3), idx.set(17, V + 4);  // out of range: NaN rows, skipped in backward, the first in the fault word
      const uint64_t want = index_fault_key(17, V + 4);
      uint64_t fault = kNoIndexFault, gfault = kNoIndexFault;
      embedding_forward_cpu(ref.data(), &fault, w.data(), static_cast<const int32_t*>(idx.data()), N, V, D, dt);
      Dev dw(w), didx(idx), dg(g), dout(got), dfault(sizeof fault);
      lmf::cuda_copy(dfault.p, &gfault, sizeof gfault, 0);
      embedding_forward_cuda(dout.p, dfault.as<uint64_t>(), dw.p, didx.as<int32_t>(), N, V, D, dt, S());
      dout.to(got);
      lmf::cuda_copy(&gfault, dfault.p, sizeof gfault, 1);
      check(name + " forward", got, ref, Tol{0, 0});
      lmf::cudatest::check(fault == want && gfault == want && std::isnan(got.get(17 * D)), name + " forward fault word and NaN row");
      const DType acc = dt == DType::f64 ? DType::f64 : DType::f32;
      Host dref(acc, V * D), dgot(acc, V * D);  // zeroed
      fault = gfault = kNoIndexFault;
      embedding_backward_cpu(dref.data(), &fault, acc, g.data(), dt, static_cast<const int32_t*>(idx.data()), N, V, D);
      Dev ddw(dgot);
      lmf::cuda_copy(dfault.p, &gfault, sizeof gfault, 0);
      embedding_backward_cuda(ddw.p, dfault.as<uint64_t>(), acc, dg.p, dt, didx.as<int32_t>(), N, V, D, S());
      ddw.to(dgot);
      lmf::cuda_copy(&gfault, dfault.p, sizeof gfault, 1);
      check(name + " backward", dgot, dref, tol_for(acc, 10));
      lmf::cudatest::check(fault == want && gfault == want, name + " backward fault word");
    });
  }
}

void test_softmax_xent() {
  for (DType dt : kFloat) {
    const std::string dn = lmf::dtype_name(dt);
    for (int64_t inner : {int64_t(1), int64_t(7)}) {
      for (int log = 0; log < 2; ++log) {
        const std::string name = std::string(log ? "logSoftmax " : "softmax ") + dn + " inner " + std::to_string(inner);
        guarded(name, [&] {
          const int64_t outer = 13, n = 301;
          Host x(dt, outer * n * inner), ref(dt, outer * n * inner), got(dt, outer * n * inner);
          x.random(-6, 6);
          softmax_forward_cpu(ref.data(), x.data(), dt, outer, n, inner, log);
          Dev dx(x), dout(got);
          softmax_forward_cuda(dout.p, dx.p, dt, outer, n, inner, log, S());
          dout.to(got);
          check(name, got, ref, tol_for(dt, log ? 10 : 1e-2));
        });
      }
    }
    for (double z : {0.0, 1e-3}) {
      const std::string name = "crossEntropy " + dn + (z ? " zloss" : "");
      guarded(name, [&] {
        XentParams p;
        p.N = 37, p.V = 1009, p.ignore_index = -100, p.z_loss = z;
        Host x(dt, p.N * p.V), tg(DType::i32, p.N), loss(DType::f64, p.N), lse(DType::f64, p.N), rg(DType::f64, p.N);
        x.random(-5, 5), rg.random(0.1, 1);
        for (int64_t i = 0; i < p.N; ++i) tg.set(i, i % 9 == 4 ? -100 : std::floor(uni(0, p.V - 0.01)));
        tg.set(30, p.V), tg.set(11, -1);  // out of range: NaN loss and gradient rows, the first in the fault word
        const int32_t* t = static_cast<const int32_t*>(tg.data());
        uint64_t status[2] = {kNoIndexFault, 0}, gstatus[2] = {kNoIndexFault, 0};
        xent_forward_cpu(static_cast<double*>(loss.data()), static_cast<double*>(lse.data()), status, x.data(), dt, t, p);
        Dev dx(x), dt_(tg), dloss(loss), dlse(lse), drg(rg), dstatus(sizeof status);
        lmf::cuda_copy(dstatus.p, gstatus, sizeof gstatus, 0);
        xent_forward_cuda(dloss.as<double>(), dlse.as<double>(), dstatus.as<uint64_t>(), dx.p, dt, dt_.as<int32_t>(), p, S());
        Host gl(DType::f64, p.N), gs(DType::f64, p.N);
        dloss.to(gl), dlse.to(gs);
        lmf::cuda_copy(gstatus, dstatus.p, sizeof gstatus, 1);
        // 37 rows: 4 ignored (4, 13, 22, 31), 2 out of range
        lmf::cudatest::check(status[0] == index_fault_key(11, -1) && gstatus[0] == status[0] && status[1] == 31 && gstatus[1] == 31,
                             name + " fault word and valid rows");
        const Tol t64 = dt == DType::f64 ? Tol{1e-10, 1e-10} : Tol{2e-5, 2e-5};  // fp32 lanes on both sides
        check(name + " loss", gl, loss, t64);
        check(name + " lse", gs, lse, t64);
        Host dref(dt, p.N * p.V), dgot(dt, p.N * p.V);
        uint64_t fault = kNoIndexFault, gfault = kNoIndexFault;
        xent_backward_cpu(dref.data(), &fault, x.data(), dt, t, static_cast<const double*>(lse.data()), static_cast<const double*>(rg.data()), p);
        Dev dlse_cpu(lse), ddx(dgot), dfault(sizeof fault);
        lmf::cuda_copy(dfault.p, &gfault, sizeof gfault, 0);
        xent_backward_cuda(ddx.p, dfault.as<uint64_t>(), dx.p, dt, dt_.as<int32_t>(), dlse_cpu.as<double>(), drg.as<double>(), p, S());
        ddx.to(dgot);
        lmf::cuda_copy(&gfault, dfault.p, sizeof gfault, 1);
        lmf::cudatest::check(fault == index_fault_key(11, -1) && gfault == fault && std::isnan(dgot.get(30 * p.V)),
                             name + " backward fault word and NaN row");
        check(name + " backward", dgot, dref, tol_for(dt, 1e-2));
      });
    }
  }
}

void test_errors() {
  // A request far beyond the device's memory is an OutOfMemoryError, and the runtime works afterwards.
  bool threw = false;
  try {
    void* p = lmf::cuda_alloc(size_t(1) << 52);
    lmf::cuda_free(p, size_t(1) << 52);
  } catch (const lmf::Error& e) {
    threw = e.kind() == lmf::ErrorKind::memory;
  }
  if (threw) ++g_passed;
  else ++g_failed, std::printf("FAIL a 4 PiB allocation did not throw OutOfMemoryError\n");
  Dev d(64);
  Host h(DType::f32, 16), back(DType::f32, 16);
  h.random(-1, 1);
  lmf::cuda_copy(d.p, h.data(), 64, 0);
  lmf::cuda_copy(back.data(), d.p, 64, 1);
  check("round trip after an allocation failure", back, h, Tol{0, 0}, 16);
}

}  // namespace

int main() {
  const char* program = "cuda_twins_test";
  if (!lmf::cudatest::start(program)) return 1;
  if (!lmf::cuda_available()) return lmf::cudatest::finish(program);
  lmf::cudatest::check(lmf::cuda_versions().rfind("CUDA driver ", 0) == 0, "the driver and runtime versions are known: " + lmf::cuda_versions());
  test_matmul();
  test_gemm_engine();
  test_elementwise();
  test_reduce();
  test_activation();
  test_norm();
  test_norm_many_rows();
  test_rope();
  test_embedding();
  test_softmax_xent();
  test_errors();
  return lmf::cudatest::finish(program);
}
