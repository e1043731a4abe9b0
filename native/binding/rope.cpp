// Binding of RoPE (forward, and backward as the inverse rotation).
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

// rope(x, base, pairing, offset, rotaryDims, inverse, inPlace = false) -> y   (rotaryDims 0 = the head dim;
// inPlace rotates x itself and returns a new handle to it)
Napi::Value bind_rope(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const bool inverse = bool_arg(info, 5, "rope", "inverse");
    const char* op = inverse ? "rope backward" : "rope";
    const bool in_place = info.Length() > 6 && !info[6].IsUndefined() && bool_arg(info, 6, op, "inPlace");
    return wrap(info, ops::rope(tensor_arg(info, 0, op, "input"), number_arg(info, 1, op, "base"), string_arg(info, 2, op, "pairing"),
                                  int_arg(info, 3, op, "offset"), int_arg(info, 4, op, "rotaryDims"), inverse, in_place));
  });
}

}  // namespace lmf::binding
