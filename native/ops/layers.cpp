#include "layers.h"

#include <cmath>

#include "../kernels/activation.h"
#include "../kernels/norm.h"
#include "../kernels/rope.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {
namespace {

using kernels::ActKind;

ActKind act_kind(const std::string& kind, const char* op) {
  if (kind == "swish") return ActKind::silu;
  for (int k = 0; k < kernels::kNumActKinds; ++k)
    if (kind == kernels::act_name(static_cast<ActKind>(k))) return static_cast<ActKind>(k);
  LMF_THROW(value, op, "unknown activation '" << kind << "' (expected relu, gelu, gelu_erf, silu, swish, glu, geglu, swiglu or reglu)");
}

void check_layer_dtype(const Tensor& t, const char* op, const char* what) {
  LMF_CHECK(t.dtype == DType::f32 || t.dtype == DType::bf16 || t.dtype == DType::f64, dtype, op,
            what << " must be float32, bfloat16 or float64, got " << dtype_name(t.dtype));
}

void check_like(const Tensor& t, const Tensor& ref, const char* op, const char* what) {
  check_same_device(t, ref, op);
  LMF_CHECK(t.dtype == ref.dtype, dtype, op,
            what << " has dtype " << dtype_name(t.dtype) << " but the input is " << dtype_name(ref.dtype) << " (convert one with astype)");
}

void check_shape_eq(const Shape& got, const Shape& want, const char* op, const char* what) {
  LMF_CHECK(got == want, shape, op, what << " must have shape " << shape_str(want) << ", got " << shape_str(got));
}

Shape lead_shape(const Tensor& x) { return Shape(x.shape.begin(), x.shape.end() - 1); }

DType stats_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

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

namespace {

NormResult norm_forward(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* residual, double eps, bool rms) {
  const char* op = rms ? "rmsNorm" : "layerNorm";
  check_layer_dtype(x, op, "input");
  LMF_CHECK(x.ndim() >= 1, shape, op, "input must have at least 1 dimension, got a scalar");
  const int64_t D = x.shape.back();
  LMF_CHECK(D > 0, shape, op, "the normalised (last) dimension is empty in shape " << shape_str(x.shape));
  LMF_CHECK(std::isfinite(eps) && eps >= 0, value, op, "eps must be a finite number >= 0, got " << eps);
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

Tensor rope(const Tensor& x, double base, const std::string& pairing, int64_t offset, int64_t rotary_dims, bool inverse) {
  const char* op = inverse ? "rope backward" : "rope";
  check_layer_dtype(x, op, "input");
  LMF_CHECK(x.ndim() == 4, shape, op, "input must have shape [B, H, T, D], got " << shape_str(x.shape));
  LMF_CHECK(pairing == "half" || pairing == "interleaved", value, op, "pairing must be 'half' or 'interleaved', got '" << pairing << "'");
  LMF_CHECK(std::isfinite(base) && base > 0, value, op, "base must be a finite number > 0, got " << base);
  LMF_CHECK(offset >= 0 && offset <= (int64_t(1) << 40), value, op, "offset must be >= 0, got " << offset);
  const int64_t D = x.shape[3];
  const int64_t rd = rotary_dims == 0 ? D : rotary_dims;
  LMF_CHECK(rd > 0 && rd <= D && rd % 2 == 0, value, op,
            "rotary dims must be even and in (0, " << D << "], got " << rd << (rotary_dims == 0 ? " (the head dim D)" : ""));
  const Tensor c = contiguous(x);
  Tensor y = Tensor::empty(x.shape, x.dtype, x.device(), op);
  kernels::RopeParams p;
  p.B = x.shape[0], p.H = x.shape[1], p.T = x.shape[2], p.D = D;
  p.rotary_dims = rd;
  p.offset = offset;
  p.base = base;
  p.interleaved = pairing == "interleaved";
  if (y.numel() > 0 && x.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::rope_cuda(y.raw(), c.raw(), x.dtype, p, inverse, cuda_current_stream()));
  else if (y.numel() > 0)
    kernels::rope_cpu(y.raw(), c.raw(), x.dtype, p, inverse);
  return y;
}

}  // namespace lmf::ops
