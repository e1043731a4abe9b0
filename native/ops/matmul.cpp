#include "../kernels/matmul.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {
namespace {

struct Operand {
  Tensor t;          // a view with shape [batch..., rows, cols]
  int64_t bs = 0;    // batch stride after collapsing
};

// Makes t's leading dims read as `batch` with one stride (0 when broadcast), copying if needed.
Operand batch_view(const Tensor& t, const Shape& batch) {
  const size_t nb = t.shape.size() - 2;
  const Shape tb(t.shape.begin(), t.shape.begin() + nb), ts(t.strides.begin(), t.strides.begin() + nb);
  Shape st = broadcast_strides(tb, ts, batch);
  int64_t total = numel_of(batch);
  bool all_zero = true, chain = true;
  for (int64_t s : st) all_zero = all_zero && s == 0;
  for (size_t i = 0; i + 1 < batch.size(); ++i)
    if (batch[i] > 1 && st[i] != st[i + 1] * batch[i + 1]) chain = false;
  Operand o;
  if (total <= 1 || all_zero) {
    o.t = t;
    o.bs = 0;
    return o;
  }
  if (chain) {
    o.t = t;
    o.bs = st.empty() ? 0 : st.back();
    return o;
  }
  Shape full = batch;
  full.push_back(t.shape[nb]);
  full.push_back(t.shape[nb + 1]);
  o.t = contiguous(expand(t, full));
  o.bs = t.shape[nb] * t.shape[nb + 1];
  return o;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in, const Tensor* bias, const Tensor* residual) {
  const char* op = "matmul";
  check_same_device(a_in, b_in, op);
  check_float(a_in, op, "a");
  check_same_dtype(a_in, b_in, op);
  LMF_CHECK(a_in.ndim() >= 1 && b_in.ndim() >= 1, shape, op,
            "operands must have at least 1 dimension, got " << shape_str(a_in.shape) << " and " << shape_str(b_in.shape));
  Tensor a = a_in, b = b_in;
  const bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  if (a_vec) a = reshape(a, {1, a.shape[0]});
  if (b_vec) b = reshape(b, {b.shape[0], 1});
  const int64_t M = a.shape[a.ndim() - 2], K = a.shape[a.ndim() - 1];
  const int64_t K2 = b.shape[b.ndim() - 2], N = b.shape[b.ndim() - 1];
  LMF_CHECK(K == K2, shape, op,
            "inner dimensions differ: " << shape_str(a_in.shape) << " @ " << shape_str(b_in.shape) << " (" << K << " vs " << K2 << ")");
  const Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  const Shape batch = broadcast_shapes(ba, bb, op);
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, a.dtype, a.device(), op);

  const Operand A = batch_view(a, batch), B = batch_view(b, batch);
  kernels::GemmParams p;
  p.batch = numel_of(batch);
  p.M = M;
  p.N = N;
  p.K = K;
  p.dtype = a.dtype;
  p.a = A.t.raw();
  p.bs_a = A.bs;
  p.rs_a = A.t.strides[A.t.ndim() - 2];
  p.cs_a = A.t.strides[A.t.ndim() - 1];
  p.b = B.t.raw();
  p.bs_b = B.bs;
  p.rs_b = B.t.strides[B.t.ndim() - 2];
  p.cs_b = B.t.strides[B.t.ndim() - 1];
  p.c = out.raw();
  p.bs_c = M * N;
  p.rs_c = N;

  Tensor bias_c, res_c;
  if (bias) {
    check_same_device(a, *bias, op);
    check_same_dtype(a, *bias, op);
    LMF_CHECK(bias->ndim() == 1 && bias->shape[0] == N, shape, op,
              "bias must have shape [" << N << "], got " << shape_str(bias->shape));
    bias_c = contiguous(*bias);
    p.bias = bias_c.raw();
  }
  if (residual) {
    check_same_device(a, *residual, op);
    check_same_dtype(a, *residual, op);
    LMF_CHECK(residual->shape == out_shape, shape, op,
              "residual must have the output's shape " << shape_str(out_shape) << ", got " << shape_str(residual->shape));
    res_c = contiguous(*residual);
    p.residual = res_c.raw();
    p.bs_r = M * N;
    p.rs_r = N;
  }
  if (out.numel() > 0 && out.device() == Device::cuda) {
    LMF_CUDA_TWIN(op, kernels::matmul_forward_cuda(p, cuda_current_stream()));  // float64 included
  } else if (out.numel() > 0) {
    if (p.dtype == DType::f64) kernels::matmul_f64_cpu(p);
    else kernels::matmul_forward_cpu(p);
  }
  return out;
}

}  // namespace lmf::ops
