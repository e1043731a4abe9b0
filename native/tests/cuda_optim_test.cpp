// CUDA twin vs CPU twin of the optimizer kernels, without Node: the fused multi-tensor steps (SGD plain,
// momentum and Nesterov, Adam with L2, AdamW, Lion, SophiaG) with fp32 and bf16 parameters, on a few slots
// of odd sizes and on 61 slots (more than one launch's 24: the multi-launch path, empty slots included);
// the gradient passes (sum of squares, finiteness, scaling), the Hessian EMA, blockwise 8-bit quantisation,
// and the 8-bit Adam step on a few slots and on 50, whose codes must equal the CPU twin's except where the
// value sits within rounding of a midpoint between two codes (those are counted and reported).
//
// The expected values are the CPU twin's, over all slots in one call. On a machine without a GPU the CPU
// twin called one slot at a time takes the CUDA twin's place, so the slot plumbing, the comparisons and
// the tolerances are checked here before a GPU sees them (cuda_test_util.h: LMF_REQUIRE_CUDA=1 makes a
// missing GPU a failure). `cuda_optim_test --quick` runs a subset (AdamW on few and many slots, the
// gradient passes, 8-bit Adam on few slots) for compute-sanitizer.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../kernels/math.h"
#include "../kernels/optim.h"
#include "../kernels/adam8bit.h"
#include "../runtime/cuda_runtime.h"
#include "cuda_test_util.h"

using namespace lmf;
using namespace lmf::kernels;
using lmf::cudatest::check;

namespace {

// A device copy of a host vector (never used without a device).
template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<T>& h) : n(h.size()) {
    p = static_cast<T*>(cuda_alloc(bytes()));
    if (n) cuda_copy(p, h.data(), n * sizeof(T), 0);
  }
  ~Dev() { cuda_free(p, bytes()); }
  Dev(const Dev&) = delete;
  size_t bytes() const { return std::max<size_t>(n * sizeof(T), 16); }
  void get(std::vector<T>& h) const {
    if (n) cuda_copy(h.data(), p, n * sizeof(T), 1);
  }
};
template <class T>
T* dev_ptr(std::vector<std::unique_ptr<Dev<T>>>& keep, const std::vector<T>& h) {
  keep.push_back(std::make_unique<Dev<T>>(h));
  return keep.back()->p;
}

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

const std::vector<int64_t> kFew = {1, 255, 257, 4097, 70001};
// 61 slots (three launches of at most 24), every tenth one empty, one large.
std::vector<int64_t> many_sizes(int count) {
  std::vector<int64_t> s;
  for (int k = 0; k < count; ++k) s.push_back(k % 10 == 3 ? 0 : k == 30 ? 70001 : 1 + (k * 7919) % 5000);
  return s;
}

// ---------------------------------------------------------------------------------- fused steps
// One parameter's state (weights, bf16 copy, two state buffers) and this step's gradient.
struct Param {
  bool bf16;
  std::vector<float> w, s0, s1, gf;
  std::vector<uint16_t> w16, gb;
};

struct StepCfg {
  OptimKind kind;
  const char* name;
  bool momentum, nesterov, decoupled;
};

OptimSlot coef_slot(const StepCfg& c, int step) {
  OptimSlot s;
  switch (c.kind) {
    case OptimKind::sgd: s.sgd = optim::SgdCoef{0.1f, 0.01f, c.momentum ? 0.9f : 0.0f, 0.9f, step == 1, c.nesterov}; break;
    case OptimKind::adam: {
      const double lr = 1e-3, wd = 0.1, b1 = 0.9, b2 = 0.999;
      s.adam = optim::AdamCoef{0.9f, 0.999f, 0.1f, 0.001f, 1e-8f, c.decoupled ? 0.0f : 0.1f,
                               c.decoupled ? static_cast<float>(1 - lr * wd) : 1.0f, static_cast<float>(lr / (1 - std::pow(b1, step))),
                               static_cast<float>(1 / std::sqrt(1 - std::pow(b2, step)))};
      break;
    }
    case OptimKind::lion: s.lion = optim::LionCoef{1e-4f, 1.0f - 1e-4f * 0.3f, 0.9f, 0.1f, 0.99f, 0.01f}; break;
    case OptimKind::sophia: s.sophia = optim::SophiaCoef{1e-3f, 1.0f - 1e-4f, 0.965f, 0.035f, 0.04f, 1e-12f}; break;
  }
  return s;
}

// The slots of `ps` (host memory), with this step's coefficients.
std::vector<OptimSlot> host_slots(const StepCfg& c, std::vector<Param>& ps, int step) {
  const bool has_s0 = c.kind != OptimKind::sgd || c.momentum, has_s1 = c.kind == OptimKind::adam || c.kind == OptimKind::sophia;
  std::vector<OptimSlot> out;
  for (Param& p : ps) {
    OptimSlot s = coef_slot(c, step);
    s.n = static_cast<int64_t>(p.w.size());
    s.g_bf16 = p.bf16;
    s.w = p.w.data();
    s.w16 = p.bf16 ? p.w16.data() : nullptr;
    s.g = p.bf16 ? static_cast<const void*>(p.gb.data()) : p.gf.data();
    s.s0 = has_s0 ? p.s0.data() : nullptr;
    s.s1 = has_s1 ? p.s1.data() : nullptr;
    out.push_back(s);
  }
  return out;
}

// The candidate: the CUDA twin over all slots in one call (device copies, results read back), or without a
// device the CPU twin one slot at a time.
void candidate_step(const StepCfg& c, std::vector<Param>& ps, int step, bool gpu) {
  std::vector<OptimSlot> slots = host_slots(c, ps, step);
  if (!gpu) {
    for (const OptimSlot& s : slots) optim_step_cpu(c.kind, {s});
    return;
  }
#if defined(LMF_WITH_CUDA)
  std::vector<std::unique_ptr<Dev<float>>> kf;
  std::vector<std::unique_ptr<Dev<uint16_t>>> kh;
  std::vector<OptimSlot> dev = slots;
  for (size_t k = 0; k < ps.size(); ++k) {
    Param& p = ps[k];
    OptimSlot& d = dev[k];
    d.w = dev_ptr(kf, p.w);
    d.w16 = d.w16 ? dev_ptr(kh, p.w16) : nullptr;
    d.g = p.bf16 ? static_cast<const void*>(dev_ptr(kh, p.gb)) : dev_ptr(kf, p.gf);
    d.s0 = d.s0 ? dev_ptr(kf, p.s0) : nullptr;
    d.s1 = d.s1 ? dev_ptr(kf, p.s1) : nullptr;
  }
  optim_step_cuda(c.kind, dev, cuda_current_stream());
  // Read back in the order the pointers were made: w, w16?, g, s0?, s1? per slot.
  size_t f = 0, h = 0;
  for (size_t k = 0; k < ps.size(); ++k) {
    Param& p = ps[k];
    kf[f++]->get(p.w);
    if (dev[k].w16) kh[h++]->get(p.w16);
    if (p.bf16) ++h;
    else ++f;
    if (dev[k].s0) kf[f++]->get(p.s0);
    if (dev[k].s1) kf[f++]->get(p.s1);
  }
#endif
}

void test_step(const StepCfg& c, const std::vector<int64_t>& sizes, std::mt19937& rng, bool gpu) {
  std::vector<Param> ps;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Param p;
    p.bf16 = k % 2 == 1;
    p.w = normals(rng, sizes[k], 1.0f);
    p.s0 = normals(rng, sizes[k], 0.01f);
    p.s1 = normals(rng, sizes[k], 0.01f);
    for (auto& x : p.s1) x = x * x;  // second moment / Hessian EMA: non-negative
    p.w16 = to_bf16(p.w);
    ps.push_back(p);
  }
  int bad_w = 0, bad_s = 0, bad_16 = 0, moved = 0, total = 0;
  for (int step = 1; step <= 3; ++step) {
    for (Param& p : ps) {
      p.gf = normals(rng, p.w.size(), 1.0f);
      p.gb = to_bf16(p.gf);
    }
    std::vector<Param> ref = ps, got = ps;
    optim_step_cpu(c.kind, host_slots(c, ref, step));
    candidate_step(c, got, step, gpu);
    for (size_t k = 0; k < ps.size(); ++k) {
      // fp32 results may differ in the last bits (fused multiply-adds on the GPU).
      bad_w += mismatches(got[k].w, ref[k].w, 2e-6, 1e-7);
      bad_s += mismatches(got[k].s0, ref[k].s0, 2e-6, 1e-9) + mismatches(got[k].s1, ref[k].s1, 2e-6, 1e-12);
      if (ps[k].bf16)
        for (size_t i = 0; i < ref[k].w16.size(); ++i) bad_16 += std::abs(static_cast<int>(got[k].w16[i]) - static_cast<int>(ref[k].w16[i])) > 1;
      for (size_t i = 0; i < ref[k].w.size(); ++i) moved += ref[k].w[i] != ps[k].w[i];
      total += static_cast<int>(ref[k].w.size());
    }
    ps = ref;  // continue from the CPU's state on both sides, so that differences do not compound
  }
  const std::string name = std::string(c.name) + " (" + std::to_string(sizes.size()) + " slots)";
  std::printf("  %-24s [%s] weight mismatches %d, state %d, bf16 copies off by more than 1 ulp %d\n", name.c_str(),
              gpu ? "cuda" : "cpu twin", bad_w, bad_s, bad_16);
  // Lion's update is lr * sign(b1*m + (1-b1)*g): where that sum is within an ulp of zero, a fused
  // multiply-add can flip the sign (expected about once in 10^7 elements); a wrong rule fails everywhere.
  const int allowed = c.kind == OptimKind::lion ? 2 : 0;
  check(bad_w <= allowed && bad_16 <= allowed && bad_s == 0, name + ": the candidate step equals the CPU step");
  check(moved * 10 > total * 9, name + ": the step moved the weights (the test compares real updates)");
}

// ---------------------------------------------------------------------------------- gradient passes
struct Grads {
  std::vector<std::vector<float>> f;
  std::vector<std::vector<uint16_t>> b;
  std::vector<bool> is_bf16;
  std::vector<GradView> views() {
    std::vector<GradView> v;
    for (size_t k = 0; k < f.size(); ++k)
      v.push_back({is_bf16[k] ? static_cast<void*>(b[k].data()) : f[k].data(), is_bf16[k], static_cast<int64_t>(f[k].size())});
    return v;
  }
};

// Runs fn(views) on the candidate: device copies of g (read back afterwards) or, without a device, g itself.
template <class F>
void on_candidate(Grads& g, bool gpu, F&& fn) {
  if (!gpu) {
    fn(g.views(), false);
    return;
  }
#if defined(LMF_WITH_CUDA)
  std::vector<std::unique_ptr<Dev<float>>> kf;
  std::vector<std::unique_ptr<Dev<uint16_t>>> kh;
  std::vector<GradView> v = g.views();
  for (size_t k = 0; k < v.size(); ++k) v[k].g = g.is_bf16[k] ? static_cast<void*>(dev_ptr(kh, g.b[k])) : dev_ptr(kf, g.f[k]);
  fn(v, true);
  size_t f = 0, h = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    if (g.is_bf16[k]) kh[h++]->get(g.b[k]);
    else kf[f++]->get(g.f[k]);
  }
#endif
}

void test_grad_passes(std::mt19937& rng, bool gpu) {
  Grads ref;
  for (size_t k = 0; k < kFew.size(); ++k) {
    ref.f.push_back(normals(rng, kFew[k], 2.0f));
    ref.b.push_back(to_bf16(ref.f.back()));
    ref.is_bf16.push_back(k % 2 == 0);
  }
  Grads got = ref;
  const GradNormResult a = grad_sumsq_cpu(ref.views());
  grad_scale_cpu(ref.views(), 0.37f);
  GradNormResult b, b2;
  bool finite = false;
  on_candidate(got, gpu, [&](const std::vector<GradView>& v, bool dev) {
    if (dev) {
#if defined(LMF_WITH_CUDA)
      b = grad_sumsq_cuda(v, cuda_current_stream());
      b2 = grad_sumsq_cuda(v, cuda_current_stream());
      finite = grads_finite_cuda(v, cuda_current_stream());
      grad_scale_cuda(v, 0.37f, cuda_current_stream());
#endif
    } else {
      b = grad_sumsq_cpu(v);
      b2 = grad_sumsq_cpu(v);
      finite = grads_finite_cpu(v);
      for (const GradView& x : v) grad_scale_cpu({x}, 0.37f);
    }
  });
  std::printf("  grad sumsq cpu %.12g %s %.12g\n", a.sumsq, gpu ? "cuda" : "cpu twin", b.sumsq);
  check(b.finite && a.sumsq > 0 && std::fabs(a.sumsq - b.sumsq) <= 1e-10 * a.sumsq, "sum of squares");
  check(b2.sumsq == b.sumsq, "sum of squares is deterministic");
  check(finite, "finite gradients are finite");
  bool same = true;
  for (size_t k = 0; k < kFew.size(); ++k) same = same && (ref.is_bf16[k] ? got.b[k] == ref.b[k] : got.f[k] == ref.f[k]);
  check(same, "gradient scaling equals the CPU's bit for bit");
  // A NaN in the middle of the largest fp32 gradient.
  got.f[3][got.f[3].size() / 2] = std::nanf("");
  bool nan_finite = true;
  on_candidate(got, gpu, [&](const std::vector<GradView>& v, bool dev) {
#if defined(LMF_WITH_CUDA)
    if (dev) nan_finite = grads_finite_cuda(v, cuda_current_stream());
#endif
    if (!dev) nan_finite = grads_finite_cpu(v);
  });
  check(!nan_finite, "a NaN gradient is not finite");

  // Hessian EMA.
  std::vector<float> h = normals(rng, 70001, 0.1f), e = normals(rng, 70001, 1.0f);
  for (auto& x : h) x = x * x;
  std::vector<float> hr = h, hg = h;
  ema_update_cpu({{hr.data(), e.data(), false, 70001, 0.99f}});
  if (gpu) {
#if defined(LMF_WITH_CUDA)
    Dev<float> dh(h), de(e);
    ema_update_cuda({{dh.p, de.p, false, 70001, 0.99f}}, cuda_current_stream());
    dh.get(hg);
#endif
  } else {
    ema_update_cpu({{hg.data(), e.data(), false, 35000, 0.99f}, {hg.data() + 35000, e.data() + 35000, false, 35001, 0.99f}});
  }
  check(hr != h && mismatches(hg, hr, 2e-7, 1e-12) == 0, "Hessian EMA");
}

void test_quantize(std::mt19937& rng, bool gpu) {
  for (bool sgn : {true, false}) {
    std::vector<float> x = normals(rng, 70001, 0.3f);
    if (!sgn)
      for (auto& v : x) v = v * v;
    const int64_t n = static_cast<int64_t>(x.size()), blocks = (n + 255) / 256;
    std::vector<uint8_t> c(n), gc(n);
    std::vector<float> a(blocks), y(n), ga(blocks), gy(n);
    quantize_blockwise_cpu(c.data(), a.data(), x.data(), n, sgn);
    dequantize_blockwise_cpu(y.data(), c.data(), a.data(), n, sgn);
    if (gpu) {
#if defined(LMF_WITH_CUDA)
      Dev<float> dx(x), da(a), dy(y);
      Dev<uint8_t> dc(c);
      quantize_blockwise_cuda(dc.p, da.p, dx.p, n, sgn, cuda_current_stream());
      dequantize_blockwise_cuda(dy.p, dc.p, da.p, n, sgn, cuda_current_stream());
      dc.get(gc);
      da.get(ga);
      dy.get(gy);
#endif
    } else {  // in two pieces at a block boundary
      const int64_t h = 256 * 137;
      quantize_blockwise_cpu(gc.data(), ga.data(), x.data(), h, sgn);
      quantize_blockwise_cpu(gc.data() + h, ga.data() + h / 256, x.data() + h, n - h, sgn);
      dequantize_blockwise_cpu(gy.data(), gc.data(), ga.data(), n, sgn);
    }
    const std::string s = sgn ? "signed" : "unsigned";
    check(gc == c && ga == a, s + " blockwise quantisation equals the CPU's");
    check(gy == y && mismatches(y, x, 0.1, 0.02 * a[0]) < n / 100, s + " dequantisation equals the CPU's (and is near x)");
  }
}

// ---------------------------------------------------------------------------------- 8-bit Adam
// |x - midpoint between codes k and k+1| within rounding of the fp32 computation.
bool near_mid(const Quant8Map& q, int ka, int kb, double x) {
  if (std::abs(ka - kb) != 1) return false;
  const double mid = q.mid[std::min(ka, kb)];
  return std::fabs(x - mid) <= 1e-5 * std::fabs(mid) + 1e-12;
}

struct A8 {
  bool bf;
  std::vector<float> w, a1, a2, g;
  std::vector<uint8_t> c1, c2;
  std::vector<uint16_t> w16, gb;
};

std::vector<Adam8Slot> a8_slots(std::vector<A8>& ps, const optim::AdamCoef& co) {
  std::vector<Adam8Slot> out;
  for (A8& p : ps) {
    Adam8Slot s;
    s.n = static_cast<int64_t>(p.w.size());
    s.g_bf16 = p.bf;
    s.adam = co;
    s.w = p.w.data();
    s.w16 = p.bf ? p.w16.data() : nullptr;
    s.g = p.bf ? static_cast<const void*>(p.gb.data()) : p.g.data();
    s.c1 = p.c1.data();
    s.c2 = p.c2.data();
    s.a1 = p.a1.data();
    s.a2 = p.a2.data();
    out.push_back(s);
  }
  return out;
}

void a8_candidate(std::vector<A8>& ps, const optim::AdamCoef& co, bool gpu) {
  std::vector<Adam8Slot> slots = a8_slots(ps, co);
  if (!gpu) {
    for (const Adam8Slot& s : slots) adam8bit_step_cpu({s});
    return;
  }
#if defined(LMF_WITH_CUDA)
  std::vector<std::unique_ptr<Dev<float>>> kf;
  std::vector<std::unique_ptr<Dev<uint8_t>>> kc;
  std::vector<std::unique_ptr<Dev<uint16_t>>> kh;
  for (size_t k = 0; k < ps.size(); ++k) {
    A8& p = ps[k];
    Adam8Slot& d = slots[k];
    d.w = dev_ptr(kf, p.w);
    d.a1 = dev_ptr(kf, p.a1);
    d.a2 = dev_ptr(kf, p.a2);
    d.c1 = dev_ptr(kc, p.c1);
    d.c2 = dev_ptr(kc, p.c2);
    d.w16 = p.bf ? dev_ptr(kh, p.w16) : nullptr;
    d.g = p.bf ? static_cast<const void*>(dev_ptr(kh, p.gb)) : dev_ptr(kf, p.g);
  }
  adam8bit_step_cuda(slots, cuda_current_stream());
  size_t f = 0, c = 0, h = 0;
  for (A8& p : ps) {
    kf[f++]->get(p.w);
    kf[f++]->get(p.a1);
    kf[f++]->get(p.a2);
    kc[c++]->get(p.c1);
    kc[c++]->get(p.c2);
    if (p.bf) {
      kh[h++]->get(p.w16);
      ++h;
    } else {
      ++f;
    }
  }
#endif
}

void test_adam8(const std::vector<int64_t>& sizes, std::mt19937& rng, bool gpu) {
  const Quant8Map& qs = quant8_map(true);
  const Quant8Map& qu = quant8_map(false);
  std::vector<A8> ps;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int64_t n = sizes[k], blocks = (n + 255) / 256;
    A8 p;
    p.bf = k % 3 == 1;
    p.w = normals(rng, n, 1.0f);
    p.w16 = to_bf16(p.w);
    std::vector<float> m0 = normals(rng, n, 0.01f), v0 = normals(rng, n, 0.01f);
    for (auto& x : v0) x = x * x;
    p.c1.resize(n);
    p.c2.resize(n);
    p.a1.resize(blocks);
    p.a2.resize(blocks);
    quantize_blockwise_cpu(p.c1.data(), p.a1.data(), m0.data(), n, true);
    quantize_blockwise_cpu(p.c2.data(), p.a2.data(), v0.data(), n, false);
    ps.push_back(p);
  }
  int near = 0, bad_codes = 0, bad_w = 0, bad_a = 0, total = 0, moved = 0;
  for (int step = 1; step <= 3; ++step) {
    const double lr = 1e-3, wd = 0.01;
    const optim::AdamCoef co{0.9f, 0.995f, 0.1f, 0.005f, 1e-8f, 0.0f, static_cast<float>(1 - lr * wd),
                             static_cast<float>(lr / (1 - std::pow(0.9, step))), static_cast<float>(1 / std::sqrt(1 - std::pow(0.995, step)))};
    for (A8& p : ps) {
      p.g = normals(rng, p.w.size(), 1.0f);
      p.gb = to_bf16(p.g);
    }
    std::vector<A8> ref = ps, got = ps;
    adam8bit_step_cpu(a8_slots(ref, co));
    a8_candidate(got, co, gpu);
    for (size_t k = 0; k < ps.size(); ++k) {
      const A8 &p = ps[k], &r = ref[k], &g = got[k];
      bad_w += mismatches(g.w, r.w, 2e-6, 1e-7);
      bad_a += mismatches(g.a1, r.a1, 2e-6, 0) + mismatches(g.a2, r.a2, 2e-6, 0);
      for (size_t i = 0; i < p.w.size(); ++i) {
        total += 2;
        moved += r.w[i] != p.w[i];
        // The moments both twins compute before requantizing (from the pre-step codes), for the midpoint test.
        const double gi = p.bf ? math::bf16_to_f32(p.gb[i]) : p.g[i];
        const double m = 0.9 * qs.code[p.c1[i]] * p.a1[i / 256] + 0.1 * gi, v = 0.995 * qu.code[p.c2[i]] * p.a2[i / 256] + 0.005 * gi * gi;
        if (g.c1[i] != r.c1[i]) {
          if (near_mid(qs, g.c1[i], r.c1[i], m / r.a1[i / 256])) ++near;
          else ++bad_codes;
        }
        if (g.c2[i] != r.c2[i]) {
          if (near_mid(qu, g.c2[i], r.c2[i], v / r.a2[i / 256])) ++near;
          else ++bad_codes;
        }
      }
    }
    ps = ref;
  }
  const std::string name = "adam8bit (" + std::to_string(sizes.size()) + " slots)";
  std::printf("  %-24s [%s] %d codes, %d differ by one within rounding of a midpoint, %d other differences; "
              "weights off %d, absmax off %d\n", name.c_str(), gpu ? "cuda" : "cpu twin", total, near, bad_codes, bad_w, bad_a);
  check(bad_codes == 0, name + ": 8-bit codes equal the CPU twin's (up to midpoint rounding)");
  check(near * 1000 <= total, name + ": midpoint differences are rare");
  check(bad_w == 0 && bad_a == 0, name + ": 8-bit Adam weights and absmax equal the CPU twin's");
  check(moved * 10 > total / 2 * 9, name + ": the step moved the weights");
}

}  // namespace

int main(int argc, char** argv) {
  const char* program = "cuda_optim_test";
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (!cudatest::start(program)) return 1;
  const bool gpu = cuda_available();
  std::mt19937 rng(99);
  const StepCfg cfgs[] = {
      {OptimKind::sgd, "sgd", false, false, false},         {OptimKind::sgd, "sgd momentum", true, false, false},
      {OptimKind::sgd, "sgd nesterov", true, true, false},  {OptimKind::adam, "adam (L2)", false, false, false},
      {OptimKind::adam, "adamw", false, false, true},       {OptimKind::lion, "lion", false, false, false},
      {OptimKind::sophia, "sophia", false, false, false},
  };
  const std::vector<int64_t> many = many_sizes(61);
  try {
    for (const StepCfg& c : cfgs) {
      if (quick && c.kind != OptimKind::adam) continue;
      test_step(c, kFew, rng, gpu);
      test_step(c, many, rng, gpu);
    }
    test_grad_passes(rng, gpu);
    test_quantize(rng, gpu);
    test_adam8({4096, 4353, 70001}, rng, gpu);
    if (!quick) test_adam8(many_sizes(50), rng, gpu);
  } catch (const std::exception& e) {
    check(false, std::string("threw ") + e.what());
  }
  return cudatest::finish(program);
}
