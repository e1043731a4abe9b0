#include <algorithm>

#include "../kernels/elementwise.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

using kernels::ReduceOp;

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::mean: return "mean";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
    case ReduceOp::argmax: return "argmax";
    case ReduceOp::argmin: return "argmin";
  }
  return "reduce";
}

// An empty dims list reduces over every dimension.
Tensor reduce(const Tensor& t, std::vector<int64_t> dims, bool keepdim, ReduceOp op) {
  const char* name = reduce_name(op);
  check_float(t, name);
  const size_t nd = t.shape.size();
  std::vector<bool> red(nd, dims.empty());
  for (int64_t d : dims) {
    const int k = norm_dim(d, nd, name);
    LMF_CHECK(!red[k], shape, name, "dimension " << d << " repeated");
    red[k] = true;
  }
  // Reduced dims split the kept ones into those before the first reduced dim (outer) and after.
  // Permute to [kept..., reduced...] unless the reduced dims are already one contiguous run.
  std::vector<int64_t> kept, reduced;
  for (size_t i = 0; i < nd; ++i) (red[i] ? reduced : kept).push_back(static_cast<int64_t>(i));
  int64_t n = 1;
  for (int64_t d : reduced) n *= t.shape[d];
  const bool arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
  LMF_CHECK(n > 0 || op == ReduceOp::sum, value, name,
            "cannot reduce over an empty dimension of " << shape_str(t.shape));
  LMF_CHECK(!arg || n <= INT32_MAX, value, name, "index range exceeds int32");

  Shape out_shape;
  for (size_t i = 0; i < nd; ++i) {
    if (!red[i]) out_shape.push_back(t.shape[i]);
    else if (keepdim) out_shape.push_back(1);
  }
  Tensor out = Tensor::empty(out_shape, arg ? DType::i32 : t.dtype, t.device(), name);
  if (out.numel() == 0) return out;

  const bool run = reduced.empty() || reduced.back() - reduced.front() + 1 == static_cast<int64_t>(reduced.size());
  int64_t outer = 1, inner = 1;
  Tensor src;
  if (run && t.is_contiguous()) {
    for (int64_t i = 0; i < (reduced.empty() ? 0 : reduced.front()); ++i) outer *= t.shape[i];
    for (size_t i = reduced.empty() ? 0 : reduced.back() + 1; i < nd; ++i) inner *= t.shape[i];
    if (reduced.empty()) outer = t.numel();
    src = t;
  } else {
    std::vector<int64_t> perm = kept;
    perm.insert(perm.end(), reduced.begin(), reduced.end());
    src = contiguous(permute(t, perm));
    outer = out.numel();
  }
  if (n == 0) return full(out_shape, out.dtype, 0.0, t.device());
  if (t.device() == Device::cuda)
    LMF_CUDA_TWIN(name, kernels::reduce_cuda(out.raw(), src.raw(), t.dtype, outer, n, inner, op, cuda_current_stream()));
  else kernels::reduce_cpu(out.raw(), src.raw(), t.dtype, outer, n, inner, op);
  return out;
}

}  // namespace lmf::ops
