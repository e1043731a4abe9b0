#include "tensor_wrap.h"

#include "../ops/ops.h"
#include "addon_data.h"
#include "guard.h"

namespace lmf::binding {

Napi::Function TensorWrap::define(Napi::Env env) {
  return DefineClass(env, "TensorHandle",
                     {
                         InstanceMethod<&TensorWrap::shape>("shape"),
                         InstanceMethod<&TensorWrap::strides>("strides"),
                         InstanceMethod<&TensorWrap::offset>("offset"),
                         InstanceMethod<&TensorWrap::dtype>("dtype"),
                         InstanceMethod<&TensorWrap::device>("device"),
                         InstanceMethod<&TensorWrap::nbytes>("nbytes"),
                         InstanceMethod<&TensorWrap::disposed>("disposed"),
                         InstanceMethod<&TensorWrap::dispose>("dispose"),
                         InstanceMethod<&TensorWrap::read>("read"),
                         InstanceMethod<&TensorWrap::same_storage>("sameStorage"),
                     });
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {}

Napi::Value TensorWrap::wrap(Napi::Env env, Tensor t) {
  Napi::Object obj = addon_data(env).tensor_ctor.New({});
  TensorWrap::Unwrap(obj)->t_ = std::move(t);
  return obj;
}

const Tensor& TensorWrap::unwrap(const Napi::Value& v, const char* op, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addon_data(env).tensor_ctor.Value()))
    LMF_THROW(type, op, what << " must be a Tensor");
  TensorWrap* w = TensorWrap::Unwrap(v.As<Napi::Object>());
  LMF_CHECK(w->t_.has_value(), disposed, op, what << " is a disposed tensor");
  return *w->t_;
}

static Napi::Array to_array(Napi::Env env, const Shape& s) {
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(s[i])));
  return a;
}

#define LMF_LIVE(op) \
  LMF_CHECK(t_.has_value(), disposed, op, "the tensor has been disposed")

Napi::Value TensorWrap::shape(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { LMF_LIVE("shape"); return to_array(info.Env(), t_->shape); });
}
Napi::Value TensorWrap::strides(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { LMF_LIVE("strides"); return to_array(info.Env(), t_->strides); });
}
Napi::Value TensorWrap::offset(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { LMF_LIVE("offset"); return Napi::Number::New(info.Env(), static_cast<double>(t_->offset)); });
}
Napi::Value TensorWrap::dtype(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { LMF_LIVE("dtype"); return Napi::Number::New(info.Env(), static_cast<int>(t_->dtype)); });
}
Napi::Value TensorWrap::device(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { LMF_LIVE("device"); return Napi::Number::New(info.Env(), static_cast<int>(t_->device())); });
}
Napi::Value TensorWrap::nbytes(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { LMF_LIVE("nbytes"); return Napi::Number::New(info.Env(), static_cast<double>(t_->storage->bytes())); });
}
Napi::Value TensorWrap::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !t_.has_value()); }

Napi::Value TensorWrap::dispose(const Napi::CallbackInfo& info) {
  t_.reset();
  return info.Env().Undefined();
}

// Copies the elements, row-major, into a new ArrayBuffer.
Napi::Value TensorWrap::read(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    LMF_LIVE("data");
    const size_t bytes = static_cast<size_t>(t_->numel()) * t_->elem_size();
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), bytes);
    ops::to_host(*t_, buf.Data());
    return buf;
  });
}

Napi::Value TensorWrap::same_storage(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    LMF_LIVE("sameStorage");
    const Tensor& o = unwrap(info[0], "sameStorage", "other");
    return Napi::Boolean::New(info.Env(), o.storage == t_->storage);
  });
}

}  // namespace lmf::binding
