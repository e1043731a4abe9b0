// float64 GEMM: exists so that gradcheck and float64 checks run through the library's own ops. It is
// correct and plainly written, not tuned: nobody trains in float64 here.
#include <algorithm>
#include <vector>

#include "../runtime/thread_pool.h"
#include "matmul.h"

namespace lmf::kernels {

void matmul_f64_cpu(const GemmParams& p) {
  const double* A = static_cast<const double*>(p.a);
  const double* B = static_cast<const double*>(p.b);
  double* C = static_cast<double*>(p.c);
  const double* bias = static_cast<const double*>(p.bias);
  const double* res = static_cast<const double*>(p.residual);
  const int64_t rows = p.batch * p.M;
  parallel_for(rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, p.N * std::max<int64_t>(p.K, 1))), [&](int64_t r0, int64_t r1, int) {
    std::vector<double> acc(static_cast<size_t>(p.N));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / p.M, m = r % p.M;
      std::fill(acc.begin(), acc.end(), 0.0);
      const double* a = A + b * p.bs_a + m * p.rs_a;
      const double* bb = B + b * p.bs_b;
      for (int64_t k = 0; k < p.K; ++k) {
        const double av = a[k * p.cs_a];
        const double* brow = bb + k * p.rs_b;
        for (int64_t n = 0; n < p.N; ++n) acc[n] += av * brow[n * p.cs_b];
      }
      double* c = C + b * p.bs_c + m * p.rs_c;
      const double* rr = res ? res + b * p.bs_r + m * p.rs_r : nullptr;
      for (int64_t n = 0; n < p.N; ++n) {
        double v = p.alpha * acc[n];
        if (p.beta != 0.0f) v += p.beta * c[n];
        if (bias) v += bias[n];
        if (rr) v += rr[n];
        c[n] = v;
      }
    }
  });
}

}  // namespace lmf::kernels
