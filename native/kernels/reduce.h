// Reductions of a contiguous [outer, n, inner] view over its middle dimension: out is [outer, inner].
// The op layer permutes and copies so that every reduction takes this form.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

enum class ReduceOp { sum, mean, max, min, argmax, argmin };

// out has the input's dtype for sum/mean/max/min and int32 for argmax/argmin. Sums accumulate in double.
void reduce_cpu(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, ReduceOp op);

// CUDA twin (reduce_cuda.cu), device pointers.
void reduce_cuda(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, ReduceOp op, cuda_stream stream);

}  // namespace lmf::kernels
