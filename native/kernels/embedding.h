// Embedding gather: out[i, :] = weight[index[i], :] for contiguous weight [V, D] and out [N, D].
#pragma once
#include <cstdint>

#include "../core/dtype.h"

namespace lmf::kernels {

// Indices were range-checked by the op.
void embedding_forward_cpu(void* out, const void* weight, const int32_t* index, int64_t N, int64_t D, DType dtype);

}  // namespace lmf::kernels
