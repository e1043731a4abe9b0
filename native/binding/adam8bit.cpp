// Bindings of 8-bit Adam: its step (parameter groups as in optim_groups.h) and the blockwise 8-bit
// quantisation of its state (the dynamic map, quantize, dequantize).
#include <napi.h>

#include <vector>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "optim_groups.h"
#include "registry.h"

namespace lmf::binding {

Napi::Value bind_adam8bitStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return step<ops::Adam8bitHyper>(info, "Adam8bit.step", ops::adam8bit_step); });
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
