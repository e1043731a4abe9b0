// Shared by the fused kernels (activation, norm, rope, softmax_xent): branch-free scalar math that a loop
// vectorises, 16-lane GCC vector helpers, element loads/stores (bf16 as raw uint16), and the attributes
// that compile one loop per SIMD tier (AVX-512, AVX2+FMA, portable), chosen at run time by simd_tier().
//
// Error bounds: exp about 1.5 ulp over [-87.3, 88.7]; erf (Abramowitz & Stegun 7.1.26) 1.5e-7 absolute.
#pragma once
// GCC warns that 64-byte vector arguments change ABI; the helpers below are always inlined into the
// tier functions, so no vector crosses an ABI boundary.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#define LMF_HAVE_X86_TIERS 1
#define LMF_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c"), flatten))
#define LMF_T256 __attribute__((target("avx2,fma,f16c"), flatten))
#else
#define LMF_HAVE_X86_TIERS 0
#endif
#if defined(__GNUC__)
#define LMF_FLAT __attribute__((flatten))
#define LMF_AI __attribute__((always_inline)) inline
#else
#define LMF_FLAT
#define LMF_AI inline
#endif

namespace lmf::kernels {

// Scalar formulas written so that a loop of them vectorises (no branches, no libm calls).
namespace vmath {

inline float bits_to_f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t f_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

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
// (one zmm, two ymm or four xmm registers). Always inlined into the tier functions, so no vector crosses
// an ABI boundary (hence -Wpsabi is silenced).
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint16_t v16h __attribute__((vector_size(32)));

inline __attribute__((always_inline)) v16f load16(const float* p) { v16f v; std::memcpy(&v, p, sizeof v); return v; }
inline __attribute__((always_inline)) void store16(float* p, const v16f& v) { std::memcpy(p, &v, sizeof v); }
inline __attribute__((always_inline)) float hsum16(const v16f& v) {
  float s = 0;
  for (int l = 0; l < 16; ++l) s += v[l];
  return s;
}
inline __attribute__((always_inline)) v16f load16(const uint16_t* p) {
  v16h h;
  std::memcpy(&h, p, sizeof h);
  const v16i u = __builtin_convertvector(h, v16i) << 16;
  return (v16f)u;  // same-size vector cast: a bit reinterpretation
}
// exp on 16 lanes (same formula, same error).
inline __attribute__((always_inline)) v16f exp16(const v16f& x) {
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

// bf16 <-> f32 without branches (NaN stays a quiet NaN, rounding to nearest even).
inline float bf16_load(uint16_t h) { return bits_to_f(static_cast<uint32_t>(h) << 16); }
inline uint16_t bf16_store(float f) {
  const uint32_t u = f_to_bits(f);
  const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t n = (u >> 16) | 0x40u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? n : r);
}

}  // namespace vmath

// Element access for the tier loops: fp32 and fp64 directly, bf16 (raw uint16) through fp32.
LMF_AI float ld(const float* p, int64_t i) { return p[i]; }
LMF_AI float ld(const uint16_t* p, int64_t i) { return vmath::bf16_load(p[i]); }
LMF_AI double ld(const double* p, int64_t i) { return p[i]; }
LMF_AI void st(float* p, int64_t i, float v) { p[i] = v; }
LMF_AI void st(uint16_t* p, int64_t i, float v) { p[i] = vmath::bf16_store(v); }
LMF_AI void st(double* p, int64_t i, double v) { p[i] = v; }

// The SIMD tier kernels dispatch on: 2 = AVX-512, 1 = AVX2+FMA, 0 = portable (read from cpu_tier()).
int simd_tier();

}  // namespace lmf::kernels
