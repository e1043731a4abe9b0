#include <algorithm>
#include <cstring>
#include <type_traits>

#include "../runtime/thread_pool.h"
#include "dtype_io.h"
#include "embedding.h"

namespace lmf::kernels {

void embedding_forward_cpu(void* out, const void* weight, const int32_t* index, int64_t N, int64_t D, DType dtype) {
  const size_t row = static_cast<size_t>(D) * dtype_size(dtype);
  char* o = static_cast<char*>(out);
  const char* w = static_cast<const char*>(weight);
  parallel_for(N, std::max<int64_t>(1, 65536 / std::max<size_t>(row, 1)), [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) std::memcpy(o + i * row, w + static_cast<int64_t>(index[i]) * row, row);
  });
}

void embedding_backward_cpu(void* dweight, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N, int64_t D) {
  dispatch_float(dtype, "embedding backward", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    LMF_CHECK(((acc_dtype == DType::f64) == std::is_same_v<A, double>), internal, "embedding backward", "accumulator dtype mismatch");
    A* dw = static_cast<A*>(dweight);
    const T* g = static_cast<const T*>(dout);
    // Column blocks of at least 16 keep each thread's writes on its own cache lines.
    const int64_t blocks = (D + 15) / 16;
    parallel_for(blocks, std::max<int64_t>(1, 4096 / std::max<int64_t>(N, 1)), [&](int64_t b0, int64_t b1, int) {
      const int64_t c0 = b0 * 16, c1 = std::min(D, b1 * 16);
      for (int64_t i = 0; i < N; ++i) {
        A* dst = dw + static_cast<int64_t>(index[i]) * D;
        const T* src = g + i * D;
        for (int64_t c = c0; c < c1; ++c) dst[c] += load_f(src + c);
      }
    });
  });
}

}  // namespace lmf::kernels
