#include <cmath>

#include "checks.h"
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
  check_cpu(t, name);
  check_float(t, name);
  Tensor out = Tensor::empty(t.shape, t.dtype, t.device(), name);
  const Shape* st[2] = {&out.strides, &t.strides};
  kernels::unary_forward_cpu(out.raw(), t.raw(), kernels::make_loop(t.shape, st, 2), t.dtype, op);
  return out;
}

Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) {
  const char* name = binary_name(op);
  check_same_device(a, b, name);
  check_cpu(a, name);
  check_float(a, name, "first operand");
  check_same_dtype(a, b, name);
  const Shape shape = broadcast_shapes(a.shape, b.shape, name);
  Tensor out = Tensor::empty(shape, a.dtype, a.device(), name);
  const Shape sa = broadcast_strides(a.shape, a.strides, shape), sb = broadcast_strides(b.shape, b.strides, shape);
  const Shape* st[3] = {&out.strides, &sa, &sb};
  kernels::BinaryParams p;
  p.op = op;
  p.dtype = a.dtype;
  kernels::binary_forward_cpu(out.raw(), a.raw(), b.raw(), kernels::make_loop(shape, st, 3), p);
  return out;
}

Tensor binary_scalar(const Tensor& a, double s, BinaryOp op, bool scalar_first) {
  const char* name = binary_name(op);
  check_cpu(a, name);
  check_float(a, name);
  Tensor out = Tensor::empty(a.shape, a.dtype, a.device(), name);
  const Shape* st[2] = {&out.strides, &a.strides};
  kernels::BinaryParams p;
  p.op = op;
  p.dtype = a.dtype;
  p.scalar = s;
  p.swap = scalar_first;
  kernels::binary_forward_cpu(out.raw(), a.raw(), nullptr, kernels::make_loop(a.shape, st, 2), p);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const char* op = "where";
  check_same_device(cond, a, op);
  check_same_device(a, b, op);
  check_cpu(a, op);
  check_same_dtype(a, b, op);
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape, a.shape, op), b.shape, op);
  Tensor out = Tensor::empty(shape, a.dtype, a.device(), op);
  const Shape sc = broadcast_strides(cond.shape, cond.strides, shape), sa = broadcast_strides(a.shape, a.strides, shape),
              sb = broadcast_strides(b.shape, b.strides, shape);
  const Shape* st[4] = {&out.strides, &sc, &sa, &sb};
  kernels::where_cpu(out.raw(), cond.raw(), cond.dtype, a.raw(), b.raw(), a.dtype, kernels::make_loop(shape, st, 4));
  return out;
}

}  // namespace lmf::ops
