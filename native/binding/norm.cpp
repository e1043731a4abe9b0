// Bindings of LayerNorm and RMSNorm (optionally residual-fused) and their backward passes.
#include <napi.h>

#include <optional>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

// layerNorm(x, weight, bias|null, residual|null, eps) -> [y, mean, rstd, sum|null]
Napi::Value bind_layerNorm(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "layerNorm";
    ops::NormResult r = ops::layer_norm(tensor_arg(info, 0, op, "input"), tensor_arg(info, 1, op, "weight"),
                                        optional_tensor_arg(info, 2, op, "bias"), optional_tensor_arg(info, 3, op, "residual"),
                                        number_arg(info, 4, op, "eps"));
    Napi::Array out = Napi::Array::New(info.Env(), 4);
    out.Set(0u, wrap(info, std::move(r.y)));
    out.Set(1u, wrap(info, std::move(r.mean)));
    out.Set(2u, wrap(info, std::move(r.rstd)));
    out.Set(3u, wrap_opt(info, r.sum));
    return out;
  });
}

// rmsNorm(x, weight, residual|null, eps) -> [y, rstd, sum|null]
Napi::Value bind_rmsNorm(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "rmsNorm";
    ops::NormResult r = ops::rms_norm(tensor_arg(info, 0, op, "input"), tensor_arg(info, 1, op, "weight"),
                                      optional_tensor_arg(info, 2, op, "residual"), number_arg(info, 3, op, "eps"));
    Napi::Array out = Napi::Array::New(info.Env(), 3);
    out.Set(0u, wrap(info, std::move(r.y)));
    out.Set(1u, wrap(info, std::move(r.rstd)));
    out.Set(2u, wrap_opt(info, r.sum));
    return out;
  });
}

// layerNormBackward(dy, dsum|null, s, weight, mean, rstd, hasBias) -> [dx, dweight, dbias|null]
Napi::Value bind_layerNormBackward(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "layerNorm backward";
    ops::NormGrads g = ops::layer_norm_backward(tensor_arg(info, 0, op, "gradient"), optional_tensor_arg(info, 1, op, "sum gradient"),
                                                tensor_arg(info, 2, op, "input"), tensor_arg(info, 3, op, "weight"),
                                                tensor_arg(info, 4, op, "mean"), tensor_arg(info, 5, op, "rstd"),
                                                bool_arg(info, 6, op, "hasBias"));
    Napi::Array out = Napi::Array::New(info.Env(), 3);
    out.Set(0u, wrap(info, std::move(g.dx)));
    out.Set(1u, wrap(info, std::move(g.dw)));
    out.Set(2u, wrap_opt(info, g.db));
    return out;
  });
}

// rmsNormBackward(dy, dsum|null, s, weight, rstd) -> [dx, dweight]
Napi::Value bind_rmsNormBackward(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "rmsNorm backward";
    ops::NormGrads g = ops::rms_norm_backward(tensor_arg(info, 0, op, "gradient"), optional_tensor_arg(info, 1, op, "sum gradient"),
                                              tensor_arg(info, 2, op, "input"), tensor_arg(info, 3, op, "weight"),
                                              tensor_arg(info, 4, op, "rstd"));
    Napi::Array out = Napi::Array::New(info.Env(), 2);
    out.Set(0u, wrap(info, std::move(g.dx)));
    out.Set(1u, wrap(info, std::move(g.dw)));
    return out;
  });
}

}  // namespace lmf::binding
