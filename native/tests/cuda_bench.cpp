// CUDA timings for the GPU check (scripts/device_check_cuda.sh): bf16/fp16/fp32 GEMM through the op path
// (cuBLASLt) and the fallback kernel, with the engine each GEMM really ran on, and each kernel family's
// achieved bandwidth against a device-to-device copy measured in the same run. Medians of
// CUDA-event-timed repetitions after warm-up. Prints one JSON object. Not a test: it asserts nothing
// (timing is never a test assertion), but under LMF_REQUIRE_CUDA=1 a missing device fails it; built only
// in a CUDA build.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "../kernels/activation.h"
#include "../kernels/elementwise.h"
#include "../kernels/embedding.h"
#include "../kernels/matmul.h"
#include "../kernels/norm.h"
#include "../kernels/reduce.h"
#include "../kernels/rope.h"
#include "../kernels/softmax_xent.h"
#include "../runtime/cuda_runtime.h"
#include "cuda_test_util.h"

using namespace lmf;
using namespace lmf::kernels;

namespace {

struct Dev {
  size_t bytes;
  void* p;
  explicit Dev(size_t b) : bytes(b), p(cuda_alloc(b)) {
    rand_uniform_cuda(p, DType::f32, static_cast<int64_t>(b / 4), 1, 0, -1, 1, cuda_current_stream());  // never zeros
  }
  ~Dev() { cuda_free(p, bytes); }
  template <class T> T* as() const { return static_cast<T*>(p); }
};

// Median milliseconds of fn over reps runs (each timed with events), after 3 warm-ups.
double median_ms(const std::function<void()>& fn, int reps = 15) {
  for (int i = 0; i < 3; ++i) fn();
  void* a = cuda_event_create();
  void* b = cuda_event_create();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    cuda_event_record(a);
    fn();
    cuda_event_record(b);
    t.push_back(cuda_event_elapsed_ms(a, b));
  }
  cuda_event_destroy(a);
  cuda_event_destroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::string g_json;
void add(const std::string& kv) { g_json += (g_json.empty() ? "" : ",\n  ") + kv; }

}  // namespace

int main(int argc, char** argv) {
  if (!cudatest::start("cuda_bench")) return 1;
  if (!cuda_available()) return 0;
  cuda_stream s = cuda_current_stream();
  add("\"device\": \"" + cuda_device_name() + "\"");
  add("\"versions\": \"" + cuda_versions() + "\"");
  add("\"gemm_engine\": \"" + cuda_gemm_engine() + "\"");

  // Copy bandwidth: 2 GiB device to device, bytes read plus bytes written.
  const size_t big = size_t(2) << 30;
  double copy_gbs;
  {
    Dev x(big), y(big);
    const double ms = median_ms([&] { cuda_copy(y.p, x.p, big, 2); });
    copy_gbs = 2.0 * big / (ms * 1e6);
    char buf[160];
    std::snprintf(buf, sizeof buf, "\"copy_GBps\": %.1f", copy_gbs);
    add(buf);
    std::printf("device copy: %.1f GB/s\n", copy_gbs);
  }

  // GEMM: square sizes, three dtypes; op path (cuBLASLt when loaded), with the bias+residual epilogue, and
  // the fallback kernel (bf16 only, one size: it is slow).
  std::string gemm;
  for (DType dt : {DType::bf16, DType::f16, DType::f32})
    for (int64_t n : {int64_t(4096), int64_t(8192)}) {
      const size_t es = dtype_size(dt);
      Dev a(n * n * es), b(n * n * es), c(n * n * es), bias(n * es), res(n * n * es);
      GemmParams p;
      p.M = p.N = p.K = n, p.dtype = dt;
      p.a = a.p, p.rs_a = n, p.cs_a = 1, p.b = b.p, p.rs_b = n, p.cs_b = 1, p.c = c.p, p.rs_c = n;
      const double flop = 2.0 * n * n * n;
      const double ms = median_ms([&] { matmul_forward_cuda(p, s); }, 10);
      const std::string engine = cuda_last_gemm_engine();
      GemmParams pe = p;
      pe.bias = bias.p, pe.residual = res.p, pe.rs_r = n;
      const double ms_e = median_ms([&] { matmul_forward_cuda(pe, s); }, 10);
      double ms_f = 0;
      if (dt == DType::bf16 && n == 4096) ms_f = median_ms([&] { matmul_fallback_cuda(p, s); }, 3);
      char buf[480];
      std::snprintf(buf, sizeof buf, "{\"dtype\": \"%s\", \"n\": %lld, \"engine\": \"%s\", \"TFLOPs\": %.1f, \"TFLOPs_bias_residual\": %.1f%s}",
                    dtype_name(dt), static_cast<long long>(n), engine.c_str(), flop / (ms * 1e9), flop / (ms_e * 1e9),
                    ms_f > 0 ? (", \"TFLOPs_fallback\": " + std::to_string(flop / (ms_f * 1e9))).c_str() : "");
      gemm += (gemm.empty() ? "" : ", ") + std::string(buf);
      std::printf("gemm %s %lld on %s: %.1f TFLOP/s (bias+residual %.1f)%s\n", dtype_name(dt), static_cast<long long>(n), engine.c_str(),
                  flop / (ms * 1e9), flop / (ms_e * 1e9), ms_f > 0 ? (" fallback " + std::to_string(flop / (ms_f * 1e9))).c_str() : "");
    }
  add("\"gemm\": [" + gemm + "]");

  // Families: bf16 activations of a [16384, 4096] tensor (128 MiB), bytes = what the kernel must move.
  const int64_t R = 16384, D = 4096, n = R * D;
  const DType dt = DType::bf16;
  Dev x(n * 2), y(n * 2), z(n * 2), g(n * 2), x2(2 * n * 2), dx2(2 * n * 2), w(D * 2), bvec(D * 2), stat(R * 8), stat2(R * 8);
  std::string fam;
  auto family = [&](const char* name, double bytes, const std::function<void()>& fn) {
    const double ms = median_ms(fn);
    const double gbs = bytes / (ms * 1e6);
    char buf[200];
    std::snprintf(buf, sizeof buf, "{\"op\": \"%s\", \"ms\": %.4f, \"GBps\": %.1f, \"of_copy\": %.3f}", name, ms, gbs, gbs / copy_gbs);
    fam += (fam.empty() ? "" : ", ") + std::string(buf);
    std::printf("%-28s %8.4f ms %8.1f GB/s (%.0f%% of copy)\n", name, ms, gbs, 100 * gbs / copy_gbs);
  };
  const Shape shape = {R, D}, cont = contiguous_strides(shape);
  const Shape* st3[3] = {&cont, &cont, &cont};
  const StridedLoop L3 = make_loop(shape, st3, 3), L2 = make_loop(shape, st3, 2);
  BinaryParams bp;
  bp.op = BinaryOp::add, bp.dtype = dt;
  family("add", 3.0 * n * 2, [&] { binary_forward_cuda(z.p, x.p, y.p, L3, bp, s); });
  family("exp", 2.0 * n * 2, [&] { unary_forward_cuda(z.p, x.p, L2, dt, UnaryOp::exp, s); });
  family("cast f32->bf16", n * 4.0 + n * 2.0, [&] { copy_cuda(z.p, dt, x2.p, DType::f32, L2, s); });
  family("transpose copy", 2.0 * n * 2, [&] {
    const Shape sq = {4096, 4096}, sc = contiguous_strides(sq), stt = {1, 4096};
    const Shape* ss[2] = {&sc, &stt};
    copy_cuda(z.p, dt, x.p, dt, make_loop(sq, ss, 2), s);
  });
  family("sum last dim", n * 2.0, [&] { reduce_cuda(stat.p, x.p, dt, R, D, 1, ReduceOp::sum, s); });
  family("sum first dim", n * 2.0, [&] { reduce_cuda(stat.p, x.p, dt, 1, R, D, ReduceOp::sum, s); });
  family("gelu fwd", 2.0 * n * 2, [&] { activation_forward_cuda(z.p, x.p, dt, ActKind::gelu_tanh, R, D, s); });
  family("swiglu fwd", 3.0 * n * 2, [&] { activation_forward_cuda(z.p, x2.p, dt, ActKind::swiglu, R, D, s); });
  family("swiglu bwd", 5.0 * n * 2, [&] { activation_backward_cuda(dx2.p, g.p, x2.p, dt, ActKind::swiglu, R, D, s); });
  NormParams np;
  np.rows = R, np.D = D;
  family("layernorm fwd", 2.0 * n * 2, [&] { norm_forward_cuda(z.p, nullptr, stat.p, stat2.p, x.p, nullptr, w.p, bvec.p, dt, np, s); });
  family("layernorm+residual fwd", 4.0 * n * 2,
         [&] { norm_forward_cuda(z.p, y.p, stat.p, stat2.p, x.p, g.p, w.p, bvec.p, dt, np, s); });
  family("layernorm bwd", 5.0 * n * 2, [&] { norm_backward_cuda(z.p, w.p, bvec.p, g.p, nullptr, x.p, w.p, stat.p, stat2.p, dt, np, s); });
  NormParams rp = np;
  rp.rms = true;
  family("rmsnorm fwd", 2.0 * n * 2, [&] { norm_forward_cuda(z.p, nullptr, nullptr, stat2.p, x.p, nullptr, w.p, nullptr, dt, rp, s); });
  RopeParams ro;
  ro.B = 64, ro.H = 32, ro.T = 256, ro.D = 128, ro.rotary_dims = 128;  // = n elements
  family("rope", 2.0 * n * 2, [&] { rope_cuda(z.p, x.p, dt, ro, false, s); });
  family("softmax last dim", 2.0 * n * 2, [&] { softmax_forward_cuda(z.p, x.p, dt, R, D, 1, false, s); });
  {
    // cross-entropy over [8192, 32000] bf16 logits: forward reads them twice, backward reads and writes once
    const int64_t N = 8192, V = 32000;
    Dev logits(N * V * 2), dl(N * V * 2), tg(N * 4), loss(N * 8), lse(N * 8), rg(N * 8), status(16);
    fill_cuda(tg.p, DType::i32, N, 7, s);
    fill_cuda(rg.p, DType::f64, N, 1.0 / N, s);
    XentParams xp;
    xp.N = N, xp.V = V;
    family("crossEntropy fwd", 2.0 * N * V * 2, [&] { xent_forward_cuda(loss.as<double>(), lse.as<double>(), status.as<uint64_t>(), logits.p, dt, tg.as<int32_t>(), xp, s); });
    family("crossEntropy bwd", 2.0 * N * V * 2,
           [&] { xent_backward_cuda(dl.p, status.as<uint64_t>(), logits.p, dt, tg.as<int32_t>(), lse.as<double>(), rg.as<double>(), xp, s); });
  }
  {
    const int64_t V = 50304, N = 16384, E = 1024;
    Dev table(V * E * 2), out(N * E * 2), idx(N * 4), acc(V * E * 4), fault(8);
    arange_cuda(idx.p, DType::i32, N, 0, 3, s);
    family("embedding fwd", 2.0 * N * E * 2, [&] { embedding_forward_cuda(out.p, fault.as<uint64_t>(), table.p, idx.as<int32_t>(), N, V, E, dt, s); });
    family("embedding bwd (atomics)", N * E * 2.0 + N * E * 4.0 * 2,
           [&] { embedding_backward_cuda(acc.p, fault.as<uint64_t>(), DType::f32, out.p, dt, idx.as<int32_t>(), N, V, E, s); });
  }
  add("\"families_bf16\": [" + fam + "]");
  const std::string json = "{\n  " + g_json + "\n}\n";
  if (argc > 1) {
    if (FILE* f = std::fopen(argv[1], "w")) {
      std::fputs(json.c_str(), f);
      std::fclose(f);
    }
  }
  std::fputs(json.c_str(), stdout);
  return 0;
}
