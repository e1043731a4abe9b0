// LayerNorm and RMSNorm over the last dimension of contiguous [rows, D] data, optionally fused with the
// residual add that precedes them in a pre-norm transformer block.
//
//   s = x            (no residual)      s = round_T(x + r)  (residual; s is also written to `sum`)
//   layernorm: y = (s - mean(s)) * rstd * w + b,   rstd = 1 / sqrt(var(s) + eps)   (biased variance)
//   rmsnorm:   y = s * rstd * w,                   rstd = 1 / sqrt(mean(s^2) + eps)
//
// With a residual the normalised value is the rounded sum the residual stream carries on (identical for
// fp32 and float64; for bf16 it is the stored bf16 sum), so forward and backward see the same s.
// mean (layernorm only) and rstd are saved per row: float for fp32/bf16 data, double for float64 data.
// Weight and bias share x's dtype. Math is in fp32 (double for float64), with 16-lane partial sums.
//
// Backward, with xhat = (s - mean) * rstd (rmsnorm: s * rstd) and gw = dy * w:
//   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) + dsum     (rmsnorm drops the mean(gw) term)
//   dw = sum over rows of dy * xhat,  db = sum over rows of dy
// dsum is the gradient arriving at the `sum` output (the residual stream), or null. dx is also the
// gradient of r, since s = x + r. dw/db: each of a fixed number of row chunks (a function of rows only)
// writes its own partial sums; they are added in chunk order in double, so the result does not depend on
// the number of threads.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

struct NormParams {
  int64_t rows = 0, D = 0;
  double eps = 1e-5;
  bool rms = false;
};

// y, sum (may be null when r is null), mean (null for rmsnorm), rstd; x, r (nullable), w, b (nullable).
void norm_forward_cpu(void* y, void* sum, void* mean, void* rstd, const void* x, const void* r, const void* w,
                      const void* b, DType dtype, const NormParams& p);

// dx [rows, D]; dw [D]; db [D] (nullable: no bias); dy; dsum (nullable); s (the normalised input: x or the
// saved sum); w; mean (null for rmsnorm); rstd.
void norm_backward_cpu(void* dx, void* dw, void* db, const void* dy, const void* dsum, const void* s, const void* w,
                       const void* mean, const void* rstd, DType dtype, const NormParams& p);

// CUDA twins (norm_cuda.cu), device pointers, same nullability.
void norm_forward_cuda(void* y, void* sum, void* mean, void* rstd, const void* x, const void* r, const void* w, const void* b, DType dtype,
                       const NormParams& p, cuda_stream stream);
void norm_backward_cuda(void* dx, void* dw, void* db, const void* dy, const void* dsum, const void* s, const void* w, const void* mean,
                        const void* rstd, DType dtype, const NormParams& p, cuda_stream stream);

}  // namespace lmf::kernels
