#include <cmath>
#include <limits>
#include <vector>

#include "../runtime/thread_pool.h"
#include "dtype_io.h"
#include "softmax_xent.h"

namespace lmf::kernels {
namespace {

// Max-subtracted log-sum-exp of n values at stride s, read as float.
template <typename T>
double row_lse(const T* x, int64_t n, int64_t s) {
  float m = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const float v = load_f(x + i * s);
    nan = nan || v != v;
    m = v > m ? v : m;
  }
  if (nan) return std::numeric_limits<double>::quiet_NaN();
  if (m == -std::numeric_limits<float>::infinity()) return m;  // every entry -inf
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(load_f(x + i * s)) - m);
  return m + std::log(sum);
}

}  // namespace

void softmax_forward_cpu(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, bool log) {
  dispatch_float(dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
    parallel_for(outer * inner, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t base = (r / inner) * n * inner + r % inner;
        const double lse = row_lse(x + base, n, inner);
        for (int64_t i = 0; i < n; ++i) {
          const double v = static_cast<double>(load_f(x + base + i * inner)) - lse;
          store_f(y + base + i * inner, static_cast<float>(log ? v : std::exp(v)));
        }
      }
    });
  });
}

void xent_forward_cpu(float* loss, float* lse, const void* logits, DType dtype, const int32_t* target, const XentParams& p) {
  dispatch_float(dtype, "crossEntropy", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    parallel_for(p.N, std::max<int64_t>(1, 8192 / std::max<int64_t>(p.V, 1)), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * p.V;
        const double l = row_lse(row, p.V, 1);
        lse[r] = static_cast<float>(l);
        const int32_t t = target[r];
        loss[r] = t == p.ignore_index ? 0.0f : static_cast<float>(l - load_f(row + t));
      }
    });
  });
}

}  // namespace lmf::kernels
