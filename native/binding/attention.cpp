// attentionForward / attentionBackward: argument reading only; the op validates and runs the kernels.
#include <napi.h>

#include <cmath>
#include <vector>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {
namespace {

constexpr const char* kOp = "attention";

// Options at info[i..i+2]: causal (boolean), scale (number), slopes (array of numbers or null), then
// docIds (tensor or null) at info[i+3].
ops::AttentionOptions options_arg(const Napi::CallbackInfo& info, size_t i) {
  ops::AttentionOptions o;
  o.causal = bool_arg(info, i, kOp, "causal");
  o.scale = number_arg(info, i + 1, kOp, "scale");
  const Napi::Value s = info[i + 2];
  if (!s.IsNull() && !s.IsUndefined()) {
    LMF_CHECK(s.IsArray(), type, kOp, "alibiSlopes must be an array of numbers or null");
    Napi::Array a = s.As<Napi::Array>();
    LMF_CHECK(a.Length() <= (1u << 20), value, kOp, "alibiSlopes has too many entries (" << a.Length() << ")");
    o.slopes.resize(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value x = a.Get(k);
      LMF_CHECK(x.IsNumber(), type, kOp, "alibiSlopes[" << k << "] must be a number");
      o.slopes[k] = x.As<Napi::Number>().DoubleValue();
    }
  }
  o.doc_ids = optional_tensor_arg(info, i + 3, kOp, "docIds");
  return o;
}

}  // namespace

// attentionForward(q, k, v, causal, scale, slopes | null, docIds | null) -> [out, lse]
Napi::Value bind_attentionForward(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const Tensor& q = tensor_arg(info, 0, kOp, "q");
    const Tensor& k = tensor_arg(info, 1, kOp, "k");
    const Tensor& v = tensor_arg(info, 2, kOp, "v");
    ops::AttentionResult r = ops::attention_forward(q, k, v, options_arg(info, 3));
    Napi::Array out = Napi::Array::New(info.Env(), 2);
    out.Set(0u, wrap(info, std::move(r.out)));
    out.Set(1u, wrap(info, std::move(r.lse)));
    return out;
  });
}

// attentionBackward(dout, q, k, v, out, lse, causal, scale, slopes | null, docIds | null, packed = false) -> [dq, dk, dv],
// or with packed [dqkv]: one [B, T, H + 2 Hkv, D] tensor holding dq, dk and dv (ops.h).
Napi::Value bind_attentionBackward(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const Tensor& g = tensor_arg(info, 0, kOp, "gradient");
    const Tensor& q = tensor_arg(info, 1, kOp, "q");
    const Tensor& k = tensor_arg(info, 2, kOp, "k");
    const Tensor& v = tensor_arg(info, 3, kOp, "v");
    const Tensor& o = tensor_arg(info, 4, kOp, "out");
    const Tensor& l = tensor_arg(info, 5, kOp, "lse");
    const bool packed = info.Length() > 10 && !info[10].IsUndefined() && bool_arg(info, 10, kOp, "packed");
    ops::AttentionGrads r = ops::attention_backward(g, q, k, v, o, l, options_arg(info, 6), packed);
    if (packed) {
      Napi::Array one = Napi::Array::New(info.Env(), 1);
      one.Set(0u, wrap(info, std::move(r.packed)));
      return one;
    }
    Napi::Array out = Napi::Array::New(info.Env(), 3);
    out.Set(0u, wrap(info, std::move(r.dq)));
    out.Set(1u, wrap(info, std::move(r.dk)));
    out.Set(2u, wrap(info, std::move(r.dv)));
    return out;
  });
}

}  // namespace lmf::binding
