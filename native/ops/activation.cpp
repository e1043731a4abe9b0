// The activation op (kernels/activation.h): plain and gated kinds, forward and backward.
#include <utility>

#include "../kernels/activation.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {
namespace {

using kernels::ActKind;

// The names lib/ops speaks (ActivationKind, GatedKind), one meaning each: gelu is the exact (erf) form.
ActKind act_kind(const std::string& kind, const char* op) {
  static const std::pair<const char*, ActKind> kNames[] = {
      {"relu", ActKind::relu},   {"gelu", ActKind::gelu_erf},  {"swish", ActKind::silu}, {"glu", ActKind::glu},
      {"geglu", ActKind::geglu}, {"swiglu", ActKind::swiglu}, {"reglu", ActKind::reglu},
  };
  for (const auto& [name, k] : kNames)
    if (kind == name) return k;
  LMF_THROW(value, op, "unknown activation '" << kind << "' (expected relu, gelu, swish, glu, geglu, swiglu or reglu)");
}

}  // namespace

// Errors name `op`, the function the user called (activation, gatedActivation, ...), and the kind as given,
// never the kernel's own name (lmforge's gelu runs the gelu_erf kernel, swish the silu one).
Tensor activation(const Tensor& x, const std::string& kind, const char* op) {
  const ActKind k = act_kind(kind, op);
  const bool gated = kernels::act_is_gated(k);
  check_layer_dtype(x, op, "input");
  // A plain activation is elementwise, so a 0-d tensor is one row of one element, as for relu().
  LMF_CHECK(!gated || x.ndim() >= 1, shape, op, kind << " needs at least 1 dimension (2 * h: activated half, then gate half), got a scalar");
  const int64_t last = x.ndim() ? x.shape.back() : 1;
  Shape out_shape = x.shape;
  if (gated) {
    LMF_CHECK(last % 2 == 0, shape, op, "the last dimension must be even for " << kind << " (2 * h: activated half, then gate half), got "
                                          << last << " in shape " << shape_str(x.shape));
    out_shape.back() = last / 2;
  }
  const Tensor c = contiguous(x);
  Tensor y = Tensor::empty(out_shape, x.dtype, x.device(), op);
  const int64_t n = gated ? out_shape.back() : last;
  const int64_t rows = n ? c.numel() / (gated ? 2 * n : n) : 0;
  if (y.numel() > 0 && x.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::activation_forward_cuda(y.raw(), c.raw(), x.dtype, k, rows, n, cuda_current_stream()));
  else if (y.numel() > 0)
    kernels::activation_forward_cpu(y.raw(), c.raw(), x.dtype, k, rows, n);
  return y;
}

Tensor activation_backward(const Tensor& dy, const Tensor& x, const std::string& kind, const char* op_name) {
  const std::string ops = std::string(op_name) + " backward";
  const char* op = ops.c_str();
  const ActKind k = act_kind(kind, op);
  const bool gated = kernels::act_is_gated(k);
  check_layer_dtype(x, op, "input");
  check_like(dy, x, op, "gradient");
  LMF_CHECK(!gated || x.ndim() >= 1, shape, op, kind << " needs at least 1 dimension, got a scalar");
  const int64_t last = x.ndim() ? x.shape.back() : 1;
  Shape out_shape = x.shape;
  if (gated) {
    LMF_CHECK(last % 2 == 0, shape, op, "the last dimension must be even for " << kind << ", got " << last);
    out_shape.back() /= 2;
  }
  check_shape_eq(dy.shape, out_shape, op, "gradient");
  const Tensor cx = contiguous(x), cg = contiguous(dy);
  Tensor dx = Tensor::empty(x.shape, x.dtype, x.device(), op);
  const int64_t n = gated ? out_shape.back() : last;
  const int64_t rows = n ? cx.numel() / (gated ? 2 * n : n) : 0;
  if (dx.numel() > 0 && x.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::activation_backward_cuda(dx.raw(), cg.raw(), cx.raw(), x.dtype, k, rows, n, cuda_current_stream()));
  else if (dx.numel() > 0)
    kernels::activation_backward_cpu(dx.raw(), cg.raw(), cx.raw(), x.dtype, k, rows, n);
  return dx;
}

}  // namespace lmf::ops
