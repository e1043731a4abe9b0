// LayerNorm and RMSNorm (kernels/norm.h), optionally fused with the residual add, forward and backward.
#include <utility>

#include "../kernels/norm.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {
namespace {

Shape lead_shape(const Tensor& x) { return Shape(x.shape.begin(), x.shape.end() - 1); }

DType stats_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

NormResult norm_forward(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* residual, double eps, bool rms) {
  const char* op = rms ? "rmsNorm" : "layerNorm";
  check_layer_dtype(x, op, "input");
  LMF_CHECK(x.ndim() >= 1, shape, op, "input must have at least 1 dimension, got a scalar");
  const int64_t D = x.shape.back();
  LMF_CHECK(D > 0, shape, op, "the normalised (last) dimension is empty in shape " << shape_str(x.shape));
  check_like(weight, x, op, "weight");
  check_shape_eq(weight.shape, {D}, op, "weight");
  if (bias) {
    check_like(*bias, x, op, "bias");
    check_shape_eq(bias->shape, {D}, op, "bias");
  }
  if (residual) {
    check_like(*residual, x, op, "residual");
    check_shape_eq(residual->shape, x.shape, op, "residual");
  }
  const Tensor cx = contiguous(x), cw = contiguous(weight);
  const Tensor cb = bias ? contiguous(*bias) : Tensor{};
  const Tensor cr = residual ? contiguous(*residual) : Tensor{};
  NormResult res;
  res.y = Tensor::empty(x.shape, x.dtype, x.device(), op);
  const Shape lead = lead_shape(x);
  if (!rms) res.mean = Tensor::empty(lead, stats_dtype(x.dtype), x.device(), op);
  res.rstd = Tensor::empty(lead, stats_dtype(x.dtype), x.device(), op);
  if (residual) res.sum = Tensor::empty(x.shape, x.dtype, x.device(), op);
  kernels::NormParams p;
  p.rows = numel_of(lead);
  p.D = D;
  p.eps = eps;
  p.rms = rms;
  if (p.rows > 0 && x.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::norm_forward_cuda(res.y.raw(), residual ? res.sum->raw() : nullptr, rms ? nullptr : res.mean.raw(), res.rstd.raw(),
                                                 cx.raw(), residual ? cr.raw() : nullptr, cw.raw(), bias ? cb.raw() : nullptr, x.dtype, p,
                                                 cuda_current_stream()));
  else if (p.rows > 0)
    kernels::norm_forward_cpu(res.y.raw(), residual ? res.sum->raw() : nullptr, rms ? nullptr : res.mean.raw(), res.rstd.raw(),
                              cx.raw(), residual ? cr.raw() : nullptr, cw.raw(), bias ? cb.raw() : nullptr, x.dtype, p);
  return res;
}

NormGrads norm_backward(const Tensor& dy, const Tensor* dsum, const Tensor& s, const Tensor& weight, const Tensor* mean,
                        const Tensor& rstd, bool has_bias, bool rms) {
  const char* op = rms ? "rmsNorm backward" : "layerNorm backward";
  check_layer_dtype(s, op, "input");
  LMF_CHECK(s.ndim() >= 1, shape, op, "input must have at least 1 dimension, got a scalar");
  const int64_t D = s.shape.back();
  check_like(dy, s, op, "gradient");
  check_shape_eq(dy.shape, s.shape, op, "gradient");
  if (dsum) {
    check_like(*dsum, s, op, "sum gradient");
    check_shape_eq(dsum->shape, s.shape, op, "sum gradient");
  }
  check_like(weight, s, op, "weight");
  check_shape_eq(weight.shape, {D}, op, "weight");
  const Shape lead = lead_shape(s);
  const DType sd = stats_dtype(s.dtype);
  LMF_CHECK(rstd.dtype == sd && (!mean || mean->dtype == sd), dtype, op, "saved statistics must be " << dtype_name(sd));
  check_shape_eq(rstd.shape, lead, op, "rstd");
  if (mean) check_shape_eq(mean->shape, lead, op, "mean");
  const Tensor cs = contiguous(s), cg = contiguous(dy), cw = contiguous(weight), cr = contiguous(rstd);
  const Tensor cm = mean ? contiguous(*mean) : Tensor{};
  const Tensor cd = dsum ? contiguous(*dsum) : Tensor{};
  NormGrads g;
  g.dx = Tensor::empty(s.shape, s.dtype, s.device(), op);
  g.dw = Tensor::empty({D}, s.dtype, s.device(), op);
  if (has_bias) g.db = Tensor::empty({D}, s.dtype, s.device(), op);
  kernels::NormParams p;
  p.rows = numel_of(lead);
  p.D = D;
  p.rms = rms;
  if (s.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::norm_backward_cuda(g.dx.raw(), g.dw.raw(), has_bias ? g.db->raw() : nullptr, cg.raw(), dsum ? cd.raw() : nullptr,
                                                  cs.raw(), cw.raw(), mean ? cm.raw() : nullptr, cr.raw(), s.dtype, p, cuda_current_stream()));
  else
    kernels::norm_backward_cpu(g.dx.raw(), g.dw.raw(), has_bias ? g.db->raw() : nullptr, cg.raw(), dsum ? cd.raw() : nullptr, cs.raw(),
                               cw.raw(), mean ? cm.raw() : nullptr, cr.raw(), s.dtype, p);
  return g;
}

}  // namespace

NormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* residual, double eps) {
  return norm_forward(x, weight, bias, residual, eps, false);
}
NormResult rms_norm(const Tensor& x, const Tensor& weight, const Tensor* residual, double eps) {
  return norm_forward(x, weight, nullptr, residual, eps, true);
}
NormGrads layer_norm_backward(const Tensor& dy, const Tensor* dsum, const Tensor& s, const Tensor& weight, const Tensor& mean,
                              const Tensor& rstd, bool has_bias) {
  return norm_backward(dy, dsum, s, weight, &mean, rstd, has_bias, false);
}
NormGrads rms_norm_backward(const Tensor& dy, const Tensor* dsum, const Tensor& s, const Tensor& weight, const Tensor& rstd) {
  return norm_backward(dy, dsum, s, weight, nullptr, rstd, false, true);
}

}  // namespace lmf::ops
