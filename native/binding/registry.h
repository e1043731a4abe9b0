// The binding's side of core/op_list.h: one bind_<name> per entry, declared here from the list and defined
// in the binding file of its family (native/binding/<family>.cpp); addon.cpp registers them all.
#pragma once
#include <napi.h>

#include <optional>
#include <utility>

#include "../core/op_list.h"
#include "tensor_wrap.h"

namespace lmf::binding {

#define LMF_DECLARE(name) Napi::Value bind_##name(const Napi::CallbackInfo& info);
LMF_OP_LIST(LMF_DECLARE)
#undef LMF_DECLARE

void register_ops(Napi::Env env, Napi::Object exports);

// A result tensor as a JS handle; an absent optional one as null.
inline Napi::Value wrap(const Napi::CallbackInfo& info, Tensor t) { return TensorWrap::wrap(info.Env(), std::move(t)); }
inline Napi::Value wrap_opt(const Napi::CallbackInfo& info, std::optional<Tensor>& t) {
  return t ? wrap(info, std::move(*t)) : info.Env().Null();
}

// LMF_BIND(name) { body } LMF_END defines bind_<name> running body under the guard (guard.h).
#define LMF_BIND(name) Napi::Value bind_##name(const Napi::CallbackInfo& info) { return guard(info, [&]() -> Napi::Value
#define LMF_END ); }

}  // namespace lmf::binding
