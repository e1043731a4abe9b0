// Bindings of softmax and the fused softmax cross-entropy.
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

// softmax(t, dim, log)
LMF_BIND(softmax) {
  const bool log = bool_arg(info, 2, "softmax", "log");
  const char* op = log ? "logSoftmax" : "softmax";
  return wrap(info, ops::softmax(tensor_arg(info, 0, op, "input"), int_arg(info, 1, op, "dim"), log));
} LMF_END

// crossEntropy(logits, targets, ignoreIndex, reduction, zLoss?) -> [loss, lse, validCount]
LMF_BIND(crossEntropy) {
  const char* op = "crossEntropy";
  const double z = info.Length() > 4 && !info[4].IsUndefined() ? number_arg(info, 4, op, "zLoss") : 0.0;
  ops::CrossEntropyResult r = ops::cross_entropy(tensor_arg(info, 0, op, "logits"), tensor_arg(info, 1, op, "targets"),
                                                 int_arg(info, 2, op, "ignoreIndex"), string_arg(info, 3, op, "reduction"), z);
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, wrap(info, std::move(r.loss)));
  out.Set(1u, wrap(info, std::move(r.lse)));
  out.Set(2u, Napi::Number::New(info.Env(), static_cast<double>(r.valid)));
  return out;
} LMF_END

// crossEntropyBackward(logits, targets, lse, rowGrad, ignoreIndex, zLoss?) -> dlogits
LMF_BIND(crossEntropyBackward) {
  const char* op = "crossEntropy backward";
  const double z = info.Length() > 5 && !info[5].IsUndefined() ? number_arg(info, 5, op, "zLoss") : 0.0;
  return wrap(info, ops::cross_entropy_backward(tensor_arg(info, 0, op, "logits"), tensor_arg(info, 1, op, "targets"),
                                                tensor_arg(info, 2, op, "lse"), tensor_arg(info, 3, op, "row gradient"),
                                                int_arg(info, 4, op, "ignoreIndex"), z));
} LMF_END

}  // namespace lmf::binding
