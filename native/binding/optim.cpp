// Bindings of the optimizer steps (SGD, Adam/AdamW, Lion, SophiaG), gradient clipping and Sophia's Hessian EMA:
// parameter groups (optim_groups.h) in, one fused call out.
#include <napi.h>

#include <vector>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "optim_groups.h"
#include "registry.h"

namespace lmf::binding {

Napi::Value bind_sgdStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step<ops::SgdHyper>(info, "SGD.step", ops::sgd_step); });
}
Napi::Value bind_adamStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step<ops::AdamHyper>(info, "Adam.step", ops::adam_step); });
}
Napi::Value bind_lionStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step<ops::LionHyper>(info, "Lion.step", ops::lion_step); });
}
Napi::Value bind_sophiaStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step<ops::SophiaHyper>(info, "SophiaG.step", ops::sophia_step); });
}

// clipGradNorm(grads: H[], maxNorm): number (the total norm before clipping)
Napi::Value bind_clipGradNorm(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "clipGradNorm";
    const auto grads = handles(info[0], op, "grads", false);
    return Napi::Number::New(info.Env(), ops::clip_grad_norm(grads, number_arg(info, 1, op, "maxNorm")));
  });
}

// hessianEma(groups: { beta2, hessians: H[], estimates: H[] }[]): boolean (false: a non-finite estimate, nothing changed)
Napi::Value bind_hessianEma(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "SophiaG.updateHessian";
    const Napi::Array ga = array_value(info[0], op, "groups");
    std::vector<ops::HessianGroup> groups(ga.Length());
    for (uint32_t g = 0; g < ga.Length(); ++g) {
      const std::string w = "groups[" + std::to_string(g) + "]";
      const Napi::Object o = object_value(ga.Get(g), op, w);
      groups[g].beta2 = number_prop(o, "beta2", op, w);
      groups[g].hessians = handles(o.Get("hessians"), op, w + ".hessians", false);
      groups[g].estimates = handles(o.Get("estimates"), op, w + ".estimates", false);
    }
    return Napi::Boolean::New(info.Env(), ops::hessian_ema(groups));
  });
}

}  // namespace lmf::binding
