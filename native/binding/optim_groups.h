// The parameter groups of the optimizer steps as they cross the binding (optim.cpp, adam8bit.cpp): tensor
// handles and a hyperparameter object read by name into the structs of native/ops/ops.h.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "../ops/ops.h"
#include "args.h"
#include "tensor_wrap.h"

namespace lmf::binding {

inline Napi::Array array_value(const Napi::Value& v, const char* op, const std::string& what) {
  LMF_CHECK(v.IsArray(), type, op, what << " must be an array, got " << js_type_name(v));
  return v.As<Napi::Array>();
}

// An array of tensor handles, each entry (when nullable) possibly null/undefined.
inline std::vector<const Tensor*> handles(const Napi::Value& v, const char* op, const std::string& name, bool nullable) {
  const Napi::Array a = array_value(v, op, name);
  std::vector<const Tensor*> r(a.Length(), nullptr);
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value e = a.Get(k);
    const std::string what = name + "[" + std::to_string(k) + "]";
    if (e.IsNull() || e.IsUndefined()) {
      LMF_CHECK(nullable, value, op, what << " is missing");
      continue;
    }
    r[k] = &TensorWrap::unwrap(e, op, what.c_str());
  }
  return r;
}

// The hyperparameter structs of native/ops/ops.h, read by name (lib/native.ts types the same objects).
inline ops::SgdHyper read_hyper(const Napi::Object& o, const char* op, const std::string& w, ops::SgdHyper h) {
  h.lr = number_prop(o, "lr", op, w);
  h.weight_decay = number_prop(o, "weightDecay", op, w);
  h.momentum = number_prop(o, "momentum", op, w);
  h.dampening = number_prop(o, "dampening", op, w);
  h.nesterov = bool_prop(o, "nesterov", op, w);
  h.step = int_prop(o, "step", op, w);
  return h;
}
inline ops::AdamHyper read_hyper(const Napi::Object& o, const char* op, const std::string& w, ops::AdamHyper h) {
  h.lr = number_prop(o, "lr", op, w);
  h.weight_decay = number_prop(o, "weightDecay", op, w);
  h.beta1 = number_prop(o, "beta1", op, w);
  h.beta2 = number_prop(o, "beta2", op, w);
  h.eps = number_prop(o, "eps", op, w);
  h.decoupled = bool_prop(o, "decoupled", op, w);
  h.step = int_prop(o, "step", op, w);
  return h;
}
inline ops::Adam8bitHyper read_hyper(const Napi::Object& o, const char* op, const std::string& w, ops::Adam8bitHyper h) {
  static_cast<ops::AdamHyper&>(h) = read_hyper(o, op, w, ops::AdamHyper{});
  h.eight_bit = bool_prop(o, "eightBit", op, w);
  return h;
}
inline ops::LionHyper read_hyper(const Napi::Object& o, const char* op, const std::string& w, ops::LionHyper h) {
  h.lr = number_prop(o, "lr", op, w);
  h.weight_decay = number_prop(o, "weightDecay", op, w);
  h.beta1 = number_prop(o, "beta1", op, w);
  h.beta2 = number_prop(o, "beta2", op, w);
  return h;
}
inline ops::SophiaHyper read_hyper(const Napi::Object& o, const char* op, const std::string& w, ops::SophiaHyper h) {
  h.lr = number_prop(o, "lr", op, w);
  h.weight_decay = number_prop(o, "weightDecay", op, w);
  h.beta1 = number_prop(o, "beta1", op, w);
  h.rho = number_prop(o, "rho", op, w);
  h.eps = number_prop(o, "eps", op, w);
  return h;
}

// kindStep(groups: { hyper, params: H[], grads: (H|null)[], masters: (H|null)[], states: H[][] }[]): boolean
template <class H>
Napi::Value step(const Napi::CallbackInfo& info, const char* op, bool (*run)(const std::vector<ops::OptimGroup<H>>&)) {
  const Napi::Array ga = array_value(info[0], op, "groups");
  std::vector<ops::OptimGroup<H>> groups(ga.Length());
  for (uint32_t g = 0; g < ga.Length(); ++g) {
    const std::string w = "groups[" + std::to_string(g) + "]";
    const Napi::Object o = object_value(ga.Get(g), op, w);
    groups[g].hyper = read_hyper(object_value(o.Get("hyper"), op, w + ".hyper"), op, w + ".hyper", H{});
    const auto params = handles(o.Get("params"), op, w + ".params", false);
    const auto grads = handles(o.Get("grads"), op, w + ".grads", true);
    const auto masters = handles(o.Get("masters"), op, w + ".masters", true);
    const Napi::Array states = array_value(o.Get("states"), op, w + ".states");
    const size_t n = params.size();
    LMF_CHECK(grads.size() == n && masters.size() == n && states.Length() == n, value, op,
              w << ": params, grads, masters and states must have the same length (got " << n << ", " << grads.size() << ", "
                << masters.size() << ", " << states.Length() << ")");
    groups[g].params.resize(n);
    for (size_t i = 0; i < n; ++i) {
      ops::OptimTensors& t = groups[g].params[i];
      t.param = params[i];
      t.grad = grads[i];
      t.master = masters[i];
      t.states = handles(states.Get(static_cast<uint32_t>(i)), op, w + ".states[" + std::to_string(i) + "]", false);
    }
  }
  return Napi::Boolean::New(info.Env(), run(groups));
}

}  // namespace lmf::binding
