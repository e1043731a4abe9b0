// Standalone checks of the SIMD toolkit (kernels/simd.h) and the one scalar bf16 rounding (kernels/math.h):
// the rounding against a value-based reference on every upper half and the lower halves that matter (ties,
// NaN payloads, subnormals, overflow to infinity); each tier's vector bf16 loads and stores bit for bit
// against the scalar ones, masks included; vexp2 against std::exp2; exp and the normal CDF (GELU's erf) of
// every tier against double; and pick_tier following setCpuTier.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's _mm512_undefined_* helpers trip -Wmaybe-uninitialized once inlined (see matmul_avx512.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../kernels/math.h"
#include "../kernels/simd.h"
#include "../runtime/cpu_features.h"

using namespace lmf;
using namespace lmf::kernels;

namespace {
int g_passed = 0, g_failed = 0;
void check(bool ok, const std::string& what) {
  if (ok) ++g_passed;
  else { ++g_failed; std::printf("FAIL: %s\n", what.c_str()); }
}

float f_of(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
uint32_t u_of(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

// Round to nearest bf16 by value: the two bf16 neighbours of x (truncation and the next one away from
// zero), compared in double; ties to the even one. NaN: a quiet NaN keeping the sign and top payload bits.
uint16_t bf16_reference(float x) {
  const uint32_t u = u_of(x);
  if (std::isnan(x)) return static_cast<uint16_t>((u >> 16) | 0x40u);
  const uint16_t lo = static_cast<uint16_t>(u >> 16), hi = static_cast<uint16_t>(lo + 1);
  if ((u & 0xffffu) == 0) return lo;
  const double dx = std::fabs(static_cast<double>(x));
  const double dlo = std::fabs(static_cast<double>(f_of(static_cast<uint32_t>(lo) << 16)));
  // lo's next bf16 away from zero; past the largest finite value it is infinity, which sits where the
  // next binade would start (2^128), so the midpoint rule still holds.
  const double dhi = (hi & 0x7fffu) == 0x7f80u ? std::ldexp(1.0, 128)
                                               : std::fabs(static_cast<double>(f_of(static_cast<uint32_t>(hi) << 16)));
  const double a = dx - dlo, b = dhi - dx;
  if (a < b) return lo;
  if (b < a) return hi;
  return (lo & 1u) ? hi : lo;
}

// Every upper half with these lower halves: exact values, just under / at / over the tie, the extremes.
std::vector<float> rounding_cases() {
  const uint32_t lows[] = {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu, 0x4000u, 0xc000u};
  std::vector<float> v;
  for (uint32_t hi = 0; hi < 65536; ++hi)
    for (uint32_t lo : lows) v.push_back(f_of((hi << 16) | lo));
  std::mt19937 rng(11);
  for (int i = 0; i < 100000; ++i) v.push_back(f_of(rng()));
  while (v.size() % 16) v.push_back(1.5f);
  return v;
}

void test_scalar_rounding(const std::vector<float>& xs) {
  int bad = 0;
  for (float x : xs) bad += math::f32_to_bf16(x) != bf16_reference(x);
  check(bad == 0, "math::f32_to_bf16 matches the value-based reference (" + std::to_string(bad) + " differ)");
  int round_trip = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = math::bf16_to_f32(static_cast<uint16_t>(h));
    round_trip += u_of(f) != (h << 16) || math::f32_to_bf16(f) != (std::isnan(f) ? (h | 0x40u) : h);
  }
  check(round_trip == 0,
        "every bf16 widens exactly and rounds back to itself (" + std::to_string(round_trip) + " differ)");
}

// The generic loops' element access (simd.h's ld/st) and the portable 16-lane load.
void test_portable(const std::vector<float>& xs) {
  std::vector<uint16_t> h(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) st(h.data(), static_cast<int64_t>(i), xs[i]);
  int bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) bad += h[i] != math::f32_to_bf16(xs[i]);
  check(bad == 0, "portable st(bf16) is math::f32_to_bf16 (" + std::to_string(bad) + " differ)");
  bad = 0;
  for (size_t i = 0; i < h.size(); i += 16) {
    const vmath::v16f v = vmath::load16(h.data() + i);
    for (int l = 0; l < 16; ++l)
      bad += u_of(v[l]) != u_of(math::bf16_to_f32(h[i + l])) || u_of(ld(h.data(), i + l)) != u_of(v[l]);
  }
  check(bad == 0, "portable load16(bf16) and ld(bf16) widen exactly (" + std::to_string(bad) + " differ)");
}

#if LMF_X86_TIERS
LMF_TARGET_AVX512 int avx512_bf16_mismatches(const std::vector<float>& xs) {
  int bad = 0;
  alignas(64) uint16_t out[16];
  alignas(64) float wide[16];
  for (size_t i = 0; i < xs.size(); i += 16) {
    simd::bf16x16_store(out, _mm512_loadu_ps(xs.data() + i));
    for (int l = 0; l < 16; ++l) bad += out[l] != math::f32_to_bf16(xs[i + l]);
    _mm512_storeu_ps(wide, simd::bf16x16_load(out));
    for (int l = 0; l < 16; ++l) bad += u_of(wide[l]) != u_of(math::bf16_to_f32(out[l]));
    // Masked: lanes outside the mask are neither read nor written.
    const __mmask16 m = static_cast<__mmask16>(0x5a3c ^ i);
    uint16_t keep[16];
    for (int l = 0; l < 16; ++l) keep[l] = out[l] = static_cast<uint16_t>(0xbeef + l);
    simd::bf16x16_store(out, _mm512_loadu_ps(xs.data() + i), m);
    for (int l = 0; l < 16; ++l) bad += out[l] != ((m >> l) & 1 ? math::f32_to_bf16(xs[i + l]) : keep[l]);
    _mm512_storeu_ps(wide, simd::bf16x16_load(out, m));
    for (int l = 0; l < 16; ++l) bad += u_of(wide[l]) != ((m >> l) & 1 ? u_of(math::bf16_to_f32(out[l])) : 0u);
  }
  return bad;
}

LMF_TARGET_AVX2 int avx2_bf16_mismatches(const std::vector<float>& xs) {
  int bad = 0;
  alignas(32) float wide[8];
  for (size_t i = 0; i < xs.size(); i += 8) {
    uint16_t h[8];
    for (int l = 0; l < 8; ++l) h[l] = math::f32_to_bf16(xs[i + l]);
    _mm256_storeu_ps(wide, simd::bf16x8_load(h));
    for (int l = 0; l < 8; ++l) bad += u_of(wide[l]) != u_of(math::bf16_to_f32(h[l]));
  }
  return bad;
}

// Inputs spread over the whole range, with the edges: the clamp at -127, -inf, +127, NaN.
std::vector<float> exp2_cases() {
  std::vector<float> x;
  for (int i = 0; i <= 200000; ++i) x.push_back(-130.0f + 259.0f * static_cast<float>(i) / 200000.0f);
  const float edges[] = {-127.0f, -126.5f, -126.0f, 0.0f, -0.0f, 0.5f, -0.5f, 126.9f, 127.0f,
                         -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  for (float e : edges) x.push_back(e);
  while (x.size() % 16) x.push_back(1.0f);
  return x;
}

// Relative error against std::exp2 where 2^x is a normal float, exact 0 at or below -127, NaN kept.
template <class Eval>
void check_exp2(const char* tier, Eval eval) {
  const std::vector<float> x = exp2_cases();
  std::vector<float> y(x.size());
  eval(x, y);
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) { bad += !std::isnan(y[i]); continue; }
    if (x[i] <= -127.0f) { bad += y[i] != 0.0f; continue; }
    if (x[i] < -126.0f || x[i] > 127.0f) continue;  // subnormal results, or past the clamp
    const double ref = std::exp2(static_cast<double>(x[i]));
    worst = std::max(worst, std::fabs(y[i] - ref) / ref);
  }
  check(bad == 0, std::string(tier) + " vexp2: 0 at or below -127 and NaN kept (" + std::to_string(bad) + " bad)");
  check(worst < 3e-7, std::string(tier) + " vexp2 relative error " + std::to_string(worst) + " < 3e-7");
}

LMF_TARGET_AVX512 void exp2_avx512(const std::vector<float>& x, std::vector<float>& y) {
  for (size_t i = 0; i < x.size(); i += 16) _mm512_storeu_ps(y.data() + i, simd::vexp2(_mm512_loadu_ps(x.data() + i)));
}
LMF_TARGET_AVX2 void exp2_avx2(const std::vector<float>& x, std::vector<float>& y) {
  for (size_t i = 0; i < x.size(); i += 8) _mm256_storeu_ps(y.data() + i, simd::vexp2(_mm256_loadu_ps(x.data() + i)));
}
#endif

// pick_tier returns the choice of the tier set_cpu_tier forces, and cpu_tier() names it.
// ---- exp and the normal CDF (GELU's erf) against double, on every tier's build ----
// Every 97th float of the range (22 million for exp), so every exponent and many mantissas of each.
std::vector<float> sweep(float lo, float hi) {
  std::vector<float> v;
  for (uint64_t u = 0; u < 0x100000000ull; u += 97) {
    const float x = f_of(static_cast<uint32_t>(u));
    if (x >= lo && x <= hi) v.push_back(x);
  }
  while (v.size() % 16) v.push_back(0.0f);
  return v;
}
double ulp_error(float y, double ref) {
  int e;
  std::frexp(std::fabs(ref), &e);
  return std::fabs(y - ref) / std::ldexp(1.0, std::max(e - 24, -149));
}
using VecFn = void (*)(float*, const float*, int64_t);

// exp(x) within max_ulp on [lo, hi] where the result is a normal float (vmath::exp flushes the subnormal
// ones to 0), and exact at the special values.
void check_exp(const char* tier, VecFn f, float lo, float hi, double max_ulp) {
  const std::vector<float> x = sweep(lo, hi);
  std::vector<float> y(x.size());
  f(y.data(), x.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = std::exp(static_cast<double>(x[i]));
    if (ref >= 0x1p-126) worst = std::max(worst, ulp_error(y[i], ref));
  }
  const float sp[16] = {-INFINITY, INFINITY, NAN, 0.0f, -0.0f, 89.0f, 1e30f, -1e30f, -200.0f, 1.0f, -1.0f, 0.5f, 2.0f, -2.0f, 10.0f, -10.0f};
  float ys[16];
  f(ys, sp, 16);
  const bool specials = ys[0] == 0.0f && ys[1] == INFINITY && std::isnan(ys[2]) && ys[3] == 1.0f && ys[4] == 1.0f &&
                        ys[5] == INFINITY && ys[6] == INFINITY && ys[7] == 0.0f && ys[8] == 0.0f;
  check(worst <= max_ulp, std::string(tier) + " exp within " + std::to_string(max_ulp) + " ulp of double (worst " + std::to_string(worst) + ")");
  check(specials, std::string(tier) + " exp of -inf, inf, NaN, +-0, overflow and underflow");
  std::printf("%s exp: worst %.3f ulp\n", tier, worst);
}

// Phi(x) = (1 + erf(x / sqrt 2)) / 2 within max_abs of double on [-20, 20]; NaN stays NaN.
void check_cdf(const char* tier, VecFn f, double max_abs) {
  std::vector<float> x = sweep(-20.0f, 20.0f);
  x.insert(x.end(), {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-30f, -1e-30f, 30.0f, -30.0f, 5.0f, -5.0f, 0.07236f, 1.0f, -1.0f, 2.0f, -2.0f});
  std::vector<float> y(x.size());
  f(y.data(), x.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  bool ok = true;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      ok = ok && std::isnan(y[i]);
      continue;
    }
    worst = std::max(worst, std::fabs(y[i] - 0.5 * std::erfc(-static_cast<double>(x[i]) / std::sqrt(2.0))));
  }
  check(ok && worst <= max_abs, std::string(tier) + " normal CDF within " + std::to_string(max_abs) + " of double (worst " + std::to_string(worst) + ")");
  std::printf("%s normal cdf: worst absolute error %.3g\n", tier, worst);
}

// The generic loops' formulas (vmath::exp; Phi as math.h's act_f writes it with vmath::erf), compiled for
// each tier as the kernels compile them.
#define LMF_GENERIC_EXP(name, attr) \
  attr void name(float* y, const float* x, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = vmath::exp(x[i]); }
#define LMF_GENERIC_CDF(name, attr) \
  attr void name(float* y, const float* x, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * (1.0f + vmath::erf(x[i] * 0.7071067811865476f)); }
LMF_GENERIC_EXP(exp_portable, LMF_FLAT)
LMF_GENERIC_EXP(exp_t512, LMF_T512)
LMF_GENERIC_EXP(exp_t256, LMF_T256)
LMF_GENERIC_CDF(cdf_portable, LMF_FLAT)
LMF_GENERIC_CDF(cdf_t512, LMF_T512)
LMF_GENERIC_CDF(cdf_t256, LMF_T256)
#if LMF_X86_TIERS
// simd::vexp2_nonpos against double on every 97th float of [-151, 0], a few small positive t and the
// specials: relative error where 2^t is a normal float, a subnormal step below that, exactly 0 from -150.
LMF_TARGET_AVX512 bool exp2_nonpos_ok() {
  std::vector<float> t = sweep(-151.0f, 0.0f);
  t.insert(t.end(), {-INFINITY, -150.0f, -149.5f, -126.0f, -125.9f, 1e-7f, 3e-6f, -0.0f});
  while (t.size() % 16) t.push_back(0.0f);
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < t.size(); i += 16) {
    alignas(64) float y[16];
    _mm512_store_ps(y, simd::vexp2_nonpos(_mm512_loadu_ps(t.data() + i)));
    for (int l = 0; l < 16; ++l) {
      const double ref = std::exp2(static_cast<double>(t[i + l]));
      if (t[i + l] <= -150.0f) bad += y[l] != 0.0f;
      else if (ref < 0x1p-126) bad += std::fabs(y[l] - ref) > 0x1p-149;
      else worst = std::max(worst, std::fabs(y[l] - ref) / ref);
    }
  }
  alignas(64) float y[16];
  _mm512_store_ps(y, simd::vexp2_nonpos(_mm512_set1_ps(NAN)));
  bad += !std::isnan(y[0]);
  std::printf("avx512 vexp2_nonpos: worst relative error %.3g, %d bad special or subnormal results\n", worst, bad);
  return bad == 0 && worst <= 2.5e-7;
}
// simd::vexp_gauss against double: absolute error (what Phi and GELU's x phi(x) see) and relative error per
// unit of |t| = x^2 log2(e) / 2 (the rounding of x^2 it inherits), on the CDF sweep plus specials.
LMF_TARGET_AVX512 bool gauss_exp_ok() {
  std::vector<float> x = sweep(-20.0f, 20.0f);
  x.insert(x.end(), {INFINITY, -INFINITY, 0.0f, -0.0f, 1e-30f, 13.0f, -13.3f, 14.0f, 1e20f});
  double worst_abs = 0, worst_rel = 0;
  for (float xi : x) {
    alignas(64) float e[16];
    _mm512_store_ps(e, simd::vexp_gauss(_mm512_set1_ps(xi)));
    const double xd = xi, want = std::exp(-xd * xd / 2), t = xd * xd / 2 * 1.4426950408889634;
    if (!(e[0] >= 0)) return false;
    worst_abs = std::max(worst_abs, std::fabs(e[0] - want));
    if (want > 1e-37) worst_rel = std::max(worst_rel, std::fabs(e[0] - want) / want / (1 + t));
  }
  if (_mm512_cmp_ps_mask(simd::vexp_gauss(_mm512_set1_ps(NAN)), _mm512_setzero_ps(), _CMP_UNORD_Q) != 0xffff) return false;  // NaN kept
  std::printf("avx512 vexp_gauss: worst absolute error %.3g, worst relative error / (1 + |t|) %.3g\n", worst_abs, worst_rel);
  return worst_abs <= 1.5e-7 && worst_rel <= 2.5e-7;
}
LMF_TARGET_AVX512 void cdf_avx512(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    __m512 e;
    _mm512_mask_storeu_ps(y + i, m, simd::vnormal_cdf(_mm512_maskz_loadu_ps(m, x + i), e));
  }
}
#endif

void test_pick(const char* tier, CpuTier expect) {
  set_cpu_tier(tier);
  check(simd_tier() == expect && std::string(cpu_tier()) == tier,
        std::string("simd_tier() follows set_cpu_tier(") + tier + ")");
  const std::string picked = pick_tier<const char*>("avx512", "avx2", "neon", "portable");
  std::string want = expect == CpuTier::avx512 ? "avx512" : expect == CpuTier::avx2 ? "avx2" : "portable";
  if (expect == CpuTier::neon) want = "neon";
  if (!LMF_X86_TIERS && (expect == CpuTier::avx512 || expect == CpuTier::avx2)) want = "portable";
  check(picked == want, std::string("pick_tier under ") + tier + " gives " + picked);
  const std::string picked3 = pick_tier<const char*>("avx512", "avx2", "portable");
  check(picked3 == (want == "neon" ? "portable" : want),
        std::string("three-way pick_tier under ") + tier + " gives " + picked3);
}

}  // namespace

int main() {
  const std::vector<float> xs = rounding_cases();
  test_scalar_rounding(xs);
  test_portable(xs);
  const CpuFeatures hw = cpu_features();  // a copy: set_cpu_tier narrows what cpu_features() returns
  const bool has512 = hw.avx512f && hw.avx512bw && hw.avx512vl && hw.avx512dq, has256 = hw.avx2 && hw.fma;
#if LMF_X86_TIERS
  if (has512) {
    check(avx512_bf16_mismatches(xs) == 0, "AVX-512 bf16 loads and stores match the scalar ones bit for bit");
    check_exp2("avx512", exp2_avx512);
  } else {
    std::printf("skipped: no AVX-512 on this CPU\n");
  }
  if (has256) {
    check(avx2_bf16_mismatches(xs) == 0, "AVX2 bf16 load matches the scalar one bit for bit");
    check_exp2("avx2", exp2_avx2);
  } else {
    std::printf("skipped: no AVX2+FMA on this CPU\n");
  }
#endif
  // vmath::exp flushes results below 2^-126 to 0, and its 2^n overflows to inf from 127.5 ln 2 = 88.38
  // (where e^x is within 2^0.5 of the largest float).
  check_exp("portable", exp_portable, -87.3f, 88.37f, 2.0);
  check_cdf("portable", cdf_portable, 5e-7);
#if LMF_X86_TIERS
  if (has256) {
    check_exp("avx2 (generic loop)", exp_t256, -87.3f, 88.37f, 2.0);
    check_cdf("avx2 (generic loop)", cdf_t256, 5e-7);
  }
  if (has512) {
    check_exp("avx512 (generic loop)", exp_t512, -87.3f, 88.37f, 2.0);
    check_cdf("avx512 (generic loop)", cdf_t512, 5e-7);
    check_cdf("avx512 vnormal_cdf", cdf_avx512, 5e-7);
    check(exp2_nonpos_ok(), "avx512 vexp2_nonpos within 2.5e-7 relative of double, subnormals to a step, 0 from -150, NaN kept");
    check(gauss_exp_ok(), "avx512 vexp_gauss within 1.5e-7 absolute and 2.5e-7 (1 + |t|) relative of double");
  }
#endif
  if (has512) test_pick("avx512", CpuTier::avx512);
  if (has256) test_pick("avx2", CpuTier::avx2);
  if (hw.neon) test_pick("neon", CpuTier::neon);
  test_pick("scalar", CpuTier::scalar);
  set_cpu_tier("");
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
