#include "../kernels/embedding.h"
#include "checks.h"
#include "ops.h"

namespace lmf::ops {

Tensor embedding(const Tensor& weight, const Tensor& index) {
  const char* op = "embedding";
  check_same_device(weight, index, op);
  check_cpu(weight, op);
  LMF_CHECK(weight.ndim() == 2, shape, op, "weight must have shape [V, D], got " << shape_str(weight.shape));
  LMF_CHECK(index.dtype == DType::i32, dtype, op, "indices must be int32, got " << dtype_name(index.dtype));
  const Tensor w = contiguous(weight), idx = contiguous(index);
  const int64_t V = w.shape[0], D = w.shape[1], N = idx.numel();
  const int32_t* ix = idx.data<int32_t>();
  for (int64_t i = 0; i < N; ++i)
    LMF_CHECK(ix[i] >= 0 && ix[i] < V, value, op, "index " << ix[i] << " at position " << i << " is outside [0, " << V << ")");
  Shape out_shape = index.shape;
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, w.dtype, w.device(), op);
  kernels::embedding_forward_cpu(out.raw(), w.raw(), ix, N, D, w.dtype);
  return out;
}

}  // namespace lmf::ops
