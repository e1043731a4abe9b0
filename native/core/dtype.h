// Element types a tensor can hold, their sizes and names.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lmf {

// The order is part of the binding's contract (lib/dtype.ts mirrors it).
// float64 exists for checking: gradcheck and float64 references run through the same kernels.
enum class DType : int32_t { f32 = 0, bf16 = 1, f16 = 2, i32 = 3, u8 = 4, i8 = 5, f64 = 6 };
constexpr int kNumDTypes = 7;

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64: return 8;
    case DType::f32: case DType::i32: return 4;
    case DType::bf16: case DType::f16: return 2;
    case DType::u8: case DType::i8: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    case DType::i32: return "int32";
    case DType::u8: return "uint8";
    case DType::i8: return "int8";
    case DType::f64: return "float64";
  }
  return "unknown";
}

inline bool dtype_is_float(DType t) { return t == DType::f32 || t == DType::bf16 || t == DType::f16 || t == DType::f64; }

}  // namespace lmf
