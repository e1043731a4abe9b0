// Checked readers for op arguments: each names the op and the argument when the value is unusable.
#pragma once
#include <napi.h>

#include <cmath>
#include <iomanip>
#include <string>
#include <vector>

#include "../core/device.h"
#include "../core/dtype.h"
#include "../core/error.h"
#include "../core/shape.h"
#include "tensor_wrap.h"

namespace lmf::binding {

inline const Napi::Value arg(const Napi::CallbackInfo& info, size_t i) { return info[i]; }

inline const Tensor& tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  return TensorWrap::unwrap(info[i], op, name);
}

// Tensor or null/undefined.
inline const Tensor* optional_tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return &TensorWrap::unwrap(info[i], op, name);
}

inline double number_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  LMF_CHECK(info[i].IsNumber(), type, op, name << " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  const double v = number_arg(info, i, op, name);
  LMF_CHECK(std::isfinite(v) && std::floor(v) == v && std::fabs(v) <= 9007199254740991.0, type, op,
            name << " must be an integer, got " << v);
  return static_cast<int64_t>(v);
}

inline bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  LMF_CHECK(info[i].IsBoolean(), type, op, name << " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

inline std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  LMF_CHECK(info[i].IsString(), type, op, name << " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

inline std::vector<int64_t> ints_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  LMF_CHECK(info[i].IsArray(), type, op, name << " must be an array of integers");
  Napi::Array a = info[i].As<Napi::Array>();
  LMF_CHECK(a.Length() <= 64, shape, op, name << " has too many entries (" << a.Length() << ")");
  std::vector<int64_t> r(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = a.Get(k);
    LMF_CHECK(v.IsNumber(), type, op, name << "[" << k << "] must be an integer");
    const double d = v.As<Napi::Number>().DoubleValue();
    LMF_CHECK(std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0, type, op,
              name << "[" << k << "] must be an integer, got " << d);
    r[k] = static_cast<int64_t>(d);
  }
  return r;
}

inline Shape shape_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Shape s = ints_arg(info, i, op, "shape");
  for (int64_t d : s) LMF_CHECK(d >= 0, shape, op, "shape " << shape_str(s) << " has a negative size");
  return s;
}

inline DType dtype_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const int64_t v = int_arg(info, i, op, "dtype");
  LMF_CHECK(v >= 0 && v < kNumDTypes, dtype, op, "unknown dtype code " << v);
  return static_cast<DType>(v);
}

inline Device device_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const int64_t v = int_arg(info, i, op, "device");
  LMF_CHECK(v == 0 || v == 1, device, op, "unknown device code " << v);
  return static_cast<Device>(v);
}

// A typed array of one element type (e.g. napi_int32_array for int32_t), read in place: the pointer is
// valid while the call runs. *length receives the element count.
template <typename T>
const T* typed_array_arg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* type_name,
                         const char* op, const char* name, int64_t* length) {
  LMF_CHECK(info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == type, type, op,
            name << " must be a " << type_name);
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  *length = static_cast<int64_t>(a.ElementLength());
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}

// One of `count` enum values, given by the name `name(value)` returns (an op name such as "add").
template <typename E, typename NameFn>
E enum_arg(const Napi::CallbackInfo& info, size_t i, const char* op, int count, NameFn name) {
  const std::string s = string_arg(info, i, op, "op");
  for (int k = 0; k < count; ++k)
    if (s == name(static_cast<E>(k))) return static_cast<E>(k);
  LMF_THROW(value, op, "unknown op '" << s << "'");
}

// ---- named properties of an object argument (a hyperparameter struct, say); `what` names the object in
// messages ("groups[0].hyper"). A missing property reads as undefined and is refused like a wrong type.

inline const char* js_type_name(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_object: return v.IsArray() ? "an array" : "an object";
    default: return "a value of another type";
  }
}

inline Napi::Object object_value(const Napi::Value& v, const char* op, const std::string& what) {
  LMF_CHECK(v.IsObject() && !v.IsArray(), type, op, what << " must be an object, got " << js_type_name(v));
  return v.As<Napi::Object>();
}

inline double number_prop(const Napi::Object& o, const char* key, const char* op, const std::string& what) {
  const Napi::Value v = o.Get(key);
  LMF_CHECK(v.IsNumber(), type, op, what << "." << key << " must be a number, got " << js_type_name(v));
  return v.As<Napi::Number>().DoubleValue();
}

inline int64_t int_prop(const Napi::Object& o, const char* key, const char* op, const std::string& what) {
  const double d = number_prop(o, key, op, what);
  LMF_CHECK(std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0, type, op,
            what << "." << key << " must be an integer, got " << std::setprecision(17) << d);
  return static_cast<int64_t>(d);
}

inline bool bool_prop(const Napi::Object& o, const char* key, const char* op, const std::string& what) {
  const Napi::Value v = o.Get(key);
  LMF_CHECK(v.IsBoolean(), type, op, what << "." << key << " must be a boolean, got " << js_type_name(v));
  return v.As<Napi::Boolean>().Value();
}

}  // namespace lmf::binding
