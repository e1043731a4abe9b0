// Bindings of the activation op (plain and gated kinds) and its backward.
#include <napi.h>

#include <string>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {
namespace {

// The public function an activation error names: argument i when given (lib/ops passes the function the
// user called), else "activation".
std::string act_op(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && !info[i].IsUndefined() ? string_arg(info, i, "activation", "op") : std::string("activation");
}

}  // namespace

// activation(kind, x, op?) -> y
Napi::Value bind_activation(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const std::string op = act_op(info, 2);
    return wrap(info, ops::activation(tensor_arg(info, 1, op.c_str(), "input"), string_arg(info, 0, op.c_str(), "kind"), op.c_str()));
  });
}

// activationBackward(kind, dy, x, op?) -> dx
Napi::Value bind_activationBackward(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const std::string op = act_op(info, 3);
    const std::string bop = op + " backward";
    return wrap(info, ops::activation_backward(tensor_arg(info, 1, bop.c_str(), "gradient"), tensor_arg(info, 2, bop.c_str(), "input"),
                                               string_arg(info, 0, bop.c_str(), "kind"), op.c_str()));
  });
}

}  // namespace lmf::binding
