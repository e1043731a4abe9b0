#include <cmath>
#include <limits>
#include <vector>

#include "../kernels/index_fault.h"
#include "../kernels/softmax_xent.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

Tensor softmax(const Tensor& t, int64_t dim, bool log) {
  const char* op = log ? "logSoftmax" : "softmax";
  check_float(t, op);
  LMF_CHECK(t.ndim() >= 1, shape, op, "input must have at least 1 dimension");
  const int d = norm_dim(dim, t.shape.size(), op);
  const Tensor c = contiguous(t);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= t.shape[i];
  for (int i = d + 1; i < t.ndim(); ++i) inner *= t.shape[i];
  Tensor out = Tensor::empty(t.shape, t.dtype, t.device(), op);
  if (out.numel() > 0 && t.device() == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::softmax_forward_cuda(out.raw(), c.raw(), t.dtype, outer, t.shape[d], inner, log, cuda_current_stream()));
  else if (out.numel() > 0)
    kernels::softmax_forward_cpu(out.raw(), c.raw(), t.dtype, outer, t.shape[d], inner, log);
  return out;
}

namespace {

struct XentChecked {
  Tensor x, y;
  int64_t N = 0, V = 0;
};

XentChecked check_xent(const Tensor& logits, const Tensor& target, int64_t ignore_index, const char* op) {
  check_same_device(logits, target, op);
  check_float(logits, op, "logits");
  LMF_CHECK(target.dtype == DType::i32, dtype, op, "targets must be int32, got " << dtype_name(target.dtype));
  LMF_CHECK(logits.ndim() == 2, shape, op, "logits must have shape [N, V], got " << shape_str(logits.shape));
  XentChecked c;
  c.N = logits.shape[0];
  c.V = logits.shape[1];
  LMF_CHECK(target.ndim() == 1 && target.shape[0] == c.N, shape, op,
            "targets must have shape [" << c.N << "], got " << shape_str(target.shape));
  LMF_CHECK(c.V > 0, shape, op, "logits have no classes");
  LMF_CHECK(ignore_index >= INT32_MIN && ignore_index <= INT32_MAX, value, op, "ignoreIndex out of int32 range");
  c.x = contiguous(logits);
  c.y = contiguous(target);  // range-checked by the kernels as they read it (kernels/index_fault.h)
  return c;
}

kernels::XentParams xent_params(const XentChecked& c, int64_t ignore_index, double z_loss) {
  kernels::XentParams p;
  p.N = c.N;
  p.V = c.V;
  p.ignore_index = static_cast<int32_t>(ignore_index);
  p.z_loss = z_loss;
  return p;
}

DType lse_dtype(DType logits) { return logits == DType::f64 ? DType::f64 : DType::f32; }

}  // namespace

CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, const std::string& reduction,
                                 double z_loss) {
  const char* op = "crossEntropy";
  // zLoss's range is checked by lib/ops/softmax_xent.ts; the reduction is parsed here.
  LMF_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none", value, op,
            "reduction must be 'mean', 'sum' or 'none', got '" << reduction << "'");
  XentChecked c = check_xent(logits, target, ignore_index, op);
  std::vector<double> loss(static_cast<size_t>(c.N)), lse(static_cast<size_t>(c.N));
  const kernels::XentParams p = xent_params(c, ignore_index, z_loss);
  uint64_t status[2] = {kernels::kNoIndexFault, 0};  // first bad target, valid rows
  if (logits.device() == Device::cuda) {
    // Per-row loss and lse are written on the device, then read back: the reductions below are the CPU's.
    const Tensor dloss = Tensor::empty({c.N}, DType::f64, Device::cuda, op), dlse = Tensor::empty({c.N}, DType::f64, Device::cuda, op);
    const Tensor dstatus = from_host(status, sizeof status, {2}, DType::f64, Device::cuda);  // 16 bytes, not doubles
    LMF_CUDA_TWIN(op, kernels::xent_forward_cuda(dloss.data<double>(), dlse.data<double>(), static_cast<uint64_t*>(dstatus.raw()), c.x.raw(),
                                                 c.x.dtype, c.y.data<int32_t>(), p, cuda_current_stream()));
    to_host(dloss, loss.data());
    to_host(dlse, lse.data());
    to_host(dstatus, status);
    // The host has waited for the device: the moment to report what earlier kernels found (an embedding's
    // token ids, in a training step), before this op's own targets.
    report_cuda_index_faults();
  } else {
    kernels::xent_forward_cpu(loss.data(), lse.data(), status, c.x.raw(), c.x.dtype, c.y.data<int32_t>(), p);
  }
  if (status[0] != kernels::kNoIndexFault) throw_index_fault(status[0], op, "target", "row", c.V);
  CrossEntropyResult r;
  r.valid = static_cast<int64_t>(status[1]);
  const Tensor lse64 = from_host(lse.data(), lse.size() * sizeof(double), {c.N}, DType::f64, logits.device());
  r.lse = astype(lse64, lse_dtype(logits.dtype));
  if (reduction == "none") {
    r.loss = astype(from_host(loss.data(), loss.size() * sizeof(double), {c.N}, DType::f64, logits.device()), logits.dtype);
    return r;
  }
  double sum = 0.0;
  for (double l : loss) sum += l;
  // The mean over no valid rows is NaN, as in PyTorch: there is nothing to average.
  const double v = reduction == "sum" ? sum : (r.valid ? sum / static_cast<double>(r.valid) : std::numeric_limits<double>::quiet_NaN());
  r.loss = full({}, logits.dtype, v, logits.device());
  return r;
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& row_grad, int64_t ignore_index,
                              double z_loss) {
  const char* op = "crossEntropy backward";
  XentChecked c = check_xent(logits, target, ignore_index, op);
  LMF_CHECK(lse.ndim() == 1 && lse.shape[0] == c.N && row_grad.ndim() == 1 && row_grad.shape[0] == c.N, shape, op,
            "lse and row gradients must have shape [" << c.N << "], got " << shape_str(lse.shape) << " and " << shape_str(row_grad.shape));
  check_float(lse, op, "lse");
  check_float(row_grad, op, "row gradient");
  const Tensor l64 = contiguous(astype(lse, DType::f64)), g64 = contiguous(astype(row_grad, DType::f64));
  Tensor dx = Tensor::empty(c.x.shape, c.x.dtype, c.x.device(), op);
  const kernels::XentParams p = xent_params(c, ignore_index, z_loss);
  if (dx.device() == Device::cuda) {
    LMF_CUDA_TWIN(op, kernels::xent_backward_cuda(dx.raw(), cuda_index_fault_slot(op, "target", "row", c.V), c.x.raw(), c.x.dtype,
                                                  c.y.data<int32_t>(), l64.data<double>(), g64.data<double>(), p, cuda_current_stream()));
  } else {
    uint64_t fault = kernels::kNoIndexFault;
    kernels::xent_backward_cpu(dx.raw(), &fault, c.x.raw(), c.x.dtype, c.y.data<int32_t>(), l64.data<double>(), g64.data<double>(), p);
    if (fault != kernels::kNoIndexFault) throw_index_fault(fault, op, "target", "row", c.V);
  }
  return dx;
}

}  // namespace lmf::ops
