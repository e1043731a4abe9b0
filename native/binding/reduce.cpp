// Binding of the reductions: the op name picks the kernel (kernels/reduce.h).
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {
namespace {

using kernels::ReduceOp;

}  // namespace

// reduce(opName, t, dims, keepdim)
LMF_BIND(reduce) {
  const ReduceOp op = enum_arg<ReduceOp>(info, 0, "reduce", 6, ops::reduce_name);
  const char* n = ops::reduce_name(op);
  return wrap(info, ops::reduce(tensor_arg(info, 1, n, "input"), ints_arg(info, 2, n, "dims"), bool_arg(info, 3, n, "keepdim"), op));
} LMF_END

}  // namespace lmf::binding
