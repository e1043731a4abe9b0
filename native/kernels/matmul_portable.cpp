// Portable micro-kernel, 6 x 8: twelve 4-wide accumulators plus two for B and one broadcast fit the 16
// registers of baseline x86-64 (SSE2) and of most other targets. Written with GCC/clang vector
// extensions because the auto-vectoriser, given plain loops, vectorised across k with shuffles and
// spills (5 GFLOP/s instead of about 40); other compilers get the plain loops.
#include "matmul_ukernels.h"

namespace lmf::kernels::gemm {
namespace {

constexpr int MR = 6, NR = 8;

#if defined(__GNUC__)
typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, v4f v) { __builtin_memcpy(p, &v, sizeof v); }

void ukernel_portable(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, float alpha,
                      float beta) {
  const float* a = static_cast<const float*>(a_);
  const float* b = static_cast<const float*>(b_);
  v4f acc[MR][2] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    const v4f b0 = load4(b), b1 = load4(b + 4);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const v4f av = {a[i], a[i], a[i], a[i]};
      acc[i][0] += av * b0;
      acc[i][1] += av * b1;
    }
  }
  const v4f va = {alpha, alpha, alpha, alpha}, vb = {beta, beta, beta, beta};
  for (int i = 0; i < MR; ++i) {
    float* cr = c + i * ldc;
    for (int h = 0; h < 2; ++h) {
      v4f r = acc[i][h] * va;
      if (beta != 0.0f) r += vb * load4(cr + 4 * h);
      store4(cr + 4 * h, r);
    }
  }
}
#else
void ukernel_portable(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, float alpha,
                      float beta) {
  const float* a = static_cast<const float*>(a_);
  const float* b = static_cast<const float*>(b_);
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < MR; ++i) {
    float* cr = c + i * ldc;
    for (int j = 0; j < NR; ++j) cr[j] = alpha * acc[i][j] + (beta != 0.0f ? beta * cr[j] : 0.0f);
  }
}
#endif

}  // namespace

void kernels_portable(DType, KernelSet& ks) {
  ks.name = "portable-6x8";
  ks.mr = MR;
  ks.nr = NR;
  ks.mc = 144;
  ks.kc = 256;
  ks.nc = 2048;
  ks.dot = false;
  ks.ukernel = ukernel_portable;
  fill_generic_packers<MR, NR>(ks);
}

}  // namespace lmf::kernels::gemm
