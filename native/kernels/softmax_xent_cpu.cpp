#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../runtime/thread_pool.h"
#include "dtype_io.h"
#include "softmax_xent.h"

namespace lmf::kernels {
namespace {

// Max-subtracted log-sum-exp of n values at stride s, in double.
template <typename T>
double row_lse(const T* x, int64_t n, int64_t s) {
  double m = -std::numeric_limits<double>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const double v = load_f(x + i * s);
    nan = nan || v != v;
    m = v > m ? v : m;
  }
  if (nan) return std::numeric_limits<double>::quiet_NaN();
  if (m == -std::numeric_limits<double>::infinity()) return m;  // every entry -inf
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(load_f(x + i * s)) - m);
  return m + std::log(sum);
}

int64_t rows_grain(int64_t width) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(width, 1)); }

}  // namespace

void softmax_forward_cpu(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, bool log) {
  dispatch_float(dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
    parallel_for(outer * inner, rows_grain(n), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t base = (r / inner) * n * inner + r % inner;
        const double lse = row_lse(x + base, n, inner);
        for (int64_t i = 0; i < n; ++i) {
          const double v = static_cast<double>(load_f(x + base + i * inner)) - lse;
          store_f(y + base + i * inner, log ? v : std::exp(v));
        }
      }
    });
  });
}

void xent_forward_cpu(double* loss, double* lse, const void* logits, DType dtype, const int32_t* target, const XentParams& p) {
  dispatch_float(dtype, "crossEntropy", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    parallel_for(p.N, rows_grain(p.V), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * p.V;
        const double l = row_lse(row, p.V, 1);
        lse[r] = l;
        const int32_t t = target[r];
        loss[r] = t == p.ignore_index ? 0.0 : l - static_cast<double>(load_f(row + t));
      }
    });
  });
}

void xent_backward_cpu(void* dlogits, const void* logits, DType dtype, const int32_t* target, const double* lse,
                       const double* row_grad, const XentParams& p) {
  dispatch_float(dtype, "crossEntropy backward", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    T* dx = static_cast<T*>(dlogits);
    parallel_for(p.N, rows_grain(p.V), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * p.V;
        T* drow = dx + r * p.V;
        const int32_t t = target[r];
        const double g = t == p.ignore_index ? 0.0 : row_grad[r];
        for (int64_t j = 0; j < p.V; ++j) {
          const double sm = std::exp(static_cast<double>(load_f(row + j)) - lse[r]);
          store_f(drow + j, g * (sm - (j == t ? 1.0 : 0.0)));
        }
      }
    });
  });
}

}  // namespace lmf::kernels
