// NEON micro-kernel (aarch64): 8 x 12 with 24 accumulator registers, lane-indexed FMAs so one load of
// A serves four rows.
#include "matmul_ukernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace lmf::kernels::gemm {

#if defined(__aarch64__)
namespace {

constexpr int MR = 8, NR = 12;

void ukernel_neon(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, float alpha, float beta) {
  const float* a = static_cast<const float*>(a_);
  const float* b = static_cast<const float*>(b_);
  float32x4_t acc[MR][3];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 3; ++j) acc[i][j] = vdupq_n_f32(0.0f);
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
#define LMF_NEON_ROW(i, av, lane)                           \
  acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, lane);     \
  acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, lane);     \
  acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, lane);
    LMF_NEON_ROW(0, a0, 0) LMF_NEON_ROW(1, a0, 1) LMF_NEON_ROW(2, a0, 2) LMF_NEON_ROW(3, a0, 3)
    LMF_NEON_ROW(4, a1, 0) LMF_NEON_ROW(5, a1, 1) LMF_NEON_ROW(6, a1, 2) LMF_NEON_ROW(7, a1, 3)
#undef LMF_NEON_ROW
  }
  const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
  for (int i = 0; i < MR; ++i) {
    float* cr = c + i * ldc;
    for (int j = 0; j < 3; ++j) {
      float32x4_t r = vmulq_f32(acc[i][j], va);
      if (beta != 0.0f) r = vfmaq_f32(r, vld1q_f32(cr + 4 * j), vb);
      vst1q_f32(cr + 4 * j, r);
    }
  }
}

}  // namespace

void kernels_neon(DType, KernelSet& ks) {
  ks.name = "neon-8x12";
  ks.mr = MR;
  ks.nr = NR;
  ks.mc = 128;
  ks.kc = 256;
  ks.nc = 3072;
  ks.dot = false;
  ks.ukernel = ukernel_neon;
  fill_generic_packers<MR, NR>(ks);
}

#else

void kernels_neon(DType dt, KernelSet& ks) { kernels_portable(dt, ks); }

#endif

}  // namespace lmf::kernels::gemm
