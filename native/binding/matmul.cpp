// Binding of the matmul op (bias and residual fused into the epilogue).
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

// matmul(a, b, bias?, residual?)
LMF_BIND(matmul) {
  const char* op = "matmul";
  return wrap(info, ops::matmul(tensor_arg(info, 0, op, "a"), tensor_arg(info, 1, op, "b"),
                                optional_tensor_arg(info, 2, op, "bias"), optional_tensor_arg(info, 3, op, "residual")));
} LMF_END

}  // namespace lmf::binding
