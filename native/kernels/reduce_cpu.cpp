#include <vector>

#include "dtype_io.h"
#include "reduce.h"
#include "../runtime/thread_pool.h"

namespace lmf::kernels {
namespace {

template <typename T>
void reduce_rows(T* out, int32_t* iout, const T* in, int64_t outer, int64_t n, int64_t inner, ReduceOp op) {
  // One task is one output element's column when inner == 1, or one outer slice of `inner` columns.
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n * inner)), [&](int64_t o0, int64_t o1, int) {
    std::vector<double> acc(static_cast<size_t>(inner));
    std::vector<int32_t> arg(static_cast<size_t>(inner));
    for (int64_t o = o0; o < o1; ++o) {
      const T* x = in + o * n * inner;
      const bool sum = op == ReduceOp::sum || op == ReduceOp::mean;
      for (int64_t j = 0; j < inner; ++j) {
        acc[j] = sum ? 0.0 : static_cast<double>(load_f(x + j));
        arg[j] = 0;
      }
      // Walk rows in memory order so that inner > 1 streams through contiguous data.
      for (int64_t i = sum ? 0 : 1; i < n; ++i) {
        const T* row = x + i * inner;
        switch (op) {
          case ReduceOp::sum: case ReduceOp::mean:
            for (int64_t j = 0; j < inner; ++j) acc[j] += load_f(row + j);
            break;
          case ReduceOp::max: case ReduceOp::argmax:
            for (int64_t j = 0; j < inner; ++j) {
              const double v = load_f(row + j);
              // NaN wins, as in PyTorch: once acc is NaN it stays
              if (v > acc[j] || (v != v && acc[j] == acc[j])) { acc[j] = v; arg[j] = static_cast<int32_t>(i); }
            }
            break;
          case ReduceOp::min: case ReduceOp::argmin:
            for (int64_t j = 0; j < inner; ++j) {
              const double v = load_f(row + j);
              if (v < acc[j] || (v != v && acc[j] == acc[j])) { acc[j] = v; arg[j] = static_cast<int32_t>(i); }
            }
            break;
        }
      }
      for (int64_t j = 0; j < inner; ++j) {
        if (op == ReduceOp::argmax || op == ReduceOp::argmin) {
          iout[o * inner + j] = arg[j];
        } else {
          const double v = op == ReduceOp::mean ? acc[j] / static_cast<double>(n) : acc[j];
          store_f(out + o * inner + j, v);
        }
      }
    }
  });
}

}  // namespace

void reduce_cpu(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, ReduceOp op) {
  dispatch_float(dtype, "reduce", [&](auto tag) {
    using T = decltype(tag);
    reduce_rows(static_cast<T*>(out), static_cast<int32_t*>(out), static_cast<const T*>(in), outer, n, inner, op);
  });
}

}  // namespace lmf::kernels
