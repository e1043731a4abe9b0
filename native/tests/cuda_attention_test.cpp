// CUDA twin of attention against a float64 reference, without Node: forward (out, lse) and backward (dq, dk,
// dv) on shapes that are not multiples of the 64-row tiles, with grouped-query heads, Tq < Tk (several query
// blocks, causal), ALiBi, packed-document masks with B > 1, causal and not, for bf16 and fp16 (tensor-core
// kernels at D = 64 and 128, the simple kernels at other D) and fp32 (simple kernels); a long sequence
// (T = 4096) with the error reported by row position; unaligned data, which must take the simple kernels;
// and every backward run twice, the second time on a poisoned workspace (its reuse must not leak).
//
// The reference is the CPU twin's float64 path on the same rounded inputs. On a machine without a GPU the
// CPU twin (bf16 or f32) takes the CUDA twin's place, so the cases, the reference and the tolerances are
// checked here before a GPU sees them (cuda_test_util.h: LMF_REQUIRE_CUDA=1 makes a missing GPU a failure).
// Outputs are poisoned with NaN before each call, so an element a kernel never writes fails.
//
// `cuda_attention_test --quick` runs four small cases (both tensor-core kernels, the simple kernels on
// unaligned and fp32 data) for compute-sanitizer, under which kernels run far slower.
// `cuda_attention_test --bench [out.json]` instead times the tensor-core kernels (bf16, causal, forward and
// backward, T 1024..16384, D 64 and 128, batch x T = 16k tokens, H = 2048 / D, as FlashAttention-2's
// benchmark) and reports TFLOP/s (causal FLOPs: half of 4 B H T^2 D forward, 2.5x that backward). It is a
// C++ program so that the GPU machine needs no Node, and the timing has no JS overhead in it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../core/dtype.h"
#include "../kernels/attention.h"
#include "../kernels/math.h"
#include "../runtime/cuda_runtime.h"
#include "cuda_test_util.h"

using namespace lmf;
using namespace lmf::kernels;
using lmf::cudatest::check;

namespace {

struct Case {
  int64_t B, H, Hkv, Tq, Tk, D;
  DType dt;
  bool causal, alibi, docs;
  int offset = 0;      // elements by which every data pointer is shifted: 1 makes them unaligned
  int buckets = 0;     // > 0: also report and check the error in this many bands of row positions
};

std::string case_name(const Case& c) {
  char name[200];
  std::snprintf(name, sizeof name, "%s B%lld H%lld/%lld Tq%lld Tk%lld D%lld%s%s%s%s", dtype_name(c.dt), (long long)c.B, (long long)c.H,
                (long long)c.Hkv, (long long)c.Tq, (long long)c.Tk, (long long)c.D, c.causal ? " causal" : "", c.alibi ? " alibi" : "",
                c.docs ? " docs" : "", c.offset ? " unaligned" : "");
  return name;
}

// Values of one dtype: the raw storage (bits for bf16/fp16, floats for f32) and their exact float64 image.
struct Vals {
  DType dt;
  std::vector<uint16_t> h;
  std::vector<float> f;
  std::vector<double> d;
  Vals(DType t, size_t n) : dt(t), d(n) {
    if (t == DType::f32) f.resize(n);
    else h.resize(n);
  }
  size_t size() const { return d.size(); }
  void set(size_t i, float x) {
    if (dt == DType::bf16) d[i] = math::bf16_to_f32(h[i] = math::f32_to_bf16(x));
    else if (dt == DType::f16) d[i] = math::f16_to_f32(h[i] = math::f32_to_f16(x));
    else d[i] = f[i] = x;
  }
  const void* raw() const { return dt == DType::f32 ? static_cast<const void*>(f.data()) : h.data(); }
  size_t bytes() const { return size() * dtype_size(dt); }
  void* raw() { return dt == DType::f32 ? static_cast<void*>(f.data()) : h.data(); }
  // The float64 image of what the raw storage holds now (after a twin wrote it).
  void refresh() {
    for (size_t i = 0; i < size(); ++i)
      d[i] = dt == DType::f32 ? f[i] : dt == DType::bf16 ? math::bf16_to_f32(h[i]) : math::f16_to_f32(h[i]);
  }
  void from_raw(const void* src) {
    std::memcpy(raw(), src, bytes());
    refresh();
  }
};

struct Inputs {
  Case c;
  Vals q, k, v, dout;
  std::vector<double> slopes;
  std::vector<int32_t> docs;
  Inputs(const Case& cs, std::mt19937& rng)
      : c(cs), q(cs.dt, cs.B * cs.H * cs.Tq * cs.D), k(cs.dt, cs.B * cs.Hkv * cs.Tk * cs.D), v(cs.dt, k.size()), dout(cs.dt, q.size()) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (Vals* x : {&q, &k, &v, &dout})
      for (size_t i = 0; i < x->size(); ++i) x->set(i, nd(rng));
    // DESIGN.md's ALiBi rule (powers of two; otherwise the largest power of two below n, then every other slope of 2c).
    auto pow2 = [](int64_t n) {
      std::vector<double> s;
      for (int64_t h = 1; h <= n; ++h) s.push_back(std::pow(2.0, -8.0 * h / n));
      return s;
    };
    int64_t p2 = 1;
    while (p2 * 2 <= c.H) p2 *= 2;
    slopes = pow2(p2);
    const std::vector<double> s2 = pow2(2 * p2);
    for (size_t i = 0; static_cast<int64_t>(slopes.size()) < c.H; i += 2) slopes.push_back(s2[i]);
    // Documents of random lengths, different in each batch row.
    docs.resize(c.B * c.Tk);
    for (int64_t b = 0; b < c.B; ++b) {
      int32_t d = static_cast<int32_t>(b);
      for (int64_t j = 0; j < c.Tk; ++j) {
        if (j > 0 && rng() % 23 == 0) ++d;
        docs[b * c.Tk + j] = d;
      }
    }
  }
  AttentionParams params(DType dt) const {
    AttentionParams p;
    p.B = c.B; p.H = c.H; p.Hkv = c.Hkv; p.Tq = c.Tq; p.Tk = c.Tk; p.D = c.D;
    p.scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    p.causal = c.causal;
    p.slopes = c.alibi ? slopes.data() : nullptr;
    p.doc_ids = c.docs ? docs.data() : nullptr;
    p.dtype = dt;
    return p;
  }
};

struct Result {
  std::vector<double> out, lse, dq, dk, dv;
  std::string fwd_kernel, bwd_kernel;  // what the CUDA twin reports it ran ("" for the CPU twin)
};

// The float64 reference: the CPU twin's double-precision path on the rounded inputs (attention_test.cpp
// checks that path against a naive full-matrix implementation).
Result reference(const Inputs& in) {
  const AttentionParams p = in.params(DType::f64);
  Result r;
  r.out.resize(in.q.size());
  r.lse.resize(in.c.B * in.c.H * in.c.Tq);
  r.dq.resize(in.q.size());
  r.dk.resize(in.k.size());
  r.dv.resize(in.k.size());
  attention_forward_cpu(r.out.data(), r.lse.data(), in.q.d.data(), in.k.d.data(), in.v.d.data(), p);
  std::vector<float> ws(std::max<int64_t>(attention_backward_workspace(p), 1));
  attention_backward_cpu(r.dq.data(), r.dk.data(), r.dv.data(), in.dout.d.data(), in.q.d.data(), in.k.d.data(), in.v.d.data(),
                         r.out.data(), r.lse.data(), ws.data(), p);
  return r;
}

// Without a GPU the CPU twin stands in for the CUDA twin: bf16 natively; f32 and fp16 (which the CPU twin
// lacks) in float32, fp16's outputs rounded to fp16 as the CUDA twin stores them.
Result cpu_twin(const Inputs& in) {
  const DType dt = in.c.dt == DType::bf16 ? DType::bf16 : DType::f32;
  const AttentionParams p = in.params(dt);
  auto as = [&](const Vals& x) {
    Vals y(dt, x.size());
    for (size_t i = 0; i < x.size(); ++i) y.set(i, static_cast<float>(x.d[i]));
    return y;
  };
  const Vals q = as(in.q), k = as(in.k), v = as(in.v), dout = as(in.dout);
  Vals out(dt, q.size()), dq(dt, q.size()), dk(dt, k.size()), dv(dt, k.size());
  std::vector<float> lse(in.c.B * in.c.H * in.c.Tq);
  std::vector<float> ws(std::max<int64_t>(attention_backward_workspace(p), 1));
  attention_forward_cpu(out.raw(), lse.data(), q.raw(), k.raw(), v.raw(), p);
  attention_backward_cpu(dq.raw(), dk.raw(), dv.raw(), dout.raw(), q.raw(), k.raw(), v.raw(), out.raw(), lse.data(), ws.data(), p);
  Result r;
  for (Vals* x : {&out, &dq, &dk, &dv}) x->refresh();
  auto stored = [&](const Vals& x) {  // rounded to the case's dtype, as the CUDA twin would store it
    Vals y(in.c.dt, x.size());
    for (size_t i = 0; i < x.size(); ++i) y.set(i, static_cast<float>(x.d[i]));
    return y.d;
  };
  r.out = stored(out);
  r.dq = stored(dq);
  r.dk = stored(dk);
  r.dv = stored(dv);
  r.lse.assign(lse.begin(), lse.end());
  return r;
}

#if defined(LMF_WITH_CUDA)
// Device memory for one buffer, shifted by `offset` elements; filled with 0xFF bytes (NaN in every float
// dtype) unless given values.
struct DevBuf {
  size_t bytes, shift;
  void* base;
  DevBuf(size_t b, size_t sh) : bytes(b), shift(sh), base(cuda_alloc(b + sh)) { poison(); }  // exact: memcheck sees the end
  ~DevBuf() { cuda_free(base, bytes + shift); }
  DevBuf(const DevBuf&) = delete;
  void* p() const { return static_cast<char*>(base) + shift; }
  void poison() {
    const std::vector<unsigned char> nan(bytes, 0xFF);
    if (bytes) cuda_copy(p(), nan.data(), bytes, 0);
  }
  void upload(const void* src) {
    if (bytes) cuda_copy(p(), src, bytes, 0);
  }
  std::vector<unsigned char> download() const {
    std::vector<unsigned char> h(bytes);
    if (bytes) cuda_copy(h.data(), p(), bytes, 1);
    return h;
  }
};

// The CUDA twin; the backward runs twice, the second time after the workspace and outputs are poisoned, and
// the second run's results are returned (dk and dv must equal the first run's bit for bit: no atomics).
Result cuda_twin(const Inputs& in, bool& repeat_same) {
  const Case& c = in.c;
  const AttentionParams p0 = in.params(c.dt);
  const size_t es = dtype_size(c.dt), sh = static_cast<size_t>(c.offset) * es;
  const size_t rows = static_cast<size_t>(c.B * c.H * c.Tq);
  DevBuf q(in.q.bytes(), sh), k(in.k.bytes(), sh), v(in.v.bytes(), sh), dout(in.dout.bytes(), sh), out(in.q.bytes(), sh),
      dq(in.q.bytes(), sh), dk(in.k.bytes(), sh), dv(in.k.bytes(), sh), lse(rows * 4, 0), docs(in.docs.size() * 4, 0),
      ws(static_cast<size_t>(attention_backward_workspace_cuda(p0)) * 4, 0);
  q.upload(in.q.raw());
  k.upload(in.k.raw());
  v.upload(in.v.raw());
  dout.upload(in.dout.raw());
  docs.upload(in.docs.data());
  AttentionParams p = p0;
  p.doc_ids = c.docs ? static_cast<const int32_t*>(docs.p()) : nullptr;
  cuda_stream st = cuda_current_stream();
  Result r;
  attention_forward_cuda(out.p(), lse.p(), q.p(), k.p(), v.p(), p, st);
  r.fwd_kernel = attention_cuda_last_kernel(false);
  attention_backward_cuda(dq.p(), dk.p(), dv.p(), dout.p(), q.p(), k.p(), v.p(), out.p(), lse.p(), static_cast<float*>(ws.p()), p, st);
  const std::vector<unsigned char> dk1 = dk.download(), dv1 = dv.download();
  for (DevBuf* b : {&ws, &dq, &dk, &dv}) b->poison();
  attention_backward_cuda(dq.p(), dk.p(), dv.p(), dout.p(), q.p(), k.p(), v.p(), out.p(), lse.p(), static_cast<float*>(ws.p()), p, st);
  r.bwd_kernel = attention_cuda_last_kernel(true);
  repeat_same = dk.download() == dk1 && dv.download() == dv1;
  Vals x(c.dt, in.q.size()), y(c.dt, in.k.size());
  x.from_raw(out.download().data());
  r.out = x.d;
  x.from_raw(dq.download().data());
  r.dq = x.d;
  y.from_raw(dk.download().data());
  r.dk = y.d;
  y.from_raw(dv.download().data());
  r.dv = y.d;
  std::vector<float> l(rows);
  cuda_copy(l.data(), lse.p(), rows * 4, 1);
  r.lse.assign(l.begin(), l.end());
  return r;
}
#endif

// max |a - b| / max(max |b|, floor) over [lo, hi) rows of `width` values: a scale-free error that a wrong
// kernel cannot pass by being small; NaN or inf anywhere (an unwritten output) is infinite.
double rel_err(const std::vector<double>& a, const std::vector<double>& b, size_t lo = 0, size_t hi = SIZE_MAX, double floor = 1e-3) {
  hi = std::min(hi, b.size());
  double e = 0, m = floor;
  for (size_t i = lo; i < hi; ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    e = std::max(e, std::fabs(a[i] - b[i]));
    m = std::max(m, std::fabs(b[i]));
  }
  return e / m;
}
// |a - b| / max(1, |b|) of the log-sum-exps.
double lse_err(const std::vector<double>& a, const std::vector<double>& b, size_t lo = 0, size_t hi = SIZE_MAX) {
  hi = std::min(hi, b.size());
  double e = 0;
  for (size_t i = lo; i < hi; ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    e = std::max(e, std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(b[i])));
  }
  return e;
}

// The error of every row band [t0, t1) of positions, over all batch rows and heads: a kernel whose error
// grows along the sequence (a drifting running max or sum) shows it in the last bands. Returns the worst.
struct Band {
  double out = 0, lse = 0, dq = 0, dk = 0, dv = 0;
};
Band band_err(const Result& got, const Result& ref, const Case& c, int64_t t0, int64_t t1, bool keys) {
  Band w;
  const int64_t heads = keys ? c.B * c.Hkv : c.B * c.H, T = keys ? c.Tk : c.Tq;
  for (int64_t bh = 0; bh < heads; ++bh) {
    const size_t r0 = static_cast<size_t>(bh * T + t0), r1 = static_cast<size_t>(bh * T + std::min(t1, T));
    if (keys) {
      w.dk = std::max(w.dk, rel_err(got.dk, ref.dk, r0 * c.D, r1 * c.D));
      w.dv = std::max(w.dv, rel_err(got.dv, ref.dv, r0 * c.D, r1 * c.D));
    } else {
      w.out = std::max(w.out, rel_err(got.out, ref.out, r0 * c.D, r1 * c.D));
      w.lse = std::max(w.lse, lse_err(got.lse, ref.lse, r0, r1));
      w.dq = std::max(w.dq, rel_err(got.dq, ref.dq, r0 * c.D, r1 * c.D));
    }
  }
  return w;
}

void run_case(const Case& c, std::mt19937& rng) {
  const std::string name = case_name(c);
  const Inputs in(c, rng);
  const Result ref = reference(in);
  const bool gpu = cuda_available();
  bool repeat_same = true;
  Result got;
#if defined(LMF_WITH_CUDA)
  if (gpu) {
    try {
      got = cuda_twin(in, repeat_same);
    } catch (const std::exception& e) {
      check(false, name + ": threw " + e.what());
      return;
    }
  }
#endif
  if (!gpu) got = cpu_twin(in);
  const std::string who = gpu ? "cuda" : "cpu twin";
  // bf16 keeps 8 bits (the CUDA twin rounds P and dS to it before their products), fp16 11.
  const double tol_o = c.dt == DType::bf16 ? 2e-2 : c.dt == DType::f16 ? 4e-3 : 2e-5;
  const double tol_g = c.dt == DType::bf16 ? 4e-2 : c.dt == DType::f16 ? 8e-3 : 5e-5;
  const double tol_l = c.dt == DType::f32 ? 2e-5 : 2e-3;
  const double eo = rel_err(got.out, ref.out), el = lse_err(got.lse, ref.lse), eq = rel_err(got.dq, ref.dq), ek = rel_err(got.dk, ref.dk),
               ev = rel_err(got.dv, ref.dv);
  std::printf("  %-48s [%s%s%s] out %.2e lse %.2e dq %.2e dk %.2e dv %.2e\n", name.c_str(), who.c_str(), gpu ? " " : "",
              gpu ? (got.fwd_kernel + "/" + got.bwd_kernel).c_str() : "", eo, el, eq, ek, ev);
  check(eo <= tol_o, name + ": out (" + who + ")");
  check(el <= tol_l, name + ": lse (" + who + ")");
  check(eq <= tol_g, name + ": dq (" + who + ")");
  check(ek <= tol_g, name + ": dk (" + who + ")");
  check(ev <= tol_g, name + ": dv (" + who + ")");
  if (gpu) {
    check(repeat_same, name + ": a second backward on the reused (poisoned) workspace gives the same dk and dv");
    // The kernels that ran: tensor cores exactly where dtype, D and alignment allow them.
    const bool tc = (c.dt == DType::bf16 || c.dt == DType::f16) && (c.D == 64 || c.D == 128) && c.offset == 0;
    const char* want = tc ? "tensor-core" : "simple";
    check(got.fwd_kernel == want && got.bwd_kernel == want,
          name + ": ran " + got.fwd_kernel + "/" + got.bwd_kernel + " kernels, expected " + want);
  }
  if (c.buckets > 0) {
    std::printf("    %-13s %9s %9s %9s | %9s %9s\n", "positions", "out", "lse", "dq", "dk", "dv");
    for (int bkt = 0; bkt < c.buckets; ++bkt) {
      const int64_t t0 = c.Tq * bkt / c.buckets, t1 = c.Tq * (bkt + 1) / c.buckets;
      const int64_t k0 = c.Tk * bkt / c.buckets, k1 = c.Tk * (bkt + 1) / c.buckets;
      const Band q = band_err(got, ref, c, t0, t1, false), k = band_err(got, ref, c, k0, k1, true);
      std::printf("    %6lld-%-6lld %9.2e %9.2e %9.2e | %9.2e %9.2e\n", (long long)t0, (long long)t1 - 1, q.out, q.lse, q.dq, k.dk, k.dv);
      const std::string band = name + " positions " + std::to_string(t0) + ".." + std::to_string(t1 - 1) + " (" + who + ")";
      check(q.out <= tol_o && q.lse <= tol_l && q.dq <= tol_g, band + ": out, lse, dq");
      check(k.dk <= tol_g && k.dv <= tol_g, band + ": dk, dv");
    }
  }
}

#if defined(LMF_WITH_CUDA)
// Waits for the stream: a device-to-host copy synchronizes (the contract's cuda_copy).
void sync_device(void* scratch) {
  float x;
  cuda_copy(&x, scratch, 4, 1);
}

int bench(const char* out_path) {
  FILE* js = out_path ? std::fopen(out_path, "w") : nullptr;
  if (out_path && !js) {
    std::printf("cannot write %s\n", out_path);
    return 1;
  }
  if (js) std::fprintf(js, "[\n");
  bool first = true;
  std::printf("%6s %4s %4s %4s %10s %10s %10s %10s %10s\n", "T", "D", "B", "H", "fwd ms", "bwd ms", "fwd TF/s", "bwd TF/s", "f+b TF/s");
  for (int64_t D : {64, 128}) {
    for (int64_t T : {1024, 2048, 4096, 8192, 16384}) {
      const int64_t H = 2048 / D, B = std::max<int64_t>(1, 16384 / T);
      const size_t n = static_cast<size_t>(B * H * T * D), rows = static_cast<size_t>(B * H * T);
      std::vector<uint16_t> h(n);
      uint32_t st = 12345;
      for (auto& x : h) {
        st = st * 1664525u + 1013904223u;
        x = math::f32_to_bf16((static_cast<float>(st >> 8) / 16777216.0f - 0.5f) * 2.0f);
      }
      const size_t bytes = n * 2;
      void* bufs[8];
      for (auto& b : bufs) {
        b = cuda_alloc(bytes);
        cuda_copy(b, h.data(), bytes, 0);
      }
      void* lse = cuda_alloc(rows * 4);
      AttentionParams p;
      p.B = B; p.H = H; p.Hkv = H; p.Tq = T; p.Tk = T; p.D = D;
      p.dtype = DType::bf16;
      p.scale = 1.0 / std::sqrt(static_cast<double>(D));
      p.causal = true;
      const int64_t wsn = attention_backward_workspace_cuda(p);
      void* ws = cuda_alloc(wsn * 4);
      auto fwd = [&] { attention_forward_cuda(bufs[3], lse, bufs[0], bufs[1], bufs[2], p, cuda_current_stream()); };
      auto bwd = [&] {
        attention_backward_cuda(bufs[5], bufs[6], bufs[7], bufs[4], bufs[0], bufs[1], bufs[2], bufs[3], lse, static_cast<float*>(ws), p,
                                cuda_current_stream());
      };
      auto time_ms = [&](auto&& f) {
        f();
        f();
        sync_device(lse);
        const int iters = T >= 8192 ? 5 : 20;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i) f();
        sync_device(lse);
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
      };
      const double tf = time_ms(fwd), tb = time_ms(bwd);
      const double flops_f = 4.0 * B * H * T * T * D / 2.0, flops_b = 2.5 * flops_f;
      const double rf = flops_f / tf / 1e9, rb = flops_b / tb / 1e9, rfb = (flops_f + flops_b) / (tf + tb) / 1e9;
      std::printf("%6lld %4lld %4lld %4lld %10.3f %10.3f %10.1f %10.1f %10.1f\n", (long long)T, (long long)D, (long long)B, (long long)H,
                  tf, tb, rf, rb, rfb);
      if (js)
        std::fprintf(js,
                     "%s  {\"T\": %lld, \"D\": %lld, \"B\": %lld, \"H\": %lld, \"dtype\": \"bfloat16\", \"causal\": true, "
                     "\"fwdMs\": %.4f, \"bwdMs\": %.4f, \"fwdTflops\": %.2f, \"bwdTflops\": %.2f, \"fwdBwdTflops\": %.2f}",
                     first ? "" : ",\n", (long long)T, (long long)D, (long long)B, (long long)H, tf, tb, rf, rb, rfb);
      first = false;
      for (auto& b : bufs) cuda_free(b, bytes);
      cuda_free(lse, rows * 4);
      cuda_free(ws, wsn * 4);
    }
  }
  if (js) {
    std::fprintf(js, "\n]\n");
    std::fclose(js);
  }
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const char* program = "cuda_attention_test";
  if (!cudatest::start(program)) return 1;
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
#if defined(LMF_WITH_CUDA)
    if (cuda_available()) return bench(argc > 2 ? argv[2] : nullptr);
#endif
    return 0;  // nothing to time (start() said why)
  }
  std::mt19937 rng(1234);
  const DType bf = DType::bf16, hf = DType::f16, f32 = DType::f32;
  const std::vector<Case> cases = {
      // tensor-core kernels: D 64 / 128, tails in Tq and Tk, GQA, Tq < Tk, every mask option
      {1, 2, 2, 77, 77, 64, bf, true, false, false},
      {2, 4, 2, 50, 131, 64, bf, true, true, false},
      {1, 4, 1, 129, 129, 128, bf, true, false, true},
      {2, 3, 3, 100, 100, 128, bf, false, true, false},
      {1, 2, 2, 65, 65, 64, hf, false, false, true},
      {1, 6, 2, 33, 200, 128, hf, true, true, true},
      {1, 2, 1, 300, 300, 64, hf, true, false, false},
      {1, 1, 1, 1, 70, 64, bf, true, false, false},
      // packed documents with B > 1 (each batch row its own boundaries), causal and not, Tq < Tk
      {2, 4, 2, 150, 150, 64, bf, true, false, true},
      {3, 2, 1, 70, 200, 128, hf, false, false, true},
      {2, 2, 2, 96, 96, 48, bf, true, false, true},
      {2, 2, 1, 40, 90, 32, f32, true, true, true},
      // causal with several query blocks and Tq < Tk (the diagonal is offset by Tk - Tq in every block)
      {1, 4, 2, 200, 333, 64, bf, true, false, false},
      {2, 2, 2, 130, 257, 128, hf, true, true, true},
      // unaligned data (every pointer 2 bytes off): the tensor-core kernels must not run
      {1, 2, 1, 100, 100, 64, bf, true, false, false, 1},
      {2, 2, 2, 70, 140, 128, hf, true, false, true, 1},
      // simple kernels: other head dims, float32
      {1, 2, 2, 45, 45, 48, bf, true, false, false},
      {1, 2, 1, 40, 70, 32, f32, true, true, true},
      {2, 2, 2, 64, 64, 64, f32, false, false, false},
      {1, 3, 1, 37, 37, 200, hf, true, true, false},
      // long sequences against float64, with the error by position (8 bands of 512 rows)
      {1, 2, 1, 4096, 4096, 64, bf, true, false, false, 0, 8},
      {1, 1, 1, 4096, 4096, 128, hf, true, false, false, 0, 8},
  };
  const std::vector<Case> quick = {
      {2, 4, 2, 150, 150, 64, bf, true, false, true},
      {1, 6, 2, 33, 200, 128, hf, true, true, true},
      {1, 2, 1, 100, 100, 64, bf, true, false, false, 1},
      {1, 2, 1, 40, 70, 32, f32, true, true, true},
  };
  const bool is_quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  for (const Case& c : is_quick ? quick : cases) run_case(c, rng);
  return cudatest::finish(program);
}
