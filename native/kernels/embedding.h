// Embedding gather: out[i, :] = weight[index[i], :] for contiguous weight [V, D] and out [N, D], and its
// backward, the scatter-add dweight[index[i], :] += dout[i, :].
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

// Indices were range-checked by the op.
void embedding_forward_cpu(void* out, const void* weight, const int32_t* index, int64_t N, int64_t D, DType dtype);

// dweight (V x D, zeroed by the caller) accumulates in float for float32/bfloat16/float16 dout and in
// double for float64 dout: acc_dtype is f32 or f64. Threads split the D columns, so the summation
// order (and the result) does not depend on the thread count.
void embedding_backward_cpu(void* dweight, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N, int64_t D);

// CUDA twins (embedding_cuda.cu), device pointers (index too). The backward accumulates with atomics, so
// repeated indices sum in a run-dependent order (last-bit differences between runs).
void embedding_forward_cuda(void* out, const void* weight, const int32_t* index, int64_t N, int64_t D, DType dtype, cuda_stream stream);
void embedding_backward_cuda(void* dweight, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N, int64_t D,
                             cuda_stream stream);

}  // namespace lmf::kernels
