// Bindings of the creation ops: read arguments, call one op under the guard, wrap the result.
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

// full(shape, dtype, value, device)
LMF_BIND(full) {
  return wrap(info, ops::full(shape_arg(info, 0, "full"), dtype_arg(info, 1, "full"), number_arg(info, 2, "full", "value"),
                              device_arg(info, 3, "full")));
} LMF_END

// arange(start, stop, step, dtype, device)
LMF_BIND(arange) {
  const char* op = "arange";
  return wrap(info, ops::arange(number_arg(info, 0, op, "start"), number_arg(info, 1, op, "stop"),
                                number_arg(info, 2, op, "step"), dtype_arg(info, 3, op), device_arg(info, 4, op)));
} LMF_END

// randUniform(shape, dtype, seed, offset, low, high, device); seed and offset are non-negative integers
LMF_BIND(randUniform) {
  const char* op = "rand";
  const int64_t seed = int_arg(info, 2, op, "seed"), off = int_arg(info, 3, op, "offset");
  LMF_CHECK(seed >= 0 && off >= 0, value, op, "seed and offset must be non-negative");
  return wrap(info, ops::rand_uniform(shape_arg(info, 0, op), dtype_arg(info, 1, op), static_cast<uint64_t>(seed),
                                      static_cast<uint64_t>(off), number_arg(info, 4, op, "low"),
                                      number_arg(info, 5, op, "high"), device_arg(info, 6, op)));
} LMF_END

LMF_BIND(randNormal) {
  const char* op = "randn";
  const int64_t seed = int_arg(info, 2, op, "seed"), off = int_arg(info, 3, op, "offset");
  LMF_CHECK(seed >= 0 && off >= 0, value, op, "seed and offset must be non-negative");
  return wrap(info, ops::rand_normal(shape_arg(info, 0, op), dtype_arg(info, 1, op), static_cast<uint64_t>(seed),
                                     static_cast<uint64_t>(off), number_arg(info, 4, op, "mean"),
                                     number_arg(info, 5, op, "std"), device_arg(info, 6, op)));
} LMF_END

// fromHost(arrayBufferView, shape, dtype, device)
LMF_BIND(fromHost) {
  const char* op = "tensor";
  LMF_CHECK(info[0].IsTypedArray() || info[0].IsDataView(), type, op, "data must be a typed array");
  Napi::ArrayBuffer ab;
  size_t off = 0, len = 0;
  if (info[0].IsTypedArray()) {
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    ab = ta.ArrayBuffer();
    off = ta.ByteOffset();
    len = ta.ByteLength();
  } else {
    Napi::DataView dv = info[0].As<Napi::DataView>();
    ab = dv.ArrayBuffer();
    off = dv.ByteOffset();
    len = dv.ByteLength();
  }
  const char* base = ab.Data() ? static_cast<const char*>(ab.Data()) + off : nullptr;
  return wrap(info, ops::from_host(base, len, shape_arg(info, 1, op), dtype_arg(info, 2, op), device_arg(info, 3, op)));
} LMF_END

}  // namespace lmf::binding
