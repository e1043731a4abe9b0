// CUDA twin vs CPU twin of attention, without Node: forward (out, lse) and backward (dq, dk, dv) on shapes
// that are not multiples of the 64-row tiles, with grouped-query heads, Tq < Tk, ALiBi, packed-document
// masks, causal and not, for bf16 and fp16 (tensor-core kernels at D = 64 and 128, the simple kernels at
// other D) and fp32 (simple kernels). The reference is the CPU twin in float32 on the same (rounded)
// inputs. Prints "skipped: no CUDA device" and passes where no GPU (or no CUDA build) is present.
//
// `cuda_attention_test --bench [out.json]` instead times the tensor-core kernels (bf16, causal, forward and
// backward, T 1024..16384, D 64 and 128, batch x T = 16k tokens, H = 2048 / D, as FlashAttention-2's
// benchmark) and reports TFLOP/s (causal FLOPs: half of 4 B H T^2 D forward, 2.5x that backward). It is a
// C++ program so that the GPU machine needs no Node, and the timing has no JS overhead in it.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../core/dtype.h"
#include "../kernels/attention.h"
#include "../kernels/math.h"
#include "../runtime/cuda_runtime.h"

using namespace lmf;
using namespace lmf::kernels;

namespace {
#if defined(LMF_WITH_CUDA)
int g_passed = 0, g_failed = 0;
void check(bool ok, const std::string& what) {
  if (ok) ++g_passed;
  else {
    ++g_failed;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

// Host-side storage of one dtype: values rounded to it, as float (for the CPU reference) and as bits.
struct Buf {
  DType dt;
  std::vector<float> f;  // the rounded values
  std::vector<uint16_t> h;
  void* dev = nullptr;
  size_t bytes = 0;
  Buf(DType d, size_t n) : dt(d), f(n), h(n), bytes(n * dtype_size(d)) { dev = cuda_alloc(std::max<size_t>(bytes, 16)); }
  ~Buf() { cuda_free(dev, std::max<size_t>(bytes, 16)); }
  Buf(const Buf&) = delete;
  void fill(std::mt19937& rng, float sd) {
    std::normal_distribution<float> nd(0.0f, sd);
    for (size_t i = 0; i < f.size(); ++i) {
      const float x = nd(rng);
      if (dt == DType::bf16) { h[i] = math::f32_to_bf16(x); f[i] = math::bf16_to_f32(h[i]); }
      else if (dt == DType::f16) { h[i] = math::f32_to_f16(x); f[i] = math::f16_to_f32(h[i]); }
      else f[i] = x;
    }
    upload();
  }
  void upload() { cuda_copy(dev, dt == DType::f32 ? static_cast<const void*>(f.data()) : h.data(), bytes, 0); }
  std::vector<float> download() {
    std::vector<float> out(f.size());
    if (dt == DType::f32) {
      cuda_copy(out.data(), dev, bytes, 1);
    } else {
      std::vector<uint16_t> b(f.size());
      cuda_copy(b.data(), dev, bytes, 1);
      for (size_t i = 0; i < b.size(); ++i) out[i] = dt == DType::bf16 ? math::bf16_to_f32(b[i]) : math::f16_to_f32(b[i]);
    }
    return out;
  }
};

// max |a - b| / max(max |b|, floor): a scale-free error that a wrong kernel cannot pass.
double rel_err(const std::vector<float>& a, const std::vector<float>& b, double floor = 1e-3) {
  double e = 0, m = floor;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    e = std::max(e, std::fabs(static_cast<double>(a[i]) - b[i]));
    m = std::max(m, std::fabs(static_cast<double>(b[i])));
  }
  return e / m;
}

struct Case {
  int64_t B, H, Hkv, Tq, Tk, D;
  DType dt;
  bool causal, alibi, docs;
};

std::vector<double> alibi_slopes(int64_t n) {
  // DESIGN.md's rule (powers of two; otherwise the largest power of two below n, then every other slope of 2c).
  auto pow2 = [](int64_t c) {
    std::vector<double> s;
    for (int64_t h = 1; h <= c; ++h) s.push_back(std::pow(2.0, -8.0 * h / c));
    return s;
  };
  int64_t c = 1;
  while (c * 2 <= n) c *= 2;
  std::vector<double> s = pow2(c);
  const std::vector<double> s2 = pow2(2 * c);
  for (size_t i = 0; static_cast<int64_t>(s.size()) < n; i += 2) s.push_back(s2[i]);
  return s;
}

void run_case(const Case& c, std::mt19937& rng) {
  char name[200];
  std::snprintf(name, sizeof name, "%s B%lld H%lld/%lld Tq%lld Tk%lld D%lld%s%s%s", dtype_name(c.dt), (long long)c.B, (long long)c.H,
                (long long)c.Hkv, (long long)c.Tq, (long long)c.Tk, (long long)c.D, c.causal ? " causal" : "", c.alibi ? " alibi" : "",
                c.docs ? " docs" : "");
  const size_t nq = c.B * c.H * c.Tq * c.D, nk = c.B * c.Hkv * c.Tk * c.D, rows = c.B * c.H * c.Tq;
  Buf q(c.dt, nq), k(c.dt, nk), v(c.dt, nk), out(c.dt, nq), dout(c.dt, nq), dq(c.dt, nq), dk(c.dt, nk), dv(c.dt, nk);
  q.fill(rng, 1.0f);
  k.fill(rng, 1.0f);
  v.fill(rng, 1.0f);
  dout.fill(rng, 1.0f);
  std::vector<double> slopes = alibi_slopes(c.H);
  std::vector<int32_t> docs(c.B * c.Tk);
  for (int64_t b = 0; b < c.B; ++b) {
    int32_t d = 0;
    for (int64_t j = 0; j < c.Tk; ++j) {
      if (j > 0 && rng() % 23 == 0) ++d;  // documents of random lengths
      docs[b * c.Tk + j] = d;
    }
  }
  void* ddocs = cuda_alloc(docs.size() * 4 + 16);
  cuda_copy(ddocs, docs.data(), docs.size() * 4, 0);

  AttentionParams p;
  p.B = c.B; p.H = c.H; p.Hkv = c.Hkv; p.Tq = c.Tq; p.Tk = c.Tk; p.D = c.D;
  p.scale = 1.0 / std::sqrt(static_cast<double>(c.D));
  p.causal = c.causal;
  p.slopes = c.alibi ? slopes.data() : nullptr;
  p.dtype = c.dt;
  p.doc_ids = c.docs ? static_cast<const int32_t*>(ddocs) : nullptr;

  void* dlse = cuda_alloc(rows * 4 + 16);
  const int64_t wsn = attention_backward_workspace_cuda(p);
  void* dws = cuda_alloc(wsn * 4 + 16);
  attention_forward_cuda(out.dev, dlse, q.dev, k.dev, v.dev, p, cuda_current_stream());
  attention_backward_cuda(dq.dev, dk.dev, dv.dev, dout.dev, q.dev, k.dev, v.dev, out.dev, dlse, static_cast<float*>(dws), p,
                          cuda_current_stream());
  const std::vector<float> o_gpu = out.download(), dq_gpu = dq.download(), dk_gpu = dk.download(), dv_gpu = dv.download();
  std::vector<float> lse_gpu(rows);
  cuda_copy(lse_gpu.data(), dlse, rows * 4, 1);

  // CPU twin in float32 on the rounded inputs; its own out and lse feed its backward.
  AttentionParams pc = p;
  pc.dtype = DType::f32;
  pc.doc_ids = c.docs ? docs.data() : nullptr;
  std::vector<float> o_ref(nq), lse_ref(rows), dq_ref(nq), dk_ref(nk), dv_ref(nk);
  attention_forward_cpu(o_ref.data(), lse_ref.data(), q.f.data(), k.f.data(), v.f.data(), pc);
  std::vector<float> ws(std::max<int64_t>(attention_backward_workspace(pc), 1));
  attention_backward_cpu(dq_ref.data(), dk_ref.data(), dv_ref.data(), dout.f.data(), q.f.data(), k.f.data(), v.f.data(),
                         o_ref.data(), lse_ref.data(), ws.data(), pc);

  // Tolerances: bf16 keeps 8 bits (P and dS are rounded to it before their products), fp16 11.
  const double tol_o = c.dt == DType::bf16 ? 2e-2 : c.dt == DType::f16 ? 4e-3 : 2e-5;
  const double tol_g = c.dt == DType::bf16 ? 4e-2 : c.dt == DType::f16 ? 8e-3 : 5e-5;
  const double tol_l = c.dt == DType::f32 ? 2e-5 : 2e-3;
  double el = 0;
  for (size_t r = 0; r < rows; ++r) el = std::max(el, std::fabs(static_cast<double>(lse_gpu[r]) - lse_ref[r]) / std::max(1.0, std::fabs(static_cast<double>(lse_ref[r]))));
  const double eo = rel_err(o_gpu, o_ref), eq = rel_err(dq_gpu, dq_ref), ek = rel_err(dk_gpu, dk_ref), ev = rel_err(dv_gpu, dv_ref);
  std::printf("  %-60s [%s] out %.2e lse %.2e dq %.2e dk %.2e dv %.2e\n", name, attention_cuda_kernel_name(p), eo, el, eq, ek, ev);
  check(eo <= tol_o, std::string(name) + ": out");
  check(el <= tol_l, std::string(name) + ": lse");
  check(eq <= tol_g, std::string(name) + ": dq");
  check(ek <= tol_g, std::string(name) + ": dk");
  check(ev <= tol_g, std::string(name) + ": dv");
  cuda_free(dws, wsn * 4 + 16);
  cuda_free(dlse, rows * 4 + 16);
  cuda_free(ddocs, docs.size() * 4 + 16);
}

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
  const bool want_bench = argc > 1 && std::strcmp(argv[1], "--bench") == 0;
#if !defined(LMF_WITH_CUDA)
  (void)want_bench;
  std::printf("skipped: no CUDA device (built without CUDA support)\n");
  return 0;
#else
  if (!cuda_available()) {
    std::printf("skipped: no CUDA device (%s)\n", cuda_unavailable_reason().c_str());
    return 0;
  }
  if (want_bench) return bench(argc > 2 ? argv[2] : nullptr);
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
      // simple kernels: other head dims, float32
      {1, 2, 2, 45, 45, 48, bf, true, false, false},
      {1, 2, 1, 40, 70, 32, f32, true, true, true},
      {2, 2, 2, 64, 64, 64, f32, false, false, false},
      {1, 3, 1, 37, 37, 200, hf, true, true, false},
  };
  for (const Case& c : cases) run_case(c, rng);
  std::printf("cuda_attention_test: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
#endif
}
