#include <limits>
#include <vector>

#include "../kernels/softmax_xent.h"
#include "checks.h"
#include "ops.h"

namespace lmf::ops {

Tensor softmax(const Tensor& t, int64_t dim, bool log) {
  const char* op = log ? "logSoftmax" : "softmax";
  check_cpu(t, op);
  check_float(t, op);
  LMF_CHECK(t.ndim() >= 1, shape, op, "input must have at least 1 dimension");
  const int d = norm_dim(dim, t.shape.size(), op);
  const Tensor c = contiguous(t);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= t.shape[i];
  for (int i = d + 1; i < t.ndim(); ++i) inner *= t.shape[i];
  Tensor out = Tensor::empty(t.shape, t.dtype, t.device(), op);
  if (out.numel() > 0) kernels::softmax_forward_cpu(out.raw(), c.raw(), t.dtype, outer, t.shape[d], inner, log);
  return out;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, const std::string& reduction) {
  const char* op = "crossEntropy";
  check_same_device(logits, target, op);
  check_cpu(logits, op);
  check_float(logits, op, "logits");
  LMF_CHECK(target.dtype == DType::i32, dtype, op, "targets must be int32, got " << dtype_name(target.dtype));
  LMF_CHECK(logits.ndim() == 2, shape, op, "logits must have shape [N, V], got " << shape_str(logits.shape));
  const int64_t N = logits.shape[0], V = logits.shape[1];
  LMF_CHECK(target.ndim() == 1 && target.shape[0] == N, shape, op,
            "targets must have shape [" << N << "], got " << shape_str(target.shape));
  LMF_CHECK(V > 0, shape, op, "logits have no classes");
  LMF_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none", value, op,
            "reduction must be 'mean', 'sum' or 'none', got '" << reduction << "'");
  LMF_CHECK(ignore_index >= INT32_MIN && ignore_index <= INT32_MAX, value, op, "ignoreIndex out of int32 range");
  const Tensor x = contiguous(logits), y = contiguous(target);
  const int32_t* tg = y.data<int32_t>();
  int64_t valid = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (tg[i] == ignore_index) continue;
    LMF_CHECK(tg[i] >= 0 && tg[i] < V, value, op, "target " << tg[i] << " at row " << i << " is outside [0, " << V << ")");
    ++valid;
  }
  Tensor loss = Tensor::empty({N}, DType::f32, logits.device(), op);
  std::vector<float> lse(static_cast<size_t>(N));
  kernels::XentParams p;
  p.N = N;
  p.V = V;
  p.ignore_index = static_cast<int32_t>(ignore_index);
  kernels::xent_forward_cpu(loss.data<float>(), lse.data(), x.raw(), x.dtype, tg, p);
  if (reduction == "none") return logits.dtype == DType::f32 ? loss : astype(loss, logits.dtype);
  double sum = 0.0;
  const float* l = loss.data<float>();
  for (int64_t i = 0; i < N; ++i) sum += l[i];
  // The mean over no valid rows is NaN, as in PyTorch: there is nothing to average.
  const double v = reduction == "sum" ? sum : (valid ? sum / static_cast<double>(valid) : std::numeric_limits<double>::quiet_NaN());
  return full({}, logits.dtype, v, logits.device());
}

}  // namespace lmf::ops
