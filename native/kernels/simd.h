// The CPU kernels' SIMD toolkit: how a family compiles one kernel per instruction-set tier and picks one at
// run time, plus the vector pieces several families share (bf16 loads and stores, exp and exp2). The
// library is built without -march: only code compiled under a tier's target runs that tier's instructions.
//
// How a family picks its tier. The tier comes from one place, simd_tier() (runtime/cpu_features.h), which
// setCpuTier forces. A family compiles each hot function once per tier and picks with pick_tier, once per
// call, before its parallel loop:
//   - generic loops: a template compiled under LMF_T512, LMF_T256 and LMF_FLAT (portable); GCC's
//     vectoriser turns the branch-free vmath formulas below into AVX-512, AVX2 or baseline SSE code;
//   - intrinsics: functions under LMF_TARGET_AVX512 / LMF_TARGET_AVX2 inside `#if LMF_X86_TIERS`, with
//     a portable fallback; the attention tiles are whole regions (LMF_BEGIN_AVX512 ... LMF_END_TARGET),
//     because a target attribute does not reach the lambdas inside a function;
//   - matmul alone has NEON kernels, and picks among four kernel sets (pick_tier's four-way form).
// Off x86 (or without GCC-style attributes), LMF_X86_TIERS is 0, pick_tier always returns the portable (or
// NEON) choice, and a family names its portable function for the x86 tiers it cannot compile.
//
// Error bounds: vmath::exp about 1.5 ulp over [-87.3, 88.37] (0 below; inf from 88.38, where e^x is
// still finite: its 2^n overflows); erf (Abramowitz & Stegun 7.1.26) 1.5e-7
// absolute; vexp2 relative error about 1e-7; simd::vexp2_nonpos 2.5e-7 relative (for exact t); simd::vexp_gauss
// 1.5e-7 absolute; simd::vnormal_cdf 5e-7 absolute.
#pragma once
// GCC warns that 64-byte vector arguments change ABI; the helpers below are always inlined into the
// tier functions, so no vector crosses an ABI boundary.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include <cstdint>
#include <cstring>

#include "../runtime/cpu_features.h"
#include "math.h"

// LMF_NO_X86_TIERS builds the portable kernels alone on x86 too: a check that the code of other
// architectures compiles, not a product option.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(LMF_NO_X86_TIERS)
#define LMF_X86_TIERS 1
#include <immintrin.h>
// What each tier's code may use. FMA and F16C come with every CPU of both tiers; code that needs F16C
// under the AVX2 tier checks cpu_features().f16c all the same (matmul's float16 packers).
#define LMF_ISA_AVX512 "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c"
#define LMF_ISA_AVX2 "avx2,fma,f16c"
#define LMF_TARGET_AVX512 __attribute__((target(LMF_ISA_AVX512)))
#define LMF_TARGET_AVX2 __attribute__((target(LMF_ISA_AVX2)))
// AVX-512 plus VBMI byte permutes, for kernels that check cpu_features().avx512vbmi.
#define LMF_TARGET_AVX512VBMI __attribute__((target(LMF_ISA_AVX512 ",avx512vbmi")))
// A generic loop compiled for a tier: everything it calls inlined, so the whole loop sees the target.
#define LMF_T512 __attribute__((target(LMF_ISA_AVX512), flatten))
#define LMF_T256 __attribute__((target(LMF_ISA_AVX2), flatten))
#else
#define LMF_X86_TIERS 0
#endif
#if defined(__GNUC__)
#define LMF_FLAT __attribute__((flatten))
#define LMF_AI __attribute__((always_inline)) inline
#else
#define LMF_FLAT
#define LMF_AI inline
#endif
#if !LMF_X86_TIERS
// Generic loops still compile their x86 copies here (as portable code): pick_tier never returns them, and
// the unused copies are dropped.
#define LMF_T512 LMF_FLAT
#define LMF_T256 LMF_FLAT
#endif

// Regions of code compiled for a tier, lambdas included. GCC only (clang has no `#pragma GCC target`):
// LMF_TIER_REGIONS says whether they exist.
#if LMF_X86_TIERS && !defined(__clang__)
#define LMF_TIER_REGIONS 1
#define LMF_PRAGMA(x) _Pragma(#x)
#define LMF_TARGET_PRAGMA(isa) LMF_PRAGMA(GCC target(isa))  // a level of its own, so that isa is expanded
#define LMF_BEGIN_AVX512 _Pragma("GCC push_options") LMF_TARGET_PRAGMA(LMF_ISA_AVX512)
#define LMF_BEGIN_AVX2 _Pragma("GCC push_options") LMF_TARGET_PRAGMA(LMF_ISA_AVX2)
#define LMF_END_TARGET _Pragma("GCC pop_options")
#else
#define LMF_TIER_REGIONS 0
#endif

namespace lmf::kernels {

// ---- picking a tier ----

// The current tier's choice among one value per tier (a function pointer, a kernel set's filler, a name).
// NEON and scalar CPUs get `neon` and `portable`.
template <class F>
LMF_AI F pick_tier(F avx512, F avx2, F neon, F portable) {
  switch (simd_tier()) {
#if LMF_X86_TIERS
    case CpuTier::avx512: return avx512;
    case CpuTier::avx2: return avx2;
#endif
    case CpuTier::neon: return neon;
    default: break;
  }
  (void)avx512;
  (void)avx2;
  return portable;
}
// Families without NEON code: NEON CPUs run the portable one.
template <class F>
LMF_AI F pick_tier(F avx512, F avx2, F portable) { return pick_tier<F>(avx512, avx2, portable, portable); }

// ---- portable: scalar formulas and 16-lane GCC vectors that every tier's target compiles ----

namespace vmath {

inline float bits_to_f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t f_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

// Scalar formulas written so that a loop of them vectorises (no branches, no libm calls).
inline float exp(float x) {
  const float xc = x > 88.7f ? 88.7f : (x < -87.3f ? -87.3f : x);
  const float kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = xc - kf * 0.693359375f;
  r = r - kf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = bits_to_f(static_cast<uint32_t>(static_cast<int32_t>(kf) + 127) << 23);
  const float y = p * scale;
  return x < -87.3f ? 0.0f : y;
}
inline float sigmoid(float x) { return 1.0f / (1.0f + vmath::exp(-x)); }
inline float erf(float x) {
  const float a = x < 0 ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float e = 1.0f - p * t * vmath::exp(-a * a);
  return x < 0 ? -e : e;
}
// 16-lane GCC vector types for the loops the vectoriser cannot do alone (float sums and maxima are not
// reassociated without -ffast-math): written on whole vectors, compiled by each tier's target attribute
// (one zmm, two ymm or four xmm registers).
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint16_t v16h __attribute__((vector_size(32)));

LMF_AI v16f load16(const float* p) { v16f v; std::memcpy(&v, p, sizeof v); return v; }
LMF_AI void store16(float* p, const v16f& v) { std::memcpy(p, &v, sizeof v); }
// A pairwise tree (lanes l and l + 8, then + 4, + 2, + 1): four dependent adds where a lane-by-lane sum
// had sixteen, on the path between a norm row's passes (LayerNorm forward at D = 384: 7% less time).
#if defined(__clang__)
#define LMF_SHUF16(v, ...) __builtin_shufflevector(v, v, __VA_ARGS__)
#else  // GCC before 12 has only __builtin_shuffle
#define LMF_SHUF16(v, ...) __builtin_shuffle(v, v16i{__VA_ARGS__})
#endif
LMF_AI float hsum16(const v16f& v) {
  const v16f a = v + LMF_SHUF16(v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  const v16f b = a + LMF_SHUF16(a, 4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15);
  const v16f c = b + LMF_SHUF16(b, 2, 3, 0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return c[0] + c[1];
}
#undef LMF_SHUF16
// 16 bf16 values (raw uint16) widened to fp32: the portable vector bf16 load.
LMF_AI v16f load16(const uint16_t* p) {
  v16h h;
  std::memcpy(&h, p, sizeof h);
  const v16i u = __builtin_convertvector(h, v16i) << 16;
  return (v16f)u;  // same-size vector cast: a bit reinterpretation
}
// exp on 16 lanes (same formula, same error).
LMF_AI v16f exp16(const v16f& x) {
  const v16f hi = x > 88.7f ? 88.7f : x;
  const v16f xc = hi < -87.3f ? -87.3f : hi;
  const v16f kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  v16f r = xc - kf * 0.693359375f;
  r = r - kf * -2.12194440e-4f;
  v16f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const v16i e = (__builtin_convertvector(kf, v16i) + 127) << 23;
  const v16f y = p * (v16f)e;
  return x < -87.3f ? v16f{} : y;
}

}  // namespace vmath

// Element access for the generic loops: fp32 and fp64 directly, bf16 (raw uint16, so the vectoriser sees
// integer shifts) through fp32 with math.h's rounding, which vectorises because it has no branch.
LMF_AI float ld(const float* p, int64_t i) { return p[i]; }
LMF_AI float ld(const uint16_t* p, int64_t i) { return math::bf16_to_f32(p[i]); }
LMF_AI double ld(const double* p, int64_t i) { return p[i]; }
LMF_AI void st(float* p, int64_t i, float v) { p[i] = v; }
LMF_AI void st(uint16_t* p, int64_t i, float v) { p[i] = math::f32_to_bf16(v); }
LMF_AI void st(double* p, int64_t i, double v) { p[i] = v; }

// ---- x86 intrinsics: bf16 vectors and exp2, for the hand-written kernels ----
#if LMF_X86_TIERS
namespace simd {

// 16 bf16 values widened to fp32 (lanes outside mask m read nothing and give 0).
LMF_TARGET_AVX512 inline __m512 bf16x16_load(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
LMF_TARGET_AVX512 inline __m512 bf16x16_load(const uint16_t* p, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}
// 16 fp32 lanes rounded to bf16 exactly as math::f32_to_bf16 (nearest even, NaN kept a quiet NaN), which
// vcvtneps2bf16 would not match for subnormals (it flushes them).
LMF_TARGET_AVX512 inline __m256i bf16x16_round(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}
LMF_TARGET_AVX512 inline void bf16x16_store(uint16_t* p, __m512 x) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), bf16x16_round(x));
}
LMF_TARGET_AVX512 inline void bf16x16_store(uint16_t* p, __m512 x, __mmask16 m) {
  _mm256_mask_storeu_epi16(p, m, bf16x16_round(x));
}
// 8 bf16 values widened to fp32.
LMF_TARGET_AVX2 inline __m256 bf16x8_load(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// 2^x: x = n + f with n = round(x), |f| <= 1/2; e^(f ln 2) by its degree-7 Taylor polynomial (relative
// error ~1e-7); 2^n from the exponent bits. x <= -127 gives exactly 0 (so exp2(-inf) = 0); NaN stays NaN.
LMF_TARGET_AVX512 inline __m512 vexp2(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(127.0f), _mm512_max_ps(_mm512_set1_ps(-127.0f), x));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_mul_ps(_mm512_sub_ps(x, n), _mm512_set1_ps(0.6931471805599453f));
  __m512 r = _mm512_set1_ps(1.0f / 5040);
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f / 720));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f / 120));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f / 24));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f / 6));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(0.5f));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(r, _mm512_castsi512_ps(e));
}
// 2^t on 16 lanes for t <= 0 (small positive t from rounding are fine too): 2^floor(t) by vscalefps, 2^f for
// f = t - floor(t) in [0, 1) (vreduceps, exact) by a degree-6 minimax polynomial (relative error 2e-9 before
// float rounding). Within 2.5e-7 relative of 2^t where that is a normal float, within a subnormal step
// below; t <= -150 gives 0 (so -inf does); NaN stays NaN (simd_test checks all of it against double). 10
// instructions where a Cody-Waite exp (two-part reduction, Cephes polynomial, vscalefps) takes 15. For e^x
// the caller forms t = x log2 e, whose rounding (|t| 2^-24) becomes a relative error |t| 2^-24 ln 2 that grows
// as the result shrinks like 2^t: fine for sums of exponentials (softmax, log-sum-exp) and the normal
// density, not an exp accurate to an ulp everywhere.
LMF_TARGET_AVX512 inline __m512 vexp2_nonpos(__m512 t) {
  t = _mm512_max_ps(_mm512_set1_ps(-150.0f), t);  // vmaxps returns its second operand for a NaN
  const __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 p = _mm512_set1_ps(2.1690911671612412e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.2442993465811014e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.678482078015804e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.548352003097534e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402298003435135e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931470036506653e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, t);
}
// exp(-x^2 / 2): the normal density's exponential, for the CDF below and GELU's derivative.
LMF_TARGET_AVX512 inline __m512 vexp_gauss(__m512 x) {
  return vexp2_nonpos(_mm512_mul_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(-0.72134752044448170f)));
}

// The standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2 on 16 lanes, and e = exp(-x^2 / 2) (GELU's
// derivative needs it too). erfc(a) = t P(t) exp(-a^2), t = 1 / (1 + 0.3275911 a), a = |x| / sqrt 2, by
// Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7 on erf); Phi is erfc(a) / 2 for x < 0 (no cancellation in
// the left tail) and 1 - erfc(a) / 2 otherwise. 1 / (1 + 0.33 a) by vrcp14ps and one Newton step
// (relative error ~2^-27) instead of a divide. |Phi - Phi_exact| <= 5e-7 for all x (the formula's 0.75e-7
// plus float rounding; 4.0e-7 measured), tested against double in native/tests/simd_test.cpp.
LMF_TARGET_AVX512 inline __m512 vnormal_cdf(__m512 x, __m512& e) {
  const __m512 a = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
  const __m512 d = _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f));
  __m512 t = _mm512_rcp14_ps(d);
  t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
  // P / 2: the coefficients halved (exact), so that h = erfc(a) / 2 needs no multiply by 0.5.
  __m512 p = _mm512_set1_ps(1.061405429f / 2);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f / 2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f / 2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f / 2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f / 2));
  e = vexp_gauss(x);
  const __m512 h = _mm512_mul_ps(_mm512_mul_ps(p, t), e);
  const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  return _mm512_mask_sub_ps(h, pos, _mm512_set1_ps(1.0f), h);
}

LMF_TARGET_AVX2 inline __m256 vexp2(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(127.0f), _mm256_max_ps(_mm256_set1_ps(-127.0f), x));
  const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_mul_ps(_mm256_sub_ps(x, n), _mm256_set1_ps(0.6931471805599453f));
  __m256 r = _mm256_set1_ps(1.0f / 5040);
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f / 720));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f / 120));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f / 24));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f / 6));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(0.5f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(r, _mm256_castsi256_ps(e));
}

}  // namespace simd
#endif

}  // namespace lmf::kernels
