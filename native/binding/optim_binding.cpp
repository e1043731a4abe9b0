// Bindings of the optimizer ops (native/ops/optim.h): arrays of tensor handles in, one fused call out.
#include <napi.h>

#include <string>
#include <vector>

#include "../ops/optim.h"
#include "args.h"
#include "guard.h"
#include "ops_binding.h"

namespace lmf::binding {
namespace {

Napi::Array array_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  LMF_CHECK(info[i].IsArray(), type, op, name << " must be an array");
  return info[i].As<Napi::Array>();
}

// Each entry a tensor handle, or (when nullable) null/undefined.
std::vector<const Tensor*> handles(const Napi::Array& a, const char* op, const char* name, bool nullable) {
  std::vector<const Tensor*> r(a.Length(), nullptr);
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = a.Get(k);
    const std::string what = std::string(name) + "[" + std::to_string(k) + "]";
    if (v.IsNull() || v.IsUndefined()) {
      LMF_CHECK(nullable, value, op, what << " is missing");
      continue;
    }
    r[k] = &TensorWrap::unwrap(v, op, what.c_str());
  }
  return r;
}

std::vector<double> numbers(const Napi::Value& v, const char* op, const std::string& name) {
  LMF_CHECK(v.IsArray(), type, op, name << " must be an array of numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<double> r(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value x = a.Get(k);
    LMF_CHECK(x.IsNumber(), type, op, name << "[" << k << "] must be a number");
    r[k] = x.As<Napi::Number>().DoubleValue();
  }
  return r;
}

// kindStep(params: H[], grads: (H|null)[], masters: (H|null)[], states: H[][], hyper: number[][], checkFinite): boolean
Napi::Value step(const Napi::CallbackInfo& info, const char* kind, const char* op) {
  const auto params = handles(array_arg(info, 0, op, "params"), op, "params", false);
  const auto grads = handles(array_arg(info, 1, op, "grads"), op, "grads", true);
  const auto masters = handles(array_arg(info, 2, op, "masters"), op, "masters", true);
  Napi::Array states = array_arg(info, 3, op, "states");
  Napi::Array hyper = array_arg(info, 4, op, "hyper");
  const bool check = bool_arg(info, 5, op, "checkFinite");
  const size_t n = params.size();
  LMF_CHECK(grads.size() == n && masters.size() == n && states.Length() == n && hyper.Length() == n, value, op,
            "params, grads, masters, states and hyper must have the same length (got " << n << ", " << grads.size() << ", "
                << masters.size() << ", " << states.Length() << ", " << hyper.Length() << ")");
  std::vector<ops::OptimParam> ps(n);
  for (size_t i = 0; i < n; ++i) {
    ps[i].param = params[i];
    ps[i].grad = grads[i];
    ps[i].master = masters[i];
    Napi::Value sv = states.Get(static_cast<uint32_t>(i));
    LMF_CHECK(sv.IsArray(), type, op, "states[" << i << "] must be an array of tensors");
    const std::string sname = "states[" + std::to_string(i) + "]";
    ps[i].states = handles(sv.As<Napi::Array>(), op, sname.c_str(), false);
    ps[i].hp = numbers(hyper.Get(static_cast<uint32_t>(i)), op, "hyper[" + std::to_string(i) + "]");
  }
  return Napi::Boolean::New(info.Env(), ops::optim_step(kind, ps, check));
}

}  // namespace

Napi::Value bind_sgdStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step(info, "sgd", "SGD.step"); });
}
Napi::Value bind_adamStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step(info, "adam", "Adam.step"); });
}
Napi::Value bind_lionStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step(info, "lion", "Lion.step"); });
}
Napi::Value bind_sophiaStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step(info, "sophia", "SophiaG.step"); });
}

// clipGradNorm(grads: H[], maxNorm): number (the total norm before clipping)
Napi::Value bind_clipGradNorm(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "clipGradNorm";
    const auto grads = handles(array_arg(info, 0, op, "grads"), op, "grads", false);
    return Napi::Number::New(info.Env(), ops::clip_grad_norm(grads, number_arg(info, 1, op, "maxNorm")));
  });
}

// hessianEma(hs: H[], estimates: H[], beta2: number[])
Napi::Value bind_hessianEma(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "SophiaG.updateHessian";
    const auto hs = handles(array_arg(info, 0, op, "hessians"), op, "hessians", false);
    const auto es = handles(array_arg(info, 1, op, "estimates"), op, "estimates", false);
    ops::hessian_ema(hs, es, numbers(info[2], op, "beta2"));
    return info.Env().Undefined();
  });
}

// quant8Map(signed): H (float32 [256])
Napi::Value bind_quant8Map(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    return TensorWrap::wrap(info.Env(), ops::quant8_map(bool_arg(info, 0, "quant8Map", "signed")));
  });
}

// quantize8(x, signed): [codes, absmax]
Napi::Value bind_quantize8(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "quantize8";
    std::vector<Tensor> r = ops::quantize8(tensor_arg(info, 0, op, "input"), bool_arg(info, 1, op, "signed"));
    Napi::Array a = Napi::Array::New(info.Env(), 2);
    a.Set(0u, TensorWrap::wrap(info.Env(), r[0]));
    a.Set(1u, TensorWrap::wrap(info.Env(), r[1]));
    return a;
  });
}

// dequantize8(codes, absmax, signed): H
Napi::Value bind_dequantize8(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "dequantize8";
    return TensorWrap::wrap(info.Env(), ops::dequantize8(tensor_arg(info, 0, op, "codes"), tensor_arg(info, 1, op, "absmax"),
                                                         bool_arg(info, 2, op, "signed")));
  });
}

}  // namespace lmf::binding
