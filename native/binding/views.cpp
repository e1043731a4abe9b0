// Bindings of the view and copy ops.
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

LMF_BIND(reshape) {
  return wrap(info, ops::reshape(tensor_arg(info, 0, "reshape", "input"), ints_arg(info, 1, "reshape", "shape")));
} LMF_END

LMF_BIND(permute) {
  return wrap(info, ops::permute(tensor_arg(info, 0, "permute", "input"), ints_arg(info, 1, "permute", "dims")));
} LMF_END

LMF_BIND(transpose) {
  const char* op = "transpose";
  return wrap(info, ops::transpose(tensor_arg(info, 0, op, "input"), int_arg(info, 1, op, "dim0"), int_arg(info, 2, op, "dim1")));
} LMF_END

// slice(t, dim, start, end, step)
LMF_BIND(slice) {
  const char* op = "slice";
  return wrap(info, ops::slice(tensor_arg(info, 0, op, "input"), int_arg(info, 1, op, "dim"), int_arg(info, 2, op, "start"),
                               int_arg(info, 3, op, "end"), int_arg(info, 4, op, "step")));
} LMF_END

LMF_BIND(expand) {
  return wrap(info, ops::expand(tensor_arg(info, 0, "expand", "input"), shape_arg(info, 1, "expand")));
} LMF_END

LMF_BIND(contiguous) { return wrap(info, ops::contiguous(tensor_arg(info, 0, "contiguous", "input"))); } LMF_END

LMF_BIND(astype) {
  return wrap(info, ops::astype(tensor_arg(info, 0, "astype", "input"), dtype_arg(info, 1, "astype")));
} LMF_END

LMF_BIND(to) { return wrap(info, ops::to_device(tensor_arg(info, 0, "to", "input"), device_arg(info, 1, "to"))); } LMF_END

// copyInto(dst, src): in-place copy with broadcasting and dtype conversion
LMF_BIND(copyInto) {
  ops::copy_into(tensor_arg(info, 0, "copy", "destination"), tensor_arg(info, 1, "copy", "source"));
  return info.Env().Undefined();
} LMF_END

}  // namespace lmf::binding
