// Validation helpers shared by the op files.
#pragma once
#include "../core/error.h"
#include "../core/tensor.h"

namespace lmf::ops {

// For an op whose kernel has a CPU twin only. Every kernel family has its CUDA twin now (compiled where nvcc
// is found; they have not yet run on a GPU), so no op calls this today. A CUDA tensor cannot be created in a
// build without CUDA, so the message names the missing piece either way.
inline void check_cpu(const Tensor& t, const char* op) {
  LMF_CHECK(t.device() == Device::cpu, device, op, "no CUDA kernel for this op yet (tensor is on " << device_name(t.device()) << ")");
}

inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  LMF_CHECK(a.device() == b.device(), device, op,
            "tensors are on different devices: " << device_name(a.device()) << " and " << device_name(b.device()));
}

inline void check_float(const Tensor& t, const char* op, const char* what = "input") {
  LMF_CHECK(dtype_is_float(t.dtype), dtype, op,
            what << " must be float32, bfloat16, float16 or float64, got " << dtype_name(t.dtype));
}

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  LMF_CHECK(a.dtype == b.dtype, dtype, op,
            "dtypes differ: " << dtype_name(a.dtype) << " and " << dtype_name(b.dtype) << " (convert one with astype)");
}

}  // namespace lmf::ops
