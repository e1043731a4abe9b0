// Embedding gather: out[i, :] = weight[index[i], :] for contiguous weight [V, D] and out [N, D], and its
// backward, the scatter-add dweight[index[i], :] += dout[i, :].
//
// Both check each index while they read it (index_fault.h): an index outside [0, V) is skipped, and
// *fault is lowered to its index_fault_key. The caller sets *fault to kNoIndexFault first (on CUDA,
// fault is a device word). The forward fills a skipped index's row of out with NaN (zero for integer
// tables); the backward adds nothing for it.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

void embedding_forward_cpu(void* out, uint64_t* fault, const void* weight, const int32_t* index, int64_t N, int64_t V, int64_t D,
                           DType dtype);

// dweight (V x D, zeroed by the caller) accumulates in float for float32/bfloat16/float16 dout and in
// double for float64 dout: acc_dtype is f32 or f64. Threads split the D columns, so the summation
// order (and the result) does not depend on the thread count.
void embedding_backward_cpu(void* dweight, uint64_t* fault, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N,
                            int64_t V, int64_t D);

// CUDA twins (embedding_cuda.cu), device pointers (index and fault too). The backward accumulates with
// atomics, so repeated indices sum in a run-dependent order (last-bit differences between runs).
void embedding_forward_cuda(void* out, uint64_t* fault, const void* weight, const int32_t* index, int64_t N, int64_t V, int64_t D,
                            DType dtype, cuda_stream stream);
void embedding_backward_cuda(void* dweight, uint64_t* fault, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N,
                             int64_t V, int64_t D, cuda_stream stream);

}  // namespace lmf::kernels
