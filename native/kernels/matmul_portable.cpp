// Portable C++ micro-kernel: small enough (4 x 8 accumulators) to stay in registers on any target, and
// written so the compiler's baseline vectoriser (SSE2 on x86-64) can use it.
#include "matmul_ukernels.h"

namespace lmf::kernels::gemm {
namespace {

constexpr int MR = 4, NR = 8;

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
    if (beta == 0.0f) {
      for (int j = 0; j < NR; ++j) cr[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < NR; ++j) cr[j] = alpha * acc[i][j] + beta * cr[j];
    }
  }
}

}  // namespace

void kernels_portable(DType, KernelSet& ks) {
  ks.name = "portable-4x8";
  ks.mr = MR;
  ks.nr = NR;
  ks.mc = 128;
  ks.kc = 256;
  ks.nc = 2048;
  ks.dot = false;
  ks.ukernel = ukernel_portable;
  fill_generic_packers<MR, NR>(ks);
}

}  // namespace lmf::kernels::gemm
