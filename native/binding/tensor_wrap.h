// The JS handle of a native tensor. lib/tensor.ts wraps it; dispose() drops the view at once, and the
// garbage collector's finalizer drops it otherwise.
#pragma once
#include <napi.h>

#include <optional>

#include "../core/tensor.h"

namespace lmf::binding {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Value wrap(Napi::Env env, Tensor t);
  // The tensor behind a handle argument; throws TypeError for a non-handle and DisposedError for a disposed one.
  static const Tensor& unwrap(const Napi::Value& v, const char* op, const char* what);

  explicit TensorWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value shape(const Napi::CallbackInfo& info);
  Napi::Value strides(const Napi::CallbackInfo& info);
  Napi::Value offset(const Napi::CallbackInfo& info);
  Napi::Value dtype(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value nbytes(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value read(const Napi::CallbackInfo& info);
  Napi::Value same_storage(const Napi::CallbackInfo& info);

  std::optional<Tensor> t_;
};

}  // namespace lmf::binding
