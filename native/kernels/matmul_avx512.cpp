// AVX-512 micro-kernels: 14 x 32 (28 zmm accumulators, 2 for B, A broadcast straight from memory into the
// FMA). 28 independent chains cover the FMA latency of two 512-bit pipes with room to spare, and the
// (14 + 32) / (14 * 32) load-to-FMA ratio is the best that fits 32 registers.
// The bf16 "dot" kernel has the same shape over k pairs, with vdpbf16ps doing two k per instruction.
#include <algorithm>

#include "matmul_ukernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace lmf::kernels::gemm {

#if defined(__x86_64__) || defined(_M_X64)
namespace {

constexpr int MR = 14, NR = 32;

#define LMF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define LMF_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))

LMF_AVX512 inline void store_tile(__m512 (&acc)[MR][2], float* c, int64_t ldc, float alpha, float beta) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (beta == 0.0f) {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(acc[i][0], va));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(acc[i][1], va));
    }
  } else {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      float* cr = c + i * ldc;
      _mm512_storeu_ps(cr, _mm512_fmadd_ps(_mm512_loadu_ps(cr), vb, _mm512_mul_ps(acc[i][0], va)));
      _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(_mm512_loadu_ps(cr + 16), vb, _mm512_mul_ps(acc[i][1], va)));
    }
  }
}

LMF_AVX512 void ukernel_avx512(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, float alpha,
                               float beta) {
  const float* a = static_cast<const float*>(a_);
  const float* b = static_cast<const float*>(b_);
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  store_tile(acc, c, ldc, alpha, beta);
}

LMF_AVX512BF16 void ukernel_avx512_bf16(int64_t kp, const void* a_, const void* b_, float* c, int64_t ldc,
                                        float alpha, float beta) {
  const int* a = static_cast<const int*>(a_);
  const uint32_t* b = static_cast<const uint32_t*>(b_);
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t q = 0; q < kp; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(a[i]);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
    }
    a += MR;
    b += NR;
  }
  store_tile(acc, c, ldc, alpha, beta);
}

// f32 packers. Copy case (i contiguous): one masked load and store per k. Transpose case (k contiguous,
// the row-major A and the transposed B of backward passes): 8 x 8 in-register transposes, which move a
// value for about a quarter of a cycle where the scalar loop needs one or more.
template <int R>
LMF_AVX512 void pack_f32_copy(float* dst, const float* src, int64_t sk, int64_t n, int64_t kc) {
  for (int64_t p = 0; p < n; p += R, dst += kc * R) {
    const int rn = static_cast<int>(n - p < R ? n - p : R);
    const float* s = src + p;
    for (int64_t k = 0; k < kc; ++k, s += sk) {
      float* d = dst + k * R;
#pragma GCC unroll 2
      for (int v = 0; v < (R + 15) / 16; ++v) {
        const int lanes = std::min(16, R - 16 * v), valid = std::max(0, std::min(lanes, rn - 16 * v));
        const __mmask16 store_m = static_cast<__mmask16>((1u << lanes) - 1);
        const __mmask16 load_m = static_cast<__mmask16>((1u << valid) - 1);
        _mm512_mask_storeu_ps(d + 16 * v, store_m, _mm512_maskz_loadu_ps(load_m, s + 16 * v));
      }
    }
  }
}

LMF_AVX512 inline void transpose8(__m256 (&r)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

template <int R>
LMF_AVX512 void pack_f32_transpose(float* dst, const float* src, int64_t si, int64_t n, int64_t kc) {
  const int64_t k8 = kc & ~int64_t(7);
  for (int64_t p = 0; p < n; p += R, dst += kc * R) {
    const int rn = static_cast<int>(n - p < R ? n - p : R);
    for (int g = 0; g < R; g += 8) {
      const int gn = std::max(0, std::min(8, rn - g));    // source rows present in this group
      const int gw = std::min(8, R - g);                  // lanes this group owns in the panel
      const __mmask8 wm = static_cast<__mmask8>((1u << gw) - 1);
      const float* rows[8];
      for (int r = 0; r < 8; ++r) rows[r] = src + (p + g + std::min(r, std::max(gn - 1, 0))) * si;
      for (int64_t k = 0; k < k8; k += 8) {
        __m256 v[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) v[r] = r < gn ? _mm256_loadu_ps(rows[r] + k) : _mm256_setzero_ps();
        transpose8(v);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) _mm256_mask_storeu_ps(dst + (k + j) * R + g, wm, v[j]);
      }
      for (int64_t k = k8; k < kc; ++k)
        for (int r = 0; r < gw; ++r) dst[k * R + g + r] = r < gn ? rows[r][k] : 0.0f;
    }
  }
}

template <int R>
LMF_AVX512 void pack_f32(void* dst, const void* src_, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  const float* src = static_cast<const float*>(src_);
  if (si == 1)
    pack_f32_copy<R>(static_cast<float*>(dst), src, sk, n, kc);
  else if (sk == 1)
    pack_f32_transpose<R>(static_cast<float*>(dst), src, si, n, kc);
  else
    pack_generic<R, DType::f32>(dst, src_, si, sk, n, kc);
}

}  // namespace

bool kernels_avx512(DType dt, bool bf16_dot, KernelSet& ks) {
  ks.mr = MR;
  ks.nr = NR;
  ks.mc = 14 * 32;
  ks.kc = 384;
  ks.nc = 4096;
  fill_generic_packers<MR, NR>(ks);
  ks.pack_a[0] = pack_f32<MR>;
  ks.pack_b[0] = pack_f32<NR>;
  if (dt == DType::bf16 && bf16_dot) {
    ks.name = "avx512bf16-14x32";
    ks.dot = true;
    ks.kc = 768;
    ks.ukernel = ukernel_avx512_bf16;
    ks.pack_a[1] = pack_pairs_generic<MR>;
    ks.pack_b[1] = pack_pairs_generic<NR>;
  } else {
    ks.name = "avx512-14x32";
    ks.dot = false;
    ks.ukernel = ukernel_avx512;
  }
  return true;
}

#else

bool kernels_avx512(DType, bool, KernelSet&) { return false; }

#endif

}  // namespace lmf::kernels::gemm
