// CUDA twin vs CPU twin of the optimizer kernels, without Node: the fused multi-tensor steps (SGD plain,
// momentum and Nesterov, Adam with L2, AdamW, Lion, SophiaG) on several slots of odd sizes with fp32 and
// bf16 parameters, the gradient passes (sum of squares, finiteness, scaling), the Hessian EMA, blockwise
// 8-bit quantisation, and the 8-bit Adam step, whose codes must equal the CPU twin's except where the
// value sits within rounding of a midpoint between two codes (those are counted and reported).
// Prints "skipped: no CUDA device" and passes where no GPU (or no CUDA build) is present.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../kernels/math.h"
#include "../kernels/optim.h"
#include "../kernels/quant8.h"
#include "../runtime/cuda_runtime.h"

using namespace lmf;
using namespace lmf::kernels;

#if defined(LMF_WITH_CUDA)
namespace {
int g_passed = 0, g_failed = 0;
void check(bool ok, const std::string& what) {
  if (ok) ++g_passed;
  else {
    ++g_failed;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

// A device copy of a host vector.
template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<T>& h) : n(h.size()) {
    p = static_cast<T*>(cuda_alloc(bytes()));
    upload(h);
  }
  ~Dev() { cuda_free(p, bytes()); }
  Dev(const Dev&) = delete;
  size_t bytes() const { return std::max<size_t>(n * sizeof(T), 16); }
  void upload(const std::vector<T>& h) {
    if (n) cuda_copy(p, h.data(), n * sizeof(T), 0);
  }
  std::vector<T> get() const {
    std::vector<T> h(n);
    if (n) cuda_copy(h.data(), p, n * sizeof(T), 1);
    return h;
  }
};

// Elements where a and b differ by more than rel * |b| + abs.
int mismatches(const std::vector<float>& a, const std::vector<float>& b, double rel, double abs) {
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(static_cast<double>(a[i]) - b[i]) <= rel * std::fabs(static_cast<double>(b[i])) + abs)) ++bad;
  return bad;
}

std::vector<float> normals(std::mt19937& rng, size_t n, float sd) {
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}
std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = math::f32_to_bf16(v[i]);
  return h;
}

const std::vector<int64_t> kSizes = {1, 255, 257, 4097, 70001};

// One parameter on both sides: host state (the CPU twin's) and device copies (the CUDA twin's).
struct Param {
  bool bf16;
  std::vector<float> w, s0, s1;
  std::vector<uint16_t> w16;
};

void test_step(OptimKind kind, const char* name, bool momentum, bool nesterov, bool decoupled, std::mt19937& rng) {
  std::vector<Param> ps;
  for (size_t k = 0; k < kSizes.size(); ++k) {
    Param p;
    p.bf16 = k % 2 == 1;
    p.w = normals(rng, kSizes[k], 1.0f);
    p.s0 = normals(rng, kSizes[k], 0.01f);
    p.s1 = normals(rng, kSizes[k], 0.01f);
    for (auto& x : p.s1) x = x * x;  // second moment / Hessian EMA: non-negative
    p.w16 = to_bf16(p.w);
    ps.push_back(p);
  }
  int bad_w = 0, bad_s = 0, bad_16 = 0;
  for (int step = 1; step <= 3; ++step) {
    std::vector<OptimSlot> cpu, gpu;
    std::vector<std::vector<float>> gf;
    std::vector<std::vector<uint16_t>> gb;
    std::vector<Dev<float>*> dw, ds0, ds1, dgf;
    std::vector<Dev<uint16_t>*> dw16, dgb;
    for (Param& p : ps) {
      OptimSlot s;
      s.n = static_cast<int64_t>(p.w.size());
      gf.push_back(normals(rng, p.w.size(), 1.0f));
      gb.push_back(to_bf16(gf.back()));
      s.g_bf16 = p.bf16;
      switch (kind) {
        case OptimKind::sgd: s.sgd = optim::SgdCoef{0.1f, 0.01f, momentum ? 0.9f : 0.0f, 0.9f, step == 1, nesterov}; break;
        case OptimKind::adam: {
          const double lr = 1e-3, wd = 0.1, b1 = 0.9, b2 = 0.999;
          s.adam = optim::AdamCoef{0.9f, 0.999f, 0.1f, 0.001f, 1e-8f, decoupled ? 0.0f : 0.1f,
                                   decoupled ? static_cast<float>(1 - lr * wd) : 1.0f, static_cast<float>(lr / (1 - std::pow(b1, step))),
                                   static_cast<float>(1 / std::sqrt(1 - std::pow(b2, step)))};
          break;
        }
        case OptimKind::lion: s.lion = optim::LionCoef{1e-4f, 1.0f - 1e-4f * 0.3f, 0.9f, 0.1f, 0.99f, 0.01f}; break;
        case OptimKind::sophia: s.sophia = optim::SophiaCoef{1e-3f, 1.0f - 1e-4f, 0.965f, 0.035f, 0.04f, 1e-12f}; break;
      }
      OptimSlot c = s, d = s;
      c.w = p.w.data();
      c.w16 = p.bf16 ? p.w16.data() : nullptr;
      c.g = p.bf16 ? static_cast<const void*>(gb.back().data()) : gf.back().data();
      const bool has_s0 = kind != OptimKind::sgd || momentum, has_s1 = kind == OptimKind::adam || kind == OptimKind::sophia;
      c.s0 = has_s0 ? p.s0.data() : nullptr;
      c.s1 = has_s1 ? p.s1.data() : nullptr;
      dw.push_back(new Dev<float>(p.w));
      ds0.push_back(new Dev<float>(p.s0));
      ds1.push_back(new Dev<float>(p.s1));
      dw16.push_back(new Dev<uint16_t>(p.w16));
      dgf.push_back(new Dev<float>(gf.back()));
      dgb.push_back(new Dev<uint16_t>(gb.back()));
      d.w = dw.back()->p;
      d.w16 = p.bf16 ? dw16.back()->p : nullptr;
      d.g = p.bf16 ? static_cast<const void*>(dgb.back()->p) : dgf.back()->p;
      d.s0 = has_s0 ? ds0.back()->p : nullptr;
      d.s1 = has_s1 ? ds1.back()->p : nullptr;
      cpu.push_back(c);
      gpu.push_back(d);
    }
    optim_step_cpu(kind, cpu);
    optim_step_cuda(kind, gpu, cuda_current_stream());
    for (size_t k = 0; k < ps.size(); ++k) {
      Param& p = ps[k];
      const std::vector<float> w = dw[k]->get(), s0 = ds0[k]->get(), s1 = ds1[k]->get();
      const std::vector<uint16_t> w16 = dw16[k]->get();
      // fp32 results may differ in the last bits (fused multiply-adds on the GPU).
      bad_w += mismatches(w, p.w, 2e-6, 1e-7);
      bad_s += mismatches(s0, p.s0, 2e-6, 1e-9) + mismatches(s1, p.s1, 2e-6, 1e-12);
      if (p.bf16)
        for (size_t i = 0; i < w16.size(); ++i) bad_16 += std::abs(static_cast<int>(w16[i]) - static_cast<int>(p.w16[i])) > 1;
      // Continue from the CPU's state on both sides, so that differences do not compound.
      delete dw[k]; delete ds0[k]; delete ds1[k]; delete dw16[k]; delete dgf[k]; delete dgb[k];
    }
  }
  std::printf("  %-14s weight mismatches %d, state %d, bf16 copies off by more than 1 ulp %d\n", name, bad_w, bad_s, bad_16);
  // Lion's update is lr * sign(b1*m + (1-b1)*g): where that sum is within an ulp of zero, a fused
  // multiply-add can flip the sign (expected about once in 10^7 elements); a wrong rule fails everywhere.
  const int allowed = kind == OptimKind::lion ? 2 : 0;
  check(bad_w <= allowed && bad_16 <= allowed && bad_s == 0, std::string(name) + ": CUDA step equals the CPU step");
}

void test_grad_passes(std::mt19937& rng) {
  std::vector<std::vector<float>> gf;
  std::vector<std::vector<uint16_t>> gb;
  std::vector<GradView> cpu, gpu;
  std::vector<Dev<float>*> df;
  std::vector<Dev<uint16_t>*> db;
  for (size_t k = 0; k < kSizes.size(); ++k) {
    gf.push_back(normals(rng, kSizes[k], 2.0f));
    gb.push_back(to_bf16(gf.back()));
  }
  for (size_t k = 0; k < kSizes.size(); ++k) {
    const bool bf = k % 2 == 0;
    df.push_back(new Dev<float>(gf[k]));
    db.push_back(new Dev<uint16_t>(gb[k]));
    cpu.push_back({bf ? static_cast<void*>(gb[k].data()) : gf[k].data(), bf, kSizes[k]});
    gpu.push_back({bf ? static_cast<void*>(db[k]->p) : df[k]->p, bf, kSizes[k]});
  }
  const GradNormResult a = grad_sumsq_cpu(cpu), b = grad_sumsq_cuda(gpu, cuda_current_stream());
  std::printf("  grad sumsq cpu %.12g cuda %.12g\n", a.sumsq, b.sumsq);
  check(b.finite && std::fabs(a.sumsq - b.sumsq) <= 1e-10 * a.sumsq, "sum of squares");
  const GradNormResult b2 = grad_sumsq_cuda(gpu, cuda_current_stream());
  check(b2.sumsq == b.sumsq, "sum of squares is deterministic");
  check(grads_finite_cuda(gpu, cuda_current_stream()), "finite gradients are finite");
  grad_scale_cpu(cpu, 0.37f);
  grad_scale_cuda(gpu, 0.37f, cuda_current_stream());
  bool same = true;
  for (size_t k = 0; k < kSizes.size(); ++k) {
    if (cpu[k].bf16) same = same && db[k]->get() == gb[k];
    else same = same && df[k]->get() == gf[k];
  }
  check(same, "gradient scaling equals the CPU's bit for bit");
  // A NaN in the middle of the largest fp32 gradient.
  std::vector<float> nan = gf[4];
  nan[nan.size() / 2] = std::nanf("");
  df[4]->upload(nan);
  check(!grads_finite_cuda(gpu, cuda_current_stream()), "a NaN gradient is not finite");
  for (auto* d : df) delete d;
  for (auto* d : db) delete d;

  // Hessian EMA.
  std::vector<float> h = normals(rng, 70001, 0.1f), e = normals(rng, 70001, 1.0f);
  for (auto& x : h) x = x * x;
  Dev<float> dh(h), de(e);
  std::vector<EmaSlot> ec{{h.data(), e.data(), false, 70001, 0.99f}}, eg{{dh.p, de.p, false, 70001, 0.99f}};
  ema_update_cpu(ec);
  ema_update_cuda(eg, cuda_current_stream());
  check(mismatches(dh.get(), h, 2e-7, 1e-12) == 0, "Hessian EMA");
}

void test_quantize(std::mt19937& rng) {
  for (bool sgn : {true, false}) {
    std::vector<float> x = normals(rng, 70001, 0.3f);
    if (!sgn)
      for (auto& v : x) v = v * v;
    const int64_t n = static_cast<int64_t>(x.size()), blocks = (n + 255) / 256;
    std::vector<uint8_t> c(n);
    std::vector<float> a(blocks), y(n);
    quantize_blockwise_cpu(c.data(), a.data(), x.data(), n, sgn);
    dequantize_blockwise_cpu(y.data(), c.data(), a.data(), n, sgn);
    Dev<float> dx(x), da(a), dy(y);
    Dev<uint8_t> dc(c);
    quantize_blockwise_cuda(dc.p, da.p, dx.p, n, sgn, cuda_current_stream());
    dequantize_blockwise_cuda(dy.p, dc.p, da.p, n, sgn, cuda_current_stream());
    check(dc.get() == c && da.get() == a, std::string(sgn ? "signed" : "unsigned") + " blockwise quantisation equals the CPU's");
    check(dy.get() == y, std::string(sgn ? "signed" : "unsigned") + " dequantisation equals the CPU's");
  }
}

// |x - midpoint between codes k and k+1| within rounding of the fp32 computation.
bool near_mid(const Quant8Map& q, int ka, int kb, double x) {
  if (std::abs(ka - kb) != 1) return false;
  const double mid = q.mid[std::min(ka, kb)];
  return std::fabs(x - mid) <= 1e-5 * std::fabs(mid) + 1e-12;
}

void test_adam8(std::mt19937& rng) {
  const Quant8Map& qs = quant8_map(true);
  const Quant8Map& qu = quant8_map(false);
  const std::vector<int64_t> sizes = {4096, 4353, 70001};
  int near = 0, bad_codes = 0, bad_w = 0, bad_a = 0, total = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int64_t n = sizes[k], blocks = (n + 255) / 256;
    const bool bf = k == 1;
    std::vector<float> w = normals(rng, n, 1.0f), m0 = normals(rng, n, 0.01f), v0 = normals(rng, n, 0.01f);
    for (auto& x : v0) x = x * x;
    std::vector<uint8_t> c1(n), c2(n);
    std::vector<float> a1(blocks), a2(blocks);
    quantize_blockwise_cpu(c1.data(), a1.data(), m0.data(), n, true);
    quantize_blockwise_cpu(c2.data(), a2.data(), v0.data(), n, false);
    std::vector<uint16_t> w16 = to_bf16(w);
    for (int step = 1; step <= 4; ++step) {
      const std::vector<float> g = normals(rng, n, 1.0f);
      const std::vector<uint16_t> gb = to_bf16(g);
      Adam8Slot s;
      s.n = n;
      s.g_bf16 = bf;
      const double lr = 1e-3, wd = 0.01;
      s.adam = optim::AdamCoef{0.9f, 0.995f, 0.1f, 0.005f, 1e-8f, 0.0f, static_cast<float>(1 - lr * wd),
                               static_cast<float>(lr / (1 - std::pow(0.9, step))), static_cast<float>(1 / std::sqrt(1 - std::pow(0.995, step)))};
      Dev<float> dw(w), da1(a1), da2(a2), dg(g);
      Dev<uint8_t> dc1(c1), dc2(c2);
      Dev<uint16_t> dw16(w16), dgb(gb);
      // The pre-step moments (as both twins dequantize them), for the midpoint test below.
      std::vector<double> mprev(n), vprev(n);
      for (int64_t i = 0; i < n; ++i) {
        mprev[i] = qs.code[c1[i]] * a1[i / 256];
        vprev[i] = qu.code[c2[i]] * a2[i / 256];
      }
      Adam8Slot c = s, d = s;
      c.w = w.data(); c.w16 = bf ? w16.data() : nullptr; c.g = bf ? static_cast<const void*>(gb.data()) : g.data();
      c.c1 = c1.data(); c.c2 = c2.data(); c.a1 = a1.data(); c.a2 = a2.data();
      d.w = dw.p; d.w16 = bf ? dw16.p : nullptr; d.g = bf ? static_cast<const void*>(dgb.p) : dg.p;
      d.c1 = dc1.p; d.c2 = dc2.p; d.a1 = da1.p; d.a2 = da2.p;
      adam8bit_step_cpu({c});
      adam8bit_step_cuda({d}, cuda_current_stream());
      const std::vector<uint8_t> gc1 = dc1.get(), gc2 = dc2.get();
      const std::vector<float> ga1 = da1.get(), ga2 = da2.get(), gw = dw.get();
      bad_w += mismatches(gw, w, 2e-6, 1e-7);
      bad_a += mismatches(ga1, a1, 2e-6, 0) + mismatches(ga2, a2, 2e-6, 0);
      for (int64_t i = 0; i < n; ++i) {
        total += 2;
        const double gi = (bf ? math::bf16_to_f32(gb[i]) : g[i]);
        const double m = 0.9 * mprev[i] + 0.1 * gi, v = 0.995 * vprev[i] + 0.005 * gi * gi;
        if (gc1[i] != c1[i]) {
          if (near_mid(qs, gc1[i], c1[i], m / a1[i / 256])) ++near;
          else ++bad_codes;
        }
        if (gc2[i] != c2[i]) {
          if (near_mid(qu, gc2[i], c2[i], v / a2[i / 256])) ++near;
          else ++bad_codes;
        }
      }
    }
  }
  std::printf("  adam8bit: %d codes, %d differ by one within rounding of a midpoint, %d other differences; "
              "weights off %d, absmax off %d\n", total, near, bad_codes, bad_w, bad_a);
  check(bad_codes == 0, "8-bit codes equal the CPU twin's (up to midpoint rounding)");
  check(near * 1000 <= total, "midpoint differences are rare");
  check(bad_w == 0 && bad_a == 0, "8-bit Adam weights and absmax equal the CPU twin's");
}

}  // namespace
#endif

int main() {
#if !defined(LMF_WITH_CUDA)
  std::printf("skipped: no CUDA device (built without CUDA support)\n");
  return 0;
#else
  if (!cuda_available()) {
    std::printf("skipped: no CUDA device (%s)\n", cuda_unavailable_reason().c_str());
    return 0;
  }
  std::mt19937 rng(99);
  test_step(OptimKind::sgd, "sgd", false, false, false, rng);
  test_step(OptimKind::sgd, "sgd momentum", true, false, false, rng);
  test_step(OptimKind::sgd, "sgd nesterov", true, true, false, rng);
  test_step(OptimKind::adam, "adam (L2)", false, false, false, rng);
  test_step(OptimKind::adam, "adamw", false, false, true, rng);
  test_step(OptimKind::lion, "lion", false, false, false, rng);
  test_step(OptimKind::sophia, "sophia", false, false, false, rng);
  test_grad_passes(rng);
  test_quantize(rng);
  test_adam8(rng);
  std::printf("cuda_optim_test: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
#endif
}
