// Tensor handles on plain N-API wrapping rather than Napi::ObjectWrap, for one reason: dispose() must
// free everything native at once. Node runs N-API finalizers from the event loop, not from the garbage
// collector, so a synchronous training loop never gives them a chance: with ObjectWrap every handle kept
// its native object and reference until the loop yielded, and RSS grew by ~80 KB per step of a tiny GPT
// under tidy() without bound. Here dispose() removes the wrap (napi_remove_wrap deletes the reference
// at once) and deletes the box; a handle that is collected without dispose() is still finalized.
#include "tensor_wrap.h"

#include "../ops/ops.h"
#include "addon_data.h"
#include "guard.h"

namespace lmf::binding {
namespace {

struct Box {
  Tensor t;
};

void finalize(napi_env, void* data, void*) { delete static_cast<Box*>(data); }

// The box behind a handle object, or null once the handle is disposed (its wrap removed).
Box* box_of(napi_env env, napi_value obj) {
  void* p = nullptr;
  return napi_unwrap(env, obj, &p) == napi_ok ? static_cast<Box*>(p) : nullptr;
}

bool is_handle(Napi::Env env, const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(addon_data(env).tensor_ctor.Value());
}

Box& live(const Napi::CallbackInfo& info, const char* op) {
  Box* b = box_of(info.Env(), info.This());
  LMF_CHECK(b != nullptr, disposed, op, "the tensor has been disposed");
  return *b;
}

Napi::Array to_array(Napi::Env env, const Shape& s) {
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(s[i])));
  return a;
}

// A raw N-API method: runs f under guard() and turns a thrown Napi::Error into a pending JS exception,
// as node-addon-api's own callback wrappers do.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
napi_value method(napi_env env, napi_callback_info cb) {
  try {
    Napi::CallbackInfo info(env, cb);
    return guard(info, [&]() -> Napi::Value { return F(info); });
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
}

napi_value construct(napi_env env, napi_callback_info cb_info) {
  // Handles are made only by wrap(), which attaches the tensor right after construction.
  napi_value self = nullptr;
  return napi_get_cb_info(env, cb_info, nullptr, nullptr, &self, nullptr) == napi_ok ? self : nullptr;
}

Napi::Value shape(const Napi::CallbackInfo& info) { return to_array(info.Env(), live(info, "shape").t.shape); }
Napi::Value strides(const Napi::CallbackInfo& info) { return to_array(info.Env(), live(info, "strides").t.strides); }
Napi::Value offset(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live(info, "offset").t.offset));
}
Napi::Value dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(live(info, "dtype").t.dtype));
}
Napi::Value device(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(live(info, "device").t.device()));
}
Napi::Value nbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live(info, "nbytes").t.storage->bytes()));
}
Napi::Value disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), box_of(info.Env(), info.This()) == nullptr);
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  void* p = nullptr;
  if (napi_remove_wrap(info.Env(), info.This(), &p) == napi_ok) delete static_cast<Box*>(p);
  return info.Env().Undefined();
}

// Copies the elements, row-major, into a new ArrayBuffer.
Napi::Value read(const Napi::CallbackInfo& info) {
  const Tensor& t = live(info, "data").t;
  const size_t bytes = static_cast<size_t>(t.numel()) * t.elem_size();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), bytes);
  ops::to_host(t, buf.Data());
  return buf;
}

Napi::Value same_storage(const Napi::CallbackInfo& info) {
  const Tensor& t = live(info, "sameStorage").t;
  const Tensor& o = TensorWrap::unwrap(info[0], "sameStorage", "other");
  return Napi::Boolean::New(info.Env(), o.storage == t.storage);
}

}  // namespace

Napi::Function TensorWrap::define(Napi::Env env) {
  const auto m = [](const char* name, napi_callback cb) {
    return napi_property_descriptor{name, nullptr, cb, nullptr, nullptr, nullptr, napi_default_method, nullptr};
  };
  const napi_property_descriptor props[] = {
      m("shape", method<shape>),   m("strides", method<strides>), m("offset", method<offset>),
      m("dtype", method<dtype>),   m("device", method<device>),   m("nbytes", method<nbytes>),
      m("disposed", method<disposed>), m("dispose", method<dispose>), m("read", method<read>),
      m("sameStorage", method<same_storage>),
  };
  napi_value cls = nullptr;
  const napi_status st = napi_define_class(env, "TensorHandle", NAPI_AUTO_LENGTH, construct, nullptr,
                                           sizeof(props) / sizeof(props[0]), props, &cls);
  NAPI_THROW_IF_FAILED(env, st, Napi::Function());
  return Napi::Function(env, cls);
}

Napi::Value TensorWrap::wrap(Napi::Env env, Tensor t) {
  Napi::Object obj = addon_data(env).tensor_ctor.New({});
  auto* box = new Box{std::move(t)};
  const napi_status st = napi_wrap(env, obj, box, finalize, nullptr, nullptr);
  if (st != napi_ok) {
    delete box;
    NAPI_THROW_IF_FAILED(env, st, Napi::Value());
  }
  return obj;
}

const Tensor& TensorWrap::unwrap(const Napi::Value& v, const char* op, const char* what) {
  Napi::Env env = v.Env();
  if (!is_handle(env, v)) LMF_THROW(type, op, what << " must be a Tensor");
  Box* b = box_of(env, v);
  LMF_CHECK(b != nullptr, disposed, op, what << " is a disposed tensor");
  return b->t;
}

}  // namespace lmf::binding
