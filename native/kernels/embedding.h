// Embedding gather: out[i, :] = weight[index[i], :] for contiguous weight [V, D] and out [N, D], and its
// backward, the scatter-add dweight[index[i], :] += dout[i, :].
#pragma once
#include <cstdint>

#include "../core/dtype.h"

namespace lmf::kernels {

// Indices were range-checked by the op.
void embedding_forward_cpu(void* out, const void* weight, const int32_t* index, int64_t N, int64_t D, DType dtype);

// dweight (V x D, zeroed by the caller) accumulates in float for float32/bfloat16/float16 dout and in
// double for float64 dout: acc_dtype is f32 or f64. Threads split the D columns, so the summation
// order (and the result) does not depend on the thread count.
void embedding_backward_cpu(void* dweight, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N, int64_t D);

}  // namespace lmf::kernels
