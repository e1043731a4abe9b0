// Validation helpers shared by the op files.
#pragma once
#include <string>

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

// ---- shared by the fused layer families (activation, norm, rope): their kernels take float32, bfloat16
// and float64, and every other operand matches the input.

inline void check_layer_dtype(const Tensor& t, const char* op, const char* what) {
  LMF_CHECK(t.dtype == DType::f32 || t.dtype == DType::bf16 || t.dtype == DType::f64, dtype, op,
            what << " must be float32, bfloat16 or float64, got " << dtype_name(t.dtype));
}

inline void check_like(const Tensor& t, const Tensor& ref, const char* op, const char* what) {
  check_same_device(t, ref, op);
  LMF_CHECK(t.dtype == ref.dtype, dtype, op,
            what << " has dtype " << dtype_name(t.dtype) << " but the input is " << dtype_name(ref.dtype) << " (convert one with astype)");
}

inline void check_shape_eq(const Shape& got, const Shape& want, const char* op, const char* what) {
  LMF_CHECK(got == want, shape, op, what << " must be " << shape_str(want) << ", got " << shape_str(got));
}

// ---- shared by the optimizer families (optim, adam8bit): operands updated or read in place.

// Every tensor of one call lives on the device of the first parameter (the CPU or the CUDA twin runs them all).
inline void check_contig(const Tensor& t, Device dev, const char* op, const std::string& what) {
  LMF_CHECK(t.device() == dev, device, op,
            what << " is on " << device_name(t.device()) << " but the first parameter is on " << device_name(dev)
                 << " (move parameters, gradients and optimizer state to one device)");
  LMF_CHECK(t.is_contiguous(), value, op, what << " must be contiguous");
}

inline void check_state(const Tensor& s, Device dev, DType dt, int64_t n, const char* op, const std::string& what) {
  check_contig(s, dev, op, what);
  LMF_CHECK(s.dtype == dt, dtype, op, what << " must be " << dtype_name(dt) << ", got " << dtype_name(s.dtype));
  LMF_CHECK(s.numel() == n, shape, op, what << " has " << s.numel() << " elements, expected " << n);
}

// Indices out of range, found by the kernels that read them (kernels/index_fault.h) rather than by a host
// read before the launch. `key` is a fault word's value: "<what> <value> at <where> <position> is outside
// [0, <bound>)<note>" as a ValueError of `op`.
[[noreturn]] void throw_index_fault(uint64_t key, const char* op, const char* what, const char* where, int64_t bound, const char* note = "");

// CUDA kernels cannot throw, and reading a fault word right after the launch would wait for the device.
// A CUDA op passes the kernel a word from cuda_index_fault_slot (naming what it checks) instead; the
// words are read, and the first fault thrown, by report_cuda_index_faults, which an op calls where it
// waits for the device anyway (crossEntropy's forward reads its loss back: once per training step), and
// by cuda_index_fault_slot itself when every word is in use. Until then a bad index's output is NaN.
uint64_t* cuda_index_fault_slot(const char* op, const char* what, const char* where, int64_t bound);
void report_cuda_index_faults();

}  // namespace lmf::ops
