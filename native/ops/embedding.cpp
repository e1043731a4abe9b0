#include "../kernels/embedding.h"
#include <vector>

#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

Tensor embedding(const Tensor& weight, const Tensor& index) {
  const char* op = "embedding";
  check_same_device(weight, index, op);
  LMF_CHECK(weight.ndim() == 2, shape, op, "weight must have shape [V, D], got " << shape_str(weight.shape));
  LMF_CHECK(index.dtype == DType::i32, dtype, op, "indices must be int32, got " << dtype_name(index.dtype));
  const Tensor w = contiguous(weight), idx = contiguous(index);
  const int64_t V = w.shape[0], D = w.shape[1], N = idx.numel();
  const int32_t* ix = idx.data<int32_t>();
  std::vector<int32_t> host;  // indices on the GPU are read back for the range check (one small copy)
  if (idx.device() == Device::cuda) {
    host.resize(static_cast<size_t>(N));
    to_host(idx, host.data());
  }
  const int32_t* hx = idx.device() == Device::cuda ? host.data() : ix;
  for (int64_t i = 0; i < N; ++i)
    LMF_CHECK(hx[i] >= 0 && hx[i] < V, value, op, "index " << hx[i] << " at position " << i << " is outside [0, " << V << ")");
  Shape out_shape = index.shape;
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, w.dtype, w.device(), op);
  if (out.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::embedding_forward_cuda(out.raw(), w.raw(), ix, N, D, w.dtype, cuda_current_stream()));
  else kernels::embedding_forward_cpu(out.raw(), w.raw(), ix, N, D, w.dtype);
  return out;
}

Tensor embedding_backward(const Tensor& grad_out, const Tensor& index, int64_t num_embeddings) {
  const char* op = "embedding backward";
  check_same_device(grad_out, index, op);
  check_float(grad_out, op, "gradient");
  LMF_CHECK(index.dtype == DType::i32, dtype, op, "indices must be int32, got " << dtype_name(index.dtype));
  LMF_CHECK(grad_out.ndim() == index.ndim() + 1, shape, op,
            "gradient " << shape_str(grad_out.shape) << " does not match indices " << shape_str(index.shape));
  for (int d = 0; d < index.ndim(); ++d)
    LMF_CHECK(grad_out.shape[d] == index.shape[d], shape, op,
              "gradient " << shape_str(grad_out.shape) << " does not match indices " << shape_str(index.shape));
  LMF_CHECK(num_embeddings >= 0, value, op, "number of embeddings must be non-negative, got " << num_embeddings);
  const Tensor g = contiguous(grad_out), idx = contiguous(index);
  const int64_t N = idx.numel(), D = g.shape.back();
  const int32_t* ix = idx.data<int32_t>();
  std::vector<int32_t> host;
  if (idx.device() == Device::cuda) {
    host.resize(static_cast<size_t>(N));
    to_host(idx, host.data());
  }
  const int32_t* hx = idx.device() == Device::cuda ? host.data() : ix;
  for (int64_t i = 0; i < N; ++i)
    LMF_CHECK(hx[i] >= 0 && hx[i] < num_embeddings, value, op,
              "index " << hx[i] << " at position " << i << " is outside [0, " << num_embeddings << ")");
  const DType acc = g.dtype == DType::f64 ? DType::f64 : DType::f32;
  Tensor dw = full({num_embeddings, D}, acc, 0.0, g.device());
  if (g.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::embedding_backward_cuda(dw.raw(), acc, g.raw(), g.dtype, ix, N, D, cuda_current_stream()));
  else kernels::embedding_backward_cpu(dw.raw(), acc, g.raw(), g.dtype, ix, N, D);
  return astype(dw, g.dtype);
}

}  // namespace lmf::ops
