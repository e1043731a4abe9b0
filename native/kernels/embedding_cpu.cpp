#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include "../runtime/thread_pool.h"
#include "dtype_io.h"
#include "embedding.h"
#include "index_fault.h"

namespace lmf::kernels {

void embedding_forward_cpu(void* out, uint64_t* fault, const void* weight, const int32_t* index, int64_t N, int64_t V, int64_t D,
                           DType dtype) {
  const size_t esz = dtype_size(dtype), row = static_cast<size_t>(D) * esz;
  const uint64_t nan = nan_bits(dtype);
  char* o = static_cast<char*>(out);
  const char* w = static_cast<const char*>(weight);
  std::atomic<uint64_t> first{*fault};
  parallel_for(N, std::max<int64_t>(1, 65536 / std::max<size_t>(row, 1)), [&](int64_t i0, int64_t i1, int) {
    uint64_t mine = kNoIndexFault;
    for (int64_t i = i0; i < i1; ++i) {
      const int32_t ix = index[i];
      if (ix >= 0 && ix < V) {
        std::memcpy(o + i * row, w + static_cast<int64_t>(ix) * row, row);
        continue;
      }
      for (int64_t c = 0; c < D; ++c) std::memcpy(o + i * row + c * esz, &nan, esz);  // little-endian: the low bytes
      mine = std::min(mine, index_fault_key(i, ix));
    }
    if (mine != kNoIndexFault) lower_index_fault(first, mine);
  });
  *fault = first.load();
}

void embedding_backward_cpu(void* dweight, uint64_t* fault, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N,
                            int64_t V, int64_t D) {
  // The column blocks below each read every index, so the range check is a pass of its own.
  uint64_t first = *fault;
  for (int64_t i = 0; i < N; ++i)
    if (index[i] < 0 || index[i] >= V) {
      first = std::min(first, index_fault_key(i, index[i]));
      break;
    }
  *fault = first;
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
        if (index[i] < 0 || index[i] >= V) continue;
        A* dst = dw + static_cast<int64_t>(index[i]) * D;
        const T* src = g + i * D;
        for (int64_t c = c0; c < c1; ++c) dst[c] += load_f(src + c);
      }
    });
  });
}

}  // namespace lmf::kernels
