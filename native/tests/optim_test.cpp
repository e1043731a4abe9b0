// Standalone checks of the optimizer kernels without Node: the 8-bit maps and nearest-code lookup against
// brute force, the fused Adam step (fp32 and 8-bit) on every CPU tier against a double loop, and the first
// moment's sign rule, identical on every tier. Then the op layer's contract (native/ops/ops.h):
// hyperparameters checked in double, the explicit 8-bit flag, and the NaN/Inf guards.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../kernels/optim.h"
#include "../kernels/adam8bit.h"
#include "../ops/ops.h"
#include "../runtime/cpu_features.h"

using namespace lmf::kernels;

namespace {
int g_passed = 0, g_failed = 0;
void check(bool ok, const std::string& what) {
  if (ok) ++g_passed;
  else { ++g_failed; std::printf("FAIL: %s\n", what.c_str()); }
}

int brute_nearest(const Quant8Map& q, float x) {
  int best = 0;
  for (int k = 1; k < 256; ++k) if (std::fabs(x - q.code[k]) < std::fabs(x - q.code[best])) best = k;
  return best;
}

void test_maps() {
  std::mt19937 rng(7);
  for (bool s : {true, false}) {
    const Quant8Map& q = quant8_map(s);
    bool sorted = true;
    for (int k = 0; k < 255; ++k) sorted = sorted && q.code[k] < q.code[k + 1];
    check(sorted, "map sorted and distinct");
    check(q.code[255] == 1.0f && q.code[q.zero] == 0.0f, "map holds 0 and 1");
    check(q.refine >= 1 && q.refine <= 3, "refine steps " + std::to_string(q.refine));
    std::uniform_real_distribution<float> u(s ? -1.0f : 0.0f, 1.0f);
    int bad = 0;
    for (int i = 0; i < 200000; ++i) {
      float x = u(rng);
      if (i % 3 == 0) x *= 1e-4f;
      const int a = quant8_nearest(q, x), b = brute_nearest(q, x);
      if (a != b && std::fabs(std::fabs(x - q.code[a]) - std::fabs(x - q.code[b])) > 1e-7f * std::fabs(x)) ++bad;
    }
    check(bad == 0, std::string(s ? "signed" : "unsigned") + " nearest code matches brute force (" + std::to_string(bad) + " bad)");
  }
}

// The vectorised nearest-code search must give exactly quant8_nearest's codes (ties at a midpoint go to the
// lower code, NaN to the code of 0): every code, every midpoint and the floats either side, random values.
// Each block of 256 holds 1.0 so its scale is exactly 1 and x * r == x.
void test_codes_exact(const char* tier) {
  lmf::set_cpu_tier(tier);
  std::mt19937 rng(3);
  for (bool s : {true, false}) {
    const Quant8Map& q = quant8_map(s);
    std::vector<float> x;
    auto push = [&](float v) {
      if (x.size() % 256 == 0) x.push_back(1.0f);
      x.push_back(v);
    };
    for (int k = 0; k < 256; ++k) {
      for (float c : {q.code[k], k < 255 ? q.mid[k] : 1.0f}) {
        push(c);
        push(std::nextafter(c, 2.0f));
        push(std::nextafter(c, -2.0f));
      }
    }
    std::uniform_real_distribution<float> u(s ? -1.0f : 0.0f, 1.0f);
    for (int i = 0; i < 20000; ++i) push(i % 2 ? u(rng) : u(rng) * 1e-5f);
    // Every 4099th float from 0 to 1, every other one negated (the unsigned map takes them to code 0): all
    // the exponents that the vector searches bucket.
    for (uint32_t b = 0; b < 0x3f800000u; b += 4099u) {
      float f;
      std::memcpy(&f, &b, 4);
      push((b / 4099u) % 2 ? -f : f);
    }
    push(std::numeric_limits<float>::quiet_NaN());
    push(-0.0f);
    while (x.size() % 256 != 0) push(0.5f);
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint8_t> codes(n);
    std::vector<float> amax(n / 256);
    quantize_blockwise_cpu(codes.data(), amax.data(), x.data(), n, s);
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += codes[i] != quant8_nearest(q, x[i]) || (std::isnan(x[i]) && codes[i] != q.zero);
    check(bad == 0, std::string(s ? "signed" : "unsigned") + " codes equal quant8_nearest on " + tier + " (" + std::to_string(bad) + " differ of " + std::to_string(n) + ")");
    std::printf("%s %s: %d of %lld codes differ\n", tier, s ? "signed" : "unsigned", bad, static_cast<long long>(n));
    // A block of subnormals: 1 / absmax overflows, so the scaled values are +-inf and 0 * inf = NaN (the
    // vector code's top octave). Codes as quant8_nearest gives them for the same products.
    {
      const float scale = 1e-39f;
      std::vector<float> y(256);
      for (int k = 0; k < 256; ++k) y[k] = k % 3 == 0 ? 0.0f : (k % 2 ? -scale : scale);
      std::vector<uint8_t> yc(256);
      float ya = 0;
      quantize_blockwise_cpu(yc.data(), &ya, y.data(), 256, s);
      const float r = 1.0f / ya;
      int ybad = 0;
      for (int k = 0; k < 256; ++k) ybad += yc[k] != quant8_nearest(q, y[k] * r);
      check(ybad == 0, std::string(s ? "signed" : "unsigned") + " codes of inf and NaN on " + tier + " (" + std::to_string(ybad) + " differ)");
    }
  }
}

void test_adam(const char* tier) {
  lmf::set_cpu_tier(tier);
  const int64_t n = 4097;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> w(n), g(n), m(n, 0), v(n, 0);
  for (auto& x : w) x = nd(rng);
  std::vector<double> wd(w.begin(), w.end()), md(n, 0), vd(n, 0);
  for (int step = 1; step <= 10; ++step) {
    for (auto& x : g) x = nd(rng);
    OptimSlot s;
    s.w = w.data(); s.g = g.data(); s.s0 = m.data(); s.s1 = v.data(); s.n = n;
    const double b1 = 0.9, b2 = 0.99, lr = 1e-2, eps = 1e-8, bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
    s.adam = {0.9f, 0.99f, 0.1f, 0.01f, 1e-8f, 0.0f, static_cast<float>(1 - lr * 0.1), static_cast<float>(lr / bc1), static_cast<float>(1 / std::sqrt(bc2))};
    optim_step_cpu(OptimKind::adam, {s});
    for (int64_t i = 0; i < n; ++i) {
      wd[i] *= 1 - lr * 0.1;
      md[i] = b1 * md[i] + (1 - b1) * g[i];
      vd[i] = b2 * vd[i] + (1 - b2) * double(g[i]) * g[i];
      wd[i] -= lr / bc1 * md[i] / (std::sqrt(vd[i]) / std::sqrt(bc2) + eps);
    }
  }
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(w[i] - wd[i]) / (1 + std::fabs(wd[i])));
  check(worst < 2e-6, std::string("adamw fp32 on ") + tier + " (max err " + std::to_string(worst) + ")");

  // 8-bit: the vector and scalar paths give the same codes on the same input (within one code at a tie)
  std::vector<float> w8(w), a1((n + 255) / 256, 0), a2((n + 255) / 256, 0);
  std::vector<uint8_t> c1(n, quant8_map(true).zero), c2(n, quant8_map(false).zero);
  Adam8Slot q;
  q.w = w8.data(); q.g = g.data(); q.c1 = c1.data(); q.c2 = c2.data(); q.a1 = a1.data(); q.a2 = a2.data(); q.n = n;
  q.adam = {0.9f, 0.99f, 0.1f, 0.01f, 1e-8f, 0.0f, 1.0f, 1e-2f, 1.0f};
  adam8bit_step_cpu({q});
  int far = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float m1 = 0.1f * g[i], v1 = 0.01f * g[i] * g[i];
    const float x1 = m1 / a1[i / 256], x2 = v1 / a2[i / 256];
    if (std::abs(int(c1[i]) - brute_nearest(quant8_map(true), x1)) > 1) ++far;
    if (std::abs(int(c2[i]) - brute_nearest(quant8_map(false), x2)) > 1) ++far;
  }
  check(far == 0, std::string("adam8bit first-step codes on ") + tier);
}
// bitsandbytes' sign rule (quant8_keep_sign): a negative first moment that rounds to the code of 0 is stored
// as the smallest-magnitude negative code; a positive one stays 0. One step from zero state gives m = 0.1 * g
// exactly on every tier (m's old value is 0, so any fused multiply-add rounds the same), so the codes must
// be identical between the scalar loop and the vector path, and equal to nearest code + rule. Each block
// holds one large gradient and many tiny ones of both signs (|m| / absmax below the smallest code, 5.5e-7,
// or near it), plus a tail block shorter than 256.
std::vector<uint8_t> sign_rule_codes(const char* tier, const std::vector<float>& g) {
  lmf::set_cpu_tier(tier);
  const int64_t n = static_cast<int64_t>(g.size()), blocks = (n + 255) / 256;
  std::vector<float> w(n, 0.5f), a1(blocks, 0), a2(blocks, 0);
  std::vector<uint8_t> c1(n, quant8_map(true).zero), c2(n, quant8_map(false).zero);
  Adam8Slot q;
  q.w = w.data(); q.g = g.data(); q.c1 = c1.data(); q.c2 = c2.data(); q.a1 = a1.data(); q.a2 = a2.data(); q.n = n;
  q.adam = {0.9f, 0.99f, 0.1f, 0.01f, 1e-8f, 0.0f, 1.0f, 1e-2f, 1.0f};
  adam8bit_step_cpu({q});
  return c1;
}

void test_sign_rule(const lmf::CpuFeatures& f) {
  const Quant8Map& qs = quant8_map(true);
  check(qs.zero > 0 && qs.code[qs.zero - 1] < 0.0f && qs.code[qs.zero + 1] > 0.0f, "codes beside 0 have opposite signs");
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t n = 8 * 256 + 77;
  std::vector<float> g(n);
  for (int64_t i = 0; i < n; ++i) {
    const float scale = i % 256 == 0 ? 1.0f : i % 3 == 0 ? 1e-6f : i % 3 == 1 ? 3e-7f : 1e-3f;
    g[i] = u(rng) * scale;
  }
  g[n - 1] = -1e-30f;  // tiny but negative: still keeps its sign
  const std::vector<uint8_t> ref = sign_rule_codes("scalar", g);
  int moved = 0, kept0 = 0, bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t b = i / 256 * 256, e = std::min(n, b + 256);
    float mx = 0;
    for (int64_t k = b; k < e; ++k) mx = std::max(mx, std::fabs(0.1f * g[k]));
    const float m = 0.1f * g[i], x = m * (1.0f / mx);
    const uint8_t near = quant8_nearest(qs, x), want = near == qs.zero && m < 0 ? qs.zero - 1 : near;
    moved += near == qs.zero && m < 0;
    kept0 += near == qs.zero && m > 0;
    bad += ref[i] != want;
  }
  check(bad == 0 && moved > 100 && kept0 > 100, "sign rule on scalar: " + std::to_string(moved) + " negative moments moved off 0, " +
                                                     std::to_string(kept0) + " positive ones kept at 0, " + std::to_string(bad) + " wrong");
  std::vector<const char*> tiers;
  if (f.avx2 && f.fma) tiers.push_back("avx2");
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) tiers.push_back("avx512");
  for (const char* tier : tiers) {
    const std::vector<uint8_t> c = sign_rule_codes(tier, g);
    int differ = 0;
    for (int64_t i = 0; i < n; ++i) differ += c[i] != ref[i];
    check(differ == 0, std::string("sign rule: ") + tier + " codes identical to scalar (" + std::to_string(differ) + " differ)");
  }
}

// ---- the op layer ----

lmf::Tensor filled(int64_t n, float v, lmf::DType dt = lmf::DType::f32) {
  lmf::Tensor t = lmf::Tensor::empty({n}, dt, lmf::Device::cpu, "optim_test");
  if (dt == lmf::DType::u8) std::fill(t.data<uint8_t>(), t.data<uint8_t>() + n, static_cast<uint8_t>(v));
  else std::fill(t.data<float>(), t.data<float>() + n, v);
  return t;
}

// The message of the lmf::Error that f throws ("" when it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const lmf::Error& e) {
    return e.what();
  }
  return "";
}

void test_ops() {
  using namespace lmf::ops;
  const int64_t n = 5000, blocks = (n + 255) / 256;
  lmf::Tensor w = filled(n, 0.5f), g = filled(n, 0.25f), m = filled(n, 0), v = filled(n, 0);
  AdamHyper h;
  h.lr = 1e-3; h.beta1 = 0.9; h.beta2 = 0.999; h.eps = 1e-8; h.decoupled = true; h.step = 1;
  OptimGroup<AdamHyper> grp{h, {{&w, &g, nullptr, {&m, &v}}}};
  check(adam_step({grp}), "adam_step applies");

  // A warm-up to lr 1e30 reaches 1.0000000000000002e30; it used to be refused as "got 1e+30" against a bound of 1e30.
  grp.hyper.lr = 1e30 * (1 + std::ldexp(1.0, -52));
  grp.hyper.beta1 = 0;
  check(error_of([&] { adam_step({grp}); }).empty(), "lr just above 1e30 is accepted");
  grp.hyper.lr = 3.5e38;
  const std::string big = error_of([&] { adam_step({grp}); });
  check(big.find("groups[0].lr must be in [0, 3.4028234663852886e+38] (the largest float32), got 3.5e+38") != std::string::npos,
        "lr beyond float32 named exactly: " + big);

  // The 8-bit layout is the flag: plain Adam refuses four state tensors, 8-bit Adam takes them when told so.
  lmf::Tensor c1 = filled(n, lmf::kernels::quant8_map(true).zero, lmf::DType::u8);
  lmf::Tensor c2 = filled(n, lmf::kernels::quant8_map(false).zero, lmf::DType::u8);
  lmf::Tensor a1 = filled(blocks, 0), a2 = filled(blocks, 0);
  OptimGroup<AdamHyper> four{h, {{&w, &g, nullptr, {&c1, &c2, &a1, &a2}}}};
  check(error_of([&] { adam_step({four}); }).find("has 4 state tensors, expected 2") != std::string::npos, "adam_step refuses 8-bit state");
  Adam8bitHyper h8;
  static_cast<AdamHyper&>(h8) = h;
  h8.eight_bit = true;
  OptimGroup<Adam8bitHyper> g8{h8, {{&w, &g, nullptr, {&c1, &c2, &a1, &a2}}}};
  check(adam8bit_step({g8}), "adam8bit_step applies with eight_bit");
  g8.hyper.eight_bit = false;
  check(error_of([&] { adam8bit_step({g8}); }).find("has 4 state tensors, expected 2") != std::string::npos, "eight_bit false wants float32 moments");

  // A NaN gradient anywhere skips the whole step; a NaN estimate skips the whole Hessian update.
  lmf::Tensor w2 = filled(300, 1.0f), gnan = filled(300, 0.5f), buf = filled(300, 0);
  gnan.data<float>()[123] = std::numeric_limits<float>::quiet_NaN();
  SgdHyper hs;
  hs.lr = 0.1; hs.momentum = 0.9;
  const float w0 = w.data<float>()[0];
  check(!sgd_step({{hs, {{&w, &g, nullptr, {&m}}, {&w2, &gnan, nullptr, {&buf}}}}}) && w.data<float>()[0] == w0 && w2.data<float>()[0] == 1.0f,
        "sgd_step skips on a NaN gradient, changing nothing");
  lmf::Tensor hess = filled(300, 2.0f), hess2 = filled(n, 2.0f), e = filled(n, 1.0f);
  check(!hessian_ema({{0.5, {&hess2, &hess}, {&e, &gnan}}}) && hess.data<float>()[0] == 2.0f && hess2.data<float>()[0] == 2.0f,
        "hessian_ema skips on a NaN estimate, changing nothing");
  check(hessian_ema({{0.5, {&hess2}, {&e}}}) && hess2.data<float>()[0] == 1.5f, "hessian_ema folds a finite estimate in");
}
}  // namespace

int main() {
  test_maps();
  // A copy: set_cpu_tier("scalar") narrows what cpu_features() returns, and the later tiers must still run.
  const lmf::CpuFeatures f = lmf::cpu_features();
  test_adam("scalar");
  test_codes_exact("scalar");
  if (f.avx2 && f.fma) test_adam("avx2");
  if (f.avx512f) test_adam("avx512");
  if (f.avx512f) test_codes_exact("avx512");
  test_sign_rule(f);
  if (f.avx512vbmi) {  // the above ran the VBMI path; the plain AVX-512 one must agree as well
    std::printf("again without VBMI:\n");
    quant8_allow_vbmi(false);
    test_adam("avx512");
    test_codes_exact("avx512");
    test_sign_rule(f);
    quant8_allow_vbmi(true);
  }
  lmf::set_cpu_tier("");
  test_ops();
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
