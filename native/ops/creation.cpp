#include <algorithm>
#include <cmath>
#include <cstring>

#include "../kernels/elementwise.h"
#include "../runtime/cuda_runtime.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

Tensor full(const Shape& shape, DType dtype, double value, Device device) {
  LMF_CHECK(!std::isnan(value) || dtype_is_float(dtype), value, "full", "NaN cannot be stored in " << dtype_name(dtype));
  Tensor t = Tensor::empty(shape, dtype, device, "full");
  if (device == Device::cuda) LMF_CUDA_TWIN("full", kernels::fill_cuda(t.raw(), dtype, t.numel(), value, cuda_current_stream()));
  else kernels::fill_cpu(t.raw(), dtype, t.numel(), value);
  return t;
}

Tensor arange(double start, double stop, double step, DType dtype, Device device) {
  LMF_CHECK(std::isfinite(start) && std::isfinite(stop) && std::isfinite(step), value, "arange",
            "start, stop and step must be finite, got " << start << ", " << stop << ", " << step);
  LMF_CHECK(step != 0, value, "arange", "step must not be 0");
  const double count = std::ceil((stop - start) / step);
  LMF_CHECK(count < 1e15, memory, "arange", "too many elements: " << count);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  if (!dtype_is_float(dtype) && n > 0) {  // a value outside the integer type would be undefined behaviour
    const double last = start + step * static_cast<double>(n - 1);
    const double lo = dtype == DType::i32 ? -2147483648.0 : dtype == DType::i8 ? -128.0 : 0.0;
    const double hi = dtype == DType::i32 ? 2147483647.0 : dtype == DType::i8 ? 127.0 : 255.0;
    LMF_CHECK(std::min(start, last) > lo - 1 && std::max(start, last) < hi + 1, value, "arange",
              "values from " << start << " to " << last << " do not fit in " << dtype_name(dtype));
  }
  Tensor t = Tensor::empty({n}, dtype, device, "arange");
  if (device == Device::cuda) LMF_CUDA_TWIN("arange", kernels::arange_cuda(t.raw(), dtype, n, start, step, cuda_current_stream()));
  else kernels::arange_cpu(t.raw(), dtype, n, start, step);
  return t;
}

Tensor rand_uniform(const Shape& shape, DType dtype, uint64_t seed, uint64_t offset, double low, double high, Device device) {
  LMF_CHECK(dtype_is_float(dtype), dtype, "rand", "dtype must be a floating-point type, got " << dtype_name(dtype));
  LMF_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high, value, "rand",
            "low and high must be finite with low <= high, got " << low << " and " << high);
  Tensor t = Tensor::empty(shape, dtype, device, "rand");
  if (device == Device::cuda)
    LMF_CUDA_TWIN("rand", kernels::rand_uniform_cuda(t.raw(), dtype, t.numel(), seed, offset, static_cast<float>(low), static_cast<float>(high),
                                                     cuda_current_stream()));
  else kernels::rand_uniform_cpu(t.raw(), dtype, t.numel(), seed, offset, static_cast<float>(low), static_cast<float>(high));
  return t;
}

Tensor rand_normal(const Shape& shape, DType dtype, uint64_t seed, uint64_t offset, double mean, double std, Device device) {
  LMF_CHECK(dtype_is_float(dtype), dtype, "randn", "dtype must be a floating-point type, got " << dtype_name(dtype));
  LMF_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0, value, "randn",
            "mean must be finite and std finite and >= 0, got " << mean << " and " << std);
  Tensor t = Tensor::empty(shape, dtype, device, "randn");
  if (device == Device::cuda)
    LMF_CUDA_TWIN("randn", kernels::rand_normal_cuda(t.raw(), dtype, t.numel(), seed, offset, static_cast<float>(mean), static_cast<float>(std),
                                                     cuda_current_stream()));
  else kernels::rand_normal_cpu(t.raw(), dtype, t.numel(), seed, offset, static_cast<float>(mean), static_cast<float>(std));
  return t;
}

Tensor from_host(const void* data, size_t bytes, const Shape& shape, DType dtype, Device device) {
  const int64_t n = checked_numel(shape, "tensor");
  LMF_CHECK(static_cast<size_t>(n) * dtype_size(dtype) == bytes, shape, "tensor",
            "data holds " << bytes / dtype_size(dtype) << " elements but shape " << shape_str(shape) << " needs " << n);
  Tensor t = Tensor::empty(shape, dtype, device, "tensor");
  if (device == Device::cuda) cuda_copy(t.raw(), data, bytes, 0);
  else if (bytes) std::memcpy(t.raw(), data, bytes);
  return t;
}

void to_host(const Tensor& t, void* dst) {
  const Tensor c = contiguous(t);
  const size_t bytes = static_cast<size_t>(c.numel()) * c.elem_size();
  if (c.device() == Device::cuda) cuda_copy(dst, c.raw(), bytes, 1);
  else if (bytes) std::memcpy(dst, c.raw(), bytes);
}

}  // namespace lmf::ops
