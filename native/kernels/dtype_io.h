// Element access by dtype for kernels that compute in float: load to float, store from float.
// bf16 and f16 are distinct tag types so templates can tell them from uint16 data.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../core/error.h"
#include "math.h"

namespace lmf::kernels {

struct bf16_t { uint16_t bits; };
struct f16_t { uint16_t bits; };

inline float load_f(const float* p) { return *p; }
inline double load_f(const double* p) { return *p; }
inline float load_f(const bf16_t* p) { return math::bf16_to_f32(p->bits); }
inline float load_f(const f16_t* p) { return math::f16_to_f32(p->bits); }
inline float load_f(const int32_t* p) { return static_cast<float>(*p); }
inline float load_f(const uint8_t* p) { return static_cast<float>(*p); }
inline float load_f(const int8_t* p) { return static_cast<float>(*p); }

inline void store_f(float* p, double v) { *p = static_cast<float>(v); }
inline void store_f(double* p, double v) { *p = v; }
inline void store_f(bf16_t* p, double v) { p->bits = math::f32_to_bf16(static_cast<float>(v)); }
inline void store_f(f16_t* p, double v) { p->bits = math::f32_to_f16(static_cast<float>(v)); }

// The type kernels compute in: double for float64 data, float for every other float type.
template <typename T> struct Acc { using type = float; };
template <> struct Acc<double> { using type = double; };
template <typename T> using acc_t = typename Acc<T>::type;

// Calls f(T{}) with T the C++ type of a float dtype; throws DTypeError for the others.
template <typename F>
void dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); return;
    case DType::bf16: f(bf16_t{}); return;
    case DType::f16: f(f16_t{}); return;
    case DType::f64: f(double{}); return;
    default: LMF_THROW(dtype, op, "expected a floating-point tensor (float32, bfloat16, float16, float64), got " << dtype_name(t));
  }
}

template <typename F>
void dispatch_any(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); return;
    case DType::bf16: f(bf16_t{}); return;
    case DType::f16: f(f16_t{}); return;
    case DType::i32: f(int32_t{}); return;
    case DType::u8: f(uint8_t{}); return;
    case DType::i8: f(int8_t{}); return;
    case DType::f64: f(double{}); return;
  }
}

}  // namespace lmf::kernels
