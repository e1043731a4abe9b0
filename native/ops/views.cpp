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

namespace {

// The bytes [lo, hi) that a view with elements can touch.
struct Span {
  uintptr_t lo, hi;
};

Span span_of(const Tensor& t) {
  int64_t lo = t.offset, hi = t.offset;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    const int64_t reach = t.strides[d] * (t.shape[d] - 1);
    (reach < 0 ? lo : hi) += reach;
  }
  const auto base = reinterpret_cast<uintptr_t>(t.storage->data());
  const auto es = static_cast<int64_t>(t.elem_size());
  return {base + static_cast<uintptr_t>(lo * es), base + static_cast<uintptr_t>((hi + 1) * es)};
}

// The strided walk itself: no overlap handling.
void copy_elements(const Tensor& dst, const Tensor& src) {
  const Shape bs = broadcast_strides(src.shape, src.strides, dst.shape);
  const Shape* st[2] = {&dst.strides, &bs};
  const kernels::StridedLoop loop = kernels::make_loop(dst.shape, st, 2);
  if (dst.device() == Device::cuda)
    LMF_CUDA_TWIN("copy", kernels::copy_cuda(dst.raw(), dst.dtype, src.raw(), src.dtype, loop, cuda_current_stream()));
  else kernels::copy_cpu(dst.raw(), dst.dtype, src.raw(), src.dtype, loop);
}

}  // namespace

bool has_internal_overlap(const Tensor& t) {
  // Sorted by stride, a view is one-to-one when each stride steps past everything the smaller strides
  // reach. That is exact for what reshape, permute, slice and expand make (expand's zero strides fail it).
  std::vector<std::pair<int64_t, int64_t>> dims;  // (|stride|, size) of dims of size > 1
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] == 0) return false;
    if (t.shape[d] > 1) dims.emplace_back(t.strides[d] < 0 ? -t.strides[d] : t.strides[d], t.shape[d]);
  }
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;  // the largest offset the smaller strides reach
  for (const auto& [stride, size] : dims) {
    if (stride <= reach) return true;
    reach += stride * (size - 1);
  }
  return false;
}

bool may_overlap(const Tensor& a, const Tensor& b) {
  if (a.storage != b.storage || a.numel() == 0 || b.numel() == 0) return false;
  const Span x = span_of(a), y = span_of(b);
  return x.lo < y.hi && y.lo < x.hi;
}

void check_no_alias(const std::vector<InPlaceArg>& args, const char* op) {
  // Sorted by storage and first byte, each operand only needs comparing with those that start before it ends.
  std::vector<std::pair<Span, size_t>> spans;
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].t->numel() > 0) spans.push_back({span_of(*args[i].t), i});
  std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) { return a.first.lo < b.first.lo; });
  for (size_t i = 0; i < spans.size(); ++i) {
    for (size_t j = i + 1; j < spans.size() && spans[j].first.lo < spans[i].first.hi; ++j) {
      const InPlaceArg &a = args[spans[i].second], &b = args[spans[j].second];
      if ((!a.written && !b.written) || a.t->storage != b.t->storage) continue;
      const InPlaceArg& first = spans[i].second < spans[j].second ? a : b;
      const InPlaceArg& second = spans[i].second < spans[j].second ? b : a;
      LMF_THROW(value, op, second.what << " and " << first.what << " share memory: an in-place update would write it twice "
                                        "(give each tensor once, with memory of its own)");
    }
  }
}

void copy_into(const Tensor& dst, const Tensor& src) {
  check_same_device(dst, src, "copy");
  LMF_CHECK(broadcast_shapes(dst.shape, src.shape, "copy") == dst.shape, shape, "copy",
            "cannot copy " << shape_str(src.shape) << " into " << shape_str(dst.shape));
  // PyTorch refuses this too: which source element would an address written twice keep?
  LMF_CHECK(!has_internal_overlap(dst), value, "copy",
            "the destination " << shape_str(dst.shape) << " (strides " << shape_str(dst.strides)
                               << ") has elements that overlap in memory, as an expand()ed view does; copy into a tensor of its own");
  if (may_overlap(dst, src)) {
    if (dst.offset == src.offset && dst.dtype == src.dtype && dst.shape == src.shape && dst.strides == src.strides) return;
    // Reading elements the same walk has already written would copy the new values: go through a temporary.
    Tensor tmp = Tensor::empty(src.shape, src.dtype, src.device(), "copy");
    copy_elements(tmp, src);
    copy_elements(dst, tmp);
    return;
  }
  copy_elements(dst, src);
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
