// Checked readers for op arguments: each names the op and the argument when the value is unusable.
#pragma once
#include <napi.h>

#include <cmath>
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

}  // namespace lmf::binding
