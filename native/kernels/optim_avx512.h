// Hand-vectorised AVX-512 pieces of the Adam update, shared by optim_cpu.cpp and quant8_cpu.cpp. GCC
// will not vectorise a loop that calls sqrtf unless -fno-math-errno is set for the whole file, which the
// build does not do; these do what adam_update / adam_apply (optim_math.h) do, 16 lanes at a time.
#pragma once
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstdint>

#include "optim_math.h"

#define LMF_AVX512_OPT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

namespace lmf::kernels::avx512 {

LMF_AVX512_OPT inline __m512 load_bf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

// Round to nearest even; NaN stays a quiet NaN (as math::f32_to_bf16).
LMF_AVX512_OPT inline void store_bf16(uint16_t* p, __m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(r));
}

struct AdamVec {
  __m512 b1, b2, omb1, omb2, eps, l2, decay, step, ibc2;
};
LMF_AVX512_OPT inline AdamVec adam_vec(const optim::AdamCoef& c) {
  return {_mm512_set1_ps(c.b1), _mm512_set1_ps(c.b2), _mm512_set1_ps(c.one_minus_b1), _mm512_set1_ps(c.one_minus_b2),
          _mm512_set1_ps(c.eps), _mm512_set1_ps(c.l2), _mm512_set1_ps(c.decay), _mm512_set1_ps(c.step_size),
          _mm512_set1_ps(c.inv_sqrt_bc2)};
}
LMF_AVX512_OPT inline void moments(__m512 g, __m512& m, __m512& v, const AdamVec& k) {
  m = _mm512_fmadd_ps(k.b1, m, _mm512_mul_ps(k.omb1, g));
  v = _mm512_fmadd_ps(k.b2, v, _mm512_mul_ps(k.omb2, _mm512_mul_ps(g, g)));
}
LMF_AVX512_OPT inline __m512 apply(__m512 w, __m512 m, __m512 v, const AdamVec& k) {
  const __m512 den = _mm512_fmadd_ps(_mm512_sqrt_ps(v), k.ibc2, k.eps);
  return _mm512_fnmadd_ps(k.step, _mm512_div_ps(m, den), _mm512_mul_ps(w, k.decay));
}

}  // namespace lmf::kernels::avx512
#endif
