#include <algorithm>
#include <cstring>

#include "../runtime/thread_pool.h"
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

}  // namespace lmf::kernels
