// AVX2+FMA micro-kernel: 6 x 16 (12 ymm accumulators, 2 for B, 1 broadcast): the classic shape that
// keeps both FMA ports busy within 16 registers.
#include <algorithm>

#include "../runtime/cpu_features.h"
#include "matmul_ukernels.h"
#include "simd.h"

#if LMF_X86_TIERS
#include "matmul_x86.h"
#endif

namespace lmf::kernels::gemm {

#if LMF_X86_TIERS
namespace {

constexpr int MR = 6, NR = 16;

LMF_TARGET_AVX2 void ukernel_avx2(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, float alpha,
                                  float beta) {
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

template <DType D> struct Wide8;
template <> struct Wide8<DType::f32> {
  LMF_TARGET_AVX2 static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
};
template <> struct Wide8<DType::bf16> {
  LMF_TARGET_AVX2 static __m256 load(const uint16_t* p) { return simd::bf16x8_load(p); }
};
template <> struct Wide8<DType::f16> {
  LMF_TARGET_AVX2 static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};


// k contiguous (row-major A, transposed B): 8 x 8 register transposes instead of a strided scalar loop.
// Groups narrower than 8 lanes (the last rows of a 6-row panel) are stored with a lane mask.
template <int R, DType D>
LMF_TARGET_AVX2 void pack_transpose(void* dst_, const void* src_, int64_t si, int64_t n, int64_t kc) {
  using T = typename Elem<D>::T;
  float* dst = static_cast<float*>(dst_);
  const T* src = static_cast<const T*>(src_);
  const int64_t k8 = kc & ~int64_t(7);
  for (int64_t p = 0; p < n; p += R, dst += kc * R) {
    const int rn = static_cast<int>(n - p < R ? n - p : R);
    for (int g = 0; g < R; g += 8) {
      const int gn = std::max(0, std::min(8, rn - g)), gw = std::min(8, R - g);
      alignas(32) int lane_mask[8];
      for (int r = 0; r < 8; ++r) lane_mask[r] = r < gw ? -1 : 0;
      const __m256i wm = _mm256_load_si256(reinterpret_cast<const __m256i*>(lane_mask));
      const T* rows[8];
      for (int r = 0; r < 8; ++r) rows[r] = src + (p + g + std::min(r, std::max(gn - 1, 0))) * si;
      for (int64_t k = 0; k < k8; k += 8) {
        __m256 v[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) v[r] = r < gn ? Wide8<D>::load(rows[r] + k) : _mm256_setzero_ps();
        transpose8(v);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          if (gw == 8) _mm256_storeu_ps(dst + (k + j) * R + g, v[j]);
          else _mm256_maskstore_ps(dst + (k + j) * R + g, wm, v[j]);
        }
      }
      for (int64_t k = k8; k < kc; ++k)
        for (int r = 0; r < gw; ++r) dst[k * R + g + r] = r < gn ? Elem<D>::load(rows[r][k]) : 0.0f;
    }
  }
}

// i contiguous, fp32: straight copies, k outer so the source rows are read front to back.
template <int R>
LMF_TARGET_AVX2 void pack_copy_f32(float* dst, const float* src, int64_t sk, int64_t n, int64_t kc) {
  static_assert(R % 8 == 0, "full-vector copy");
  const int64_t full = n / R, rem = n - full * R;
  for (int64_t k = 0; k < kc; ++k) {
    const float* s = src + k * sk;
    float* d = dst + k * R;
    for (int64_t q = 0; q < full; ++q, s += R, d += kc * R)
      for (int v = 0; v < R; v += 8) _mm256_storeu_ps(d + v, _mm256_loadu_ps(s + v));
    if (rem) {
      for (int r = 0; r < R; ++r) d[r] = r < rem ? s[r] : 0.0f;
    }
  }
}

template <int R, DType D>
void pack_avx2(void* dst, const void* src, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  if (D == DType::f32 && si == 1 && R % 8 == 0)
    pack_copy_f32<(R % 8 == 0 ? R : 8)>(static_cast<float*>(dst), static_cast<const float*>(src), sk, n, kc);
  else if (sk == 1 && si != 1)
    pack_transpose<R, D>(dst, src, si, n, kc);
  else
    pack_generic<R, D>(dst, src, si, sk, n, kc);
}

}  // namespace

void kernels_avx2(DType, KernelSet& ks) {
  ks.name = "avx2-6x16";
  ks.mr = MR;
  ks.nr = NR;
  ks.mc = 144;
  ks.kc = 256;
  ks.nc = 4080;
  ks.dot = false;
  ks.ukernel = ukernel_avx2;
  fill_generic_packers<MR, NR>(ks);
  ks.pack_a[0] = pack_avx2<MR, DType::f32>;
  ks.pack_a[1] = pack_avx2<MR, DType::bf16>;
  ks.pack_b[0] = pack_avx2<NR, DType::f32>;
  ks.pack_b[1] = pack_avx2<NR, DType::bf16>;
  if (cpu_features().f16c) {  // vcvtph2ps is a separate feature flag; without it f16 keeps the portable packer
    ks.pack_a[2] = pack_avx2<MR, DType::f16>;
    ks.pack_b[2] = pack_avx2<NR, DType::f16>;
  }
}

#else

void kernels_avx2(DType dt, KernelSet& ks) { kernels_portable(dt, ks); }

#endif

}  // namespace lmf::kernels::gemm
