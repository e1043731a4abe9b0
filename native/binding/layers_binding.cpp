// Bindings of the fused layer ops (ops/layers.h) and the memory-bandwidth probe: read arguments, call one
// op under the guard, wrap the results. No math.
#include <napi.h>

#include "../ops/layers.h"
#include "../runtime/mem_bandwidth.h"
#include "args.h"
#include "guard.h"
#include "ops_binding.h"

namespace lmf::binding {
namespace {

Napi::Value wrap_t(const Napi::CallbackInfo& info, Tensor t) { return TensorWrap::wrap(info.Env(), std::move(t)); }
Napi::Value wrap_opt(const Napi::CallbackInfo& info, std::optional<Tensor>& t) {
  return t ? wrap_t(info, std::move(*t)) : info.Env().Null();
}

}  // namespace

// The public function an activation error names: argument i when given (lib/ops passes the function the
// user called), else "activation".
static std::string act_op(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && !info[i].IsUndefined() ? string_arg(info, i, "activation", "op") : std::string("activation");
}

// activation(kind, x, op?) -> y
Napi::Value bind_activation(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const std::string op = act_op(info, 2);
    return wrap_t(info, ops::activation(tensor_arg(info, 1, op.c_str(), "input"), string_arg(info, 0, op.c_str(), "kind"), op.c_str()));
  });
}

// activationBackward(kind, dy, x, op?) -> dx
Napi::Value bind_activationBackward(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const std::string op = act_op(info, 3);
    const std::string bop = op + " backward";
    return wrap_t(info, ops::activation_backward(tensor_arg(info, 1, bop.c_str(), "gradient"), tensor_arg(info, 2, bop.c_str(), "input"),
                                                 string_arg(info, 0, bop.c_str(), "kind"), op.c_str()));
  });
}

// layerNorm(x, weight, bias|null, residual|null, eps) -> [y, mean, rstd, sum|null]
Napi::Value bind_layerNorm(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "layerNorm";
    ops::NormResult r = ops::layer_norm(tensor_arg(info, 0, op, "input"), tensor_arg(info, 1, op, "weight"),
                                        optional_tensor_arg(info, 2, op, "bias"), optional_tensor_arg(info, 3, op, "residual"),
                                        number_arg(info, 4, op, "eps"));
    Napi::Array out = Napi::Array::New(info.Env(), 4);
    out.Set(0u, wrap_t(info, std::move(r.y)));
    out.Set(1u, wrap_t(info, std::move(r.mean)));
    out.Set(2u, wrap_t(info, std::move(r.rstd)));
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
    out.Set(0u, wrap_t(info, std::move(r.y)));
    out.Set(1u, wrap_t(info, std::move(r.rstd)));
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
    out.Set(0u, wrap_t(info, std::move(g.dx)));
    out.Set(1u, wrap_t(info, std::move(g.dw)));
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
    out.Set(0u, wrap_t(info, std::move(g.dx)));
    out.Set(1u, wrap_t(info, std::move(g.dw)));
    return out;
  });
}

// rope(x, base, pairing, offset, rotaryDims, inverse) -> y   (rotaryDims 0 = the head dim)
Napi::Value bind_rope(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const bool inverse = bool_arg(info, 5, "rope", "inverse");
    const char* op = inverse ? "rope backward" : "rope";
    return wrap_t(info, ops::rope(tensor_arg(info, 0, op, "input"), number_arg(info, 1, op, "base"), string_arg(info, 2, op, "pairing"),
                                  int_arg(info, 3, op, "offset"), int_arg(info, 4, op, "rotaryDims"), inverse));
  });
}

// memBandwidth(threads, seconds) -> GB/s of the STREAM triad (the memory-bound benchmarks' ceiling)
Napi::Value bind_memBandwidth(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const int64_t threads = int_arg(info, 0, "memBandwidth", "threads");
    LMF_CHECK(threads >= 1 && threads <= 1024, value, "memBandwidth", "threads must be in [1, 1024], got " << threads);
    return Napi::Number::New(info.Env(), measure_mem_bandwidth_gbs(static_cast<int>(threads), number_arg(info, 1, "memBandwidth", "seconds")));
  });
}

}  // namespace lmf::binding
