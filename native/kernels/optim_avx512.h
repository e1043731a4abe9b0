// Hand-vectorised AVX-512 pieces of the Adam update, shared by optim_cpu.cpp and adam8bit_cpu.cpp. GCC
// will not vectorise a loop that calls sqrtf unless -fno-math-errno is set for the whole file, which the
// build does not do; these do what adam_update / adam_apply (optim_math.h) do, 16 lanes at a time.
// bf16 loads and stores come from simd.h.
#pragma once
#include "simd.h"
#if LMF_X86_TIERS
#include <cstdint>

#include "optim_math.h"

namespace lmf::kernels::avx512 {

struct AdamVec {
  __m512 b1, b2, omb1, omb2, eps, l2, decay, step, ibc2;
};
LMF_TARGET_AVX512 inline AdamVec adam_vec(const optim::AdamCoef& c) {
  return {_mm512_set1_ps(c.b1), _mm512_set1_ps(c.b2), _mm512_set1_ps(c.one_minus_b1), _mm512_set1_ps(c.one_minus_b2),
          _mm512_set1_ps(c.eps), _mm512_set1_ps(c.l2), _mm512_set1_ps(c.decay), _mm512_set1_ps(c.step_size),
          _mm512_set1_ps(c.inv_sqrt_bc2)};
}
LMF_TARGET_AVX512 inline void moments(__m512 g, __m512& m, __m512& v, const AdamVec& k) {
  m = _mm512_fmadd_ps(k.b1, m, _mm512_mul_ps(k.omb1, g));
  v = _mm512_fmadd_ps(k.b2, v, _mm512_mul_ps(k.omb2, _mm512_mul_ps(g, g)));
}
LMF_TARGET_AVX512 inline __m512 apply(__m512 w, __m512 m, __m512 v, const AdamVec& k) {
  const __m512 den = _mm512_fmadd_ps(_mm512_sqrt_ps(v), k.ibc2, k.eps);
  return _mm512_fnmadd_ps(k.step, _mm512_div_ps(m, den), _mm512_mul_ps(w, k.decay));
}

}  // namespace lmf::kernels::avx512
#endif
