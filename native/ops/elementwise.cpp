#include <cmath>

#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

using kernels::BinaryOp;
using kernels::UnaryOp;

const char* unary_name(UnaryOp op) {
  switch (op) {
#define LMF_X(name) case UnaryOp::name: return #name;
    LMF_UNARY_OPS(LMF_X)
#undef LMF_X
  }
  return "unary";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
#define LMF_X(name) case BinaryOp::name: return #name;
    LMF_BINARY_OPS(LMF_X)
#undef LMF_X
  }
  return "binary";
}

Tensor unary(const Tensor& t, UnaryOp op) {
  const char* name = unary_name(op);
  check_float(t, name);
  Tensor out = Tensor::empty(t.shape, t.dtype, t.device(), name);
  const Shape* st[2] = {&out.strides, &t.strides};
  const kernels::StridedLoop loop = kernels::make_loop(t.shape, st, 2);
  if (t.device() == Device::cuda) LMF_CUDA_TWIN(name, kernels::unary_forward_cuda(out.raw(), t.raw(), loop, t.dtype, op, cuda_current_stream()));
  else kernels::unary_forward_cpu(out.raw(), t.raw(), loop, t.dtype, op);
  return out;
}

Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) {
  const char* name = binary_name(op);
  check_same_device(a, b, name);
  check_float(a, name, "first operand");
  check_same_dtype(a, b, name);
  const Shape shape = broadcast_shapes(a.shape, b.shape, name);
  Tensor out = Tensor::empty(shape, a.dtype, a.device(), name);
  const Shape sa = broadcast_strides(a.shape, a.strides, shape), sb = broadcast_strides(b.shape, b.strides, shape);
  const Shape* st[3] = {&out.strides, &sa, &sb};
  kernels::BinaryParams p;
  p.op = op;
  p.dtype = a.dtype;
  const kernels::StridedLoop loop = kernels::make_loop(shape, st, 3);
  if (a.device() == Device::cuda) LMF_CUDA_TWIN(name, kernels::binary_forward_cuda(out.raw(), a.raw(), b.raw(), loop, p, cuda_current_stream()));
  else kernels::binary_forward_cpu(out.raw(), a.raw(), b.raw(), loop, p);
  return out;
}

Tensor binary_scalar(const Tensor& a, double s, BinaryOp op, bool scalar_first) {
  const char* name = binary_name(op);
  check_float(a, name);
  Tensor out = Tensor::empty(a.shape, a.dtype, a.device(), name);
  const Shape* st[2] = {&out.strides, &a.strides};
  kernels::BinaryParams p;
  p.op = op;
  p.dtype = a.dtype;
  p.scalar = s;
  p.swap = scalar_first;
  const kernels::StridedLoop loop = kernels::make_loop(a.shape, st, 2);
  if (a.device() == Device::cuda) LMF_CUDA_TWIN(name, kernels::binary_forward_cuda(out.raw(), a.raw(), nullptr, loop, p, cuda_current_stream()));
  else kernels::binary_forward_cpu(out.raw(), a.raw(), nullptr, loop, p);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const char* op = "where";
  check_same_device(cond, a, op);
  check_same_device(a, b, op);
  check_same_dtype(a, b, op);
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape, a.shape, op), b.shape, op);
  Tensor out = Tensor::empty(shape, a.dtype, a.device(), op);
  const Shape sc = broadcast_strides(cond.shape, cond.strides, shape), sa = broadcast_strides(a.shape, a.strides, shape),
              sb = broadcast_strides(b.shape, b.strides, shape);
  const Shape* st[4] = {&out.strides, &sc, &sa, &sb};
  const kernels::StridedLoop loop = kernels::make_loop(shape, st, 4);
  if (a.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::where_cuda(out.raw(), cond.raw(), cond.dtype, a.raw(), b.raw(), a.dtype, loop, cuda_current_stream()));
  else kernels::where_cpu(out.raw(), cond.raw(), cond.dtype, a.raw(), b.raw(), a.dtype, loop);
  return out;
}

}  // namespace lmf::ops
