// AVX2+FMA micro-kernel: 6 x 16 (12 ymm accumulators, 2 for B, 1 broadcast): the classic shape that
// keeps both FMA ports busy within 16 registers.
#include "matmul_ukernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace lmf::kernels::gemm {

#if defined(__x86_64__) || defined(_M_X64)
namespace {

constexpr int MR = 6, NR = 16;

__attribute__((target("avx2,fma"))) void ukernel_avx2(int64_t kc, const void* a_, const void* b_, float* c,
                                                      int64_t ldc, float alpha, float beta) {
  const float* a = static_cast<const float*>(a_);
  const float* b = static_cast<const float*>(b_);
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* cr = c + i * ldc;
    __m256 r0 = _mm256_mul_ps(acc[i][0], va), r1 = _mm256_mul_ps(acc[i][1], va);
    if (beta != 0.0f) {
      r0 = _mm256_fmadd_ps(_mm256_loadu_ps(cr), vb, r0);
      r1 = _mm256_fmadd_ps(_mm256_loadu_ps(cr + 8), vb, r1);
    }
    _mm256_storeu_ps(cr, r0);
    _mm256_storeu_ps(cr + 8, r1);
  }
}

}  // namespace

bool kernels_avx2(DType, KernelSet& ks) {
  ks.name = "avx2-6x16";
  ks.mr = MR;
  ks.nr = NR;
  ks.mc = 144;
  ks.kc = 256;
  ks.nc = 4080;
  ks.dot = false;
  ks.ukernel = ukernel_avx2;
  fill_generic_packers<MR, NR>(ks);
  return true;
}

#else

bool kernels_avx2(DType, KernelSet&) { return false; }

#endif

}  // namespace lmf::kernels::gemm
