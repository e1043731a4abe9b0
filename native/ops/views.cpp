// Views share storage and change only shape, strides and offset; contiguous/astype/to copy.
#include <algorithm>

#include "../kernels/elementwise.h"
#include "../runtime/cuda_runtime.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

Tensor reshape(const Tensor& t, Shape shape) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      LMF_CHECK(infer < 0, shape, "reshape", "only one dimension may be -1 in " << shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      LMF_CHECK(shape[i] >= 0, shape, "reshape", "invalid size " << shape[i] << " in " << shape_str(shape));
      known *= shape[i];
    }
  }
  const int64_t n = t.numel();
  if (infer >= 0) {
    LMF_CHECK(known > 0 && n % known == 0, shape, "reshape",
              "cannot reshape " << shape_str(t.shape) << " (" << n << " elements) into " << shape_str(shape));
    shape[infer] = n / known;
  }
  LMF_CHECK(checked_numel(shape, "reshape") == n, shape, "reshape",
            "cannot reshape " << shape_str(t.shape) << " (" << n << " elements) into " << shape_str(shape));
  Tensor r = t.is_contiguous() ? t : contiguous(t);
  r.shape = shape;
  r.strides = contiguous_strides(shape);
  return r;
}

Tensor permute(const Tensor& t, const std::vector<int64_t>& dims) {
  LMF_CHECK(dims.size() == t.shape.size(), shape, "permute",
            "expected " << t.ndim() << " dimensions, got " << dims.size());
  std::vector<bool> seen(dims.size(), false);
  Tensor r = t;
  for (size_t i = 0; i < dims.size(); ++i) {
    const int d = norm_dim(dims[i], dims.size(), "permute");
    LMF_CHECK(!seen[d], shape, "permute", "dimension " << dims[i] << " repeated");
    seen[d] = true;
    r.shape[i] = t.shape[d];
    r.strides[i] = t.strides[d];
  }
  return r;
}

Tensor transpose(const Tensor& t, int64_t d0, int64_t d1) {
  const int a = norm_dim(d0, t.shape.size(), "transpose"), b = norm_dim(d1, t.shape.size(), "transpose");
  Tensor r = t;
  std::swap(r.shape[a], r.shape[b]);
  std::swap(r.strides[a], r.strides[b]);
  return r;
}

Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step) {
  const int d = norm_dim(dim, t.shape.size(), "slice");
  LMF_CHECK(step > 0, value, "slice", "step must be positive, got " << step);
  const int64_t n = t.shape[d];
  // Python-style bounds: negative counts from the end, out-of-range clamps.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Tensor r = t;
  r.offset += start * t.strides[d];
  r.shape[d] = (end - start + step - 1) / step;
  r.strides[d] *= step;
  return r;
}

Tensor expand(const Tensor& t, const Shape& shape) {
  LMF_CHECK(shape.size() >= t.shape.size(), shape, "expand",
            "cannot expand " << shape_str(t.shape) << " to fewer dimensions " << shape_str(shape));
  checked_numel(shape, "expand");
  const size_t off = shape.size() - t.shape.size();
  for (size_t i = 0; i < t.shape.size(); ++i)
    LMF_CHECK(t.shape[i] == shape[off + i] || t.shape[i] == 1, shape, "expand",
              "cannot expand " << shape_str(t.shape) << " to " << shape_str(shape));
  Tensor r = t;
  r.strides = broadcast_strides(t.shape, t.strides, shape);
  r.shape = shape;
  return r;
}

void copy_into(const Tensor& dst, const Tensor& src) {
  check_same_device(dst, src, "copy");
  const Shape bs = broadcast_strides(src.shape, src.strides, dst.shape);
  LMF_CHECK(broadcast_shapes(dst.shape, src.shape, "copy") == dst.shape, shape, "copy",
            "cannot copy " << shape_str(src.shape) << " into " << shape_str(dst.shape));
  const Shape* st[2] = {&dst.strides, &bs};
  const kernels::StridedLoop loop = kernels::make_loop(dst.shape, st, 2);
  if (dst.device() == Device::cuda)
    LMF_CUDA_TWIN("copy", kernels::copy_cuda(dst.raw(), dst.dtype, src.raw(), src.dtype, loop, cuda_current_stream()));
  else kernels::copy_cpu(dst.raw(), dst.dtype, src.raw(), src.dtype, loop);
}

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor r = Tensor::empty(t.shape, t.dtype, t.device(), "contiguous");
  copy_into(r, t);
  return r;
}

Tensor astype(const Tensor& t, DType dtype) {
  if (t.dtype == dtype) return t;
  Tensor r = Tensor::empty(t.shape, dtype, t.device(), "astype");
  copy_into(r, t);
  return r;
}

Tensor to_device(const Tensor& t, Device device) {
  if (t.device() == device) return t;
  const Tensor c = contiguous(t);
  Tensor r = Tensor::empty(c.shape, c.dtype, device, "to");
  cuda_copy(r.raw(), c.raw(), static_cast<size_t>(c.numel()) * c.elem_size(), device == Device::cuda ? 0 : 1);
  return r;
}

}  // namespace lmf::ops
