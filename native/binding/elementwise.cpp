// Bindings of the elementwise ops: the op name picks the kernel (kernels/elementwise.h).
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

#define LMF_COUNT(name) +1
constexpr int kUnaryCount = 0 LMF_UNARY_OPS(LMF_COUNT);
constexpr int kBinaryCount = 0 LMF_BINARY_OPS(LMF_COUNT);
#undef LMF_COUNT

}  // namespace

// unary(opName, t)
LMF_BIND(unary) {
  const UnaryOp op = enum_arg<UnaryOp>(info, 0, "unary", kUnaryCount, ops::unary_name);
  return wrap(info, ops::unary(tensor_arg(info, 1, ops::unary_name(op), "input"), op));
} LMF_END

// binary(opName, a, b)
LMF_BIND(binary) {
  const BinaryOp op = enum_arg<BinaryOp>(info, 0, "binary", kBinaryCount, ops::binary_name);
  const char* n = ops::binary_name(op);
  return wrap(info, ops::binary(tensor_arg(info, 1, n, "a"), tensor_arg(info, 2, n, "b"), op));
} LMF_END

// binaryScalar(opName, t, scalar, scalarFirst)
LMF_BIND(binaryScalar) {
  const BinaryOp op = enum_arg<BinaryOp>(info, 0, "binary", kBinaryCount, ops::binary_name);
  const char* n = ops::binary_name(op);
  return wrap(info, ops::binary_scalar(tensor_arg(info, 1, n, "input"), number_arg(info, 2, n, "scalar"), op,
                                       bool_arg(info, 3, n, "scalarFirst")));
} LMF_END

// where(cond, a, b)
LMF_BIND(where) {
  return wrap(info, ops::where(tensor_arg(info, 0, "where", "cond"), tensor_arg(info, 1, "where", "a"), tensor_arg(info, 2, "where", "b")));
} LMF_END

}  // namespace lmf::binding
