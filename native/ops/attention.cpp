// The attention op: validation, allocation and dispatch for the fused (flash-style) attention kernels.
#include "../kernels/attention.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {
namespace {

constexpr const char* kOp = "attention";

struct Checked {
  Tensor q, k, v, docs;
  kernels::AttentionParams p;
};

DType lse_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

// The CPU float32/bfloat16 tiles read and write strided operands in place (unit stride over D); the
// float64 path and the CUDA twin take contiguous ones.
bool strided_kernel(const Tensor& q) { return q.device() != Device::cuda && q.dtype != DType::f64; }

// t as the kernel will read it: itself when the kernel takes its strides (D stride 1, or D = 1), else a
// contiguous copy.
Tensor kernel_operand(const Tensor& t, bool strided) {
  if (strided && (t.shape[3] == 1 || t.strides[3] == 1)) return t;
  return contiguous(t);
}

kernels::AttentionStrides strides_of(const Tensor& t) { return {t.strides[0], t.strides[1], t.strides[2]}; }

// A new [B, heads, T, D] tensor laid out like `like`: token-major ([B, T, heads, D] in memory, returned as
// a permuted view) when `like` is (its row stride above its head stride, more than one head and row),
// else contiguous. The v of a fused projection then gives an output whose [B, T, heads * D] view is free.
Tensor empty_like_layout(const Tensor& like, const Shape& shape, DType dtype, bool strided) {
  const bool token_major = strided && shape[1] > 1 && shape[2] > 1 && like.strides[2] > like.strides[1];
  if (!token_major) return Tensor::empty(shape, dtype, like.device(), kOp);
  return permute(Tensor::empty({shape[0], shape[2], shape[1], shape[3]}, dtype, like.device(), kOp), {0, 2, 1, 3});
}

Checked check(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  check_same_device(q, k, kOp);
  check_same_device(q, v, kOp);
  const bool cuda = q.device() == Device::cuda;
  LMF_CHECK(dtype_is_float(q.dtype), dtype, kOp, "q must be float32, bfloat16 or float64, got " << dtype_name(q.dtype));
  // The CUDA twin adds float16 and drops float64 (gradcheck runs on the CPU).
  LMF_CHECK(cuda || q.dtype != DType::f16, dtype, kOp, "float16 has no CPU attention kernel; use float32 or bfloat16 (astype)");
  LMF_CHECK(!cuda || q.dtype != DType::f64, dtype, kOp, "float64 has no CUDA attention kernel; use float32, bfloat16 or float16");
  LMF_CHECK(k.dtype == q.dtype && v.dtype == q.dtype, dtype, kOp,
            "q, k and v must share a dtype, got " << dtype_name(q.dtype) << ", " << dtype_name(k.dtype) << " and " << dtype_name(v.dtype));
  LMF_CHECK(q.ndim() == 4 && k.ndim() == 4 && v.ndim() == 4, shape, kOp,
            "q, k and v must have shape [B, H, T, D], got " << shape_str(q.shape) << ", " << shape_str(k.shape) << " and " << shape_str(v.shape));
  LMF_CHECK(k.shape == v.shape, shape, kOp, "k and v must have the same shape, got " << shape_str(k.shape) << " and " << shape_str(v.shape));
  const int64_t B = q.shape[0], H = q.shape[1], Tq = q.shape[2], D = q.shape[3];
  const int64_t Hkv = k.shape[1], Tk = k.shape[2];
  LMF_CHECK(k.shape[0] == B, shape, kOp, "batch sizes differ: q " << shape_str(q.shape) << ", k " << shape_str(k.shape));
  LMF_CHECK(k.shape[3] == D, shape, kOp, "head dims differ: q " << shape_str(q.shape) << ", k " << shape_str(k.shape));
  LMF_CHECK(D >= 1, shape, kOp, "head dim must be at least 1, got q " << shape_str(q.shape));
  LMF_CHECK(!cuda || D <= kernels::kAttentionCudaMaxD, shape, kOp,
            "head dim " << D << " is too large for the CUDA kernels (at most " << kernels::kAttentionCudaMaxD << "), got q "
                        << shape_str(q.shape));
  LMF_CHECK(Hkv >= 1 && H % Hkv == 0, shape, kOp,
            "query heads (" << H << ") must be a multiple of key/value heads (" << Hkv << ")");
  LMF_CHECK(Tq <= Tk, shape, kOp, "more queries than keys: Tq = " << Tq << " > Tk = " << Tk << " (queries are the last Tq positions)");
  // scale and the slopes' values are options, checked by lib/ops (attention.ts); their count is a shape.
  if (!o.slopes.empty()) {
    LMF_CHECK(static_cast<int64_t>(o.slopes.size()) == H, value, kOp,
              "expected " << H << " ALiBi slopes in alibiSlopes (one per query head), got " << o.slopes.size());
    LMF_CHECK(!cuda || H <= kernels::kAttentionCudaMaxSlopes, value, kOp,
              "ALiBi on CUDA supports at most " << kernels::kAttentionCudaMaxSlopes << " query heads, got " << H);
  }
  Checked c;
  if (o.doc_ids) {
    const Tensor& d = *o.doc_ids;
    check_same_device(q, d, kOp);
    LMF_CHECK(d.dtype == DType::i32, dtype, kOp, "docIds must be int32, got " << dtype_name(d.dtype));
    LMF_CHECK(d.ndim() == 2 && d.shape[0] == B && d.shape[1] == Tk, shape, kOp,
              "docIds must have shape [" << B << ", " << Tk << "] (batch, keys), got " << shape_str(d.shape));
    c.docs = contiguous(d);
  }
  const bool strided = strided_kernel(q);
  c.q = kernel_operand(q, strided);
  c.k = kernel_operand(k, strided);
  c.v = kernel_operand(v, strided);
  kernels::AttentionParams& p = c.p;
  p.strided = strided;
  p.sq = strides_of(c.q);
  p.sk = strides_of(c.k);
  p.sv = strides_of(c.v);
  p.B = B;
  p.H = H;
  p.Hkv = Hkv;
  p.Tq = Tq;
  p.Tk = Tk;
  p.D = D;
  p.dtype = q.dtype;
  p.scale = o.scale;
  p.causal = o.causal;
  p.slopes = o.slopes.empty() ? nullptr : o.slopes.data();
  p.doc_ids = o.doc_ids ? c.docs.data<int32_t>() : nullptr;
  return c;
}

}  // namespace

AttentionResult attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  Checked c = check(q, k, v, o);
  const kernels::AttentionParams& p = c.p;
  AttentionResult r;
  const bool strided = strided_kernel(q);
  r.out = empty_like_layout(c.v, q.shape, q.dtype, strided);
  c.p.so = strides_of(r.out);
  r.lse = Tensor::empty({p.B, p.H, p.Tq}, lse_dtype(q.dtype), q.device(), kOp);
  if (q.device() == Device::cuda)
    LMF_CUDA_TWIN(kOp, kernels::attention_forward_cuda(r.out.raw(), r.lse.raw(), c.q.raw(), c.k.raw(), c.v.raw(), p,
                                                       cuda_current_stream()));
  else
    kernels::attention_forward_cpu(r.out.raw(), r.lse.raw(), c.q.raw(), c.k.raw(), c.v.raw(), p);
  return r;
}

AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                  const Tensor& lse, const AttentionOptions& o, bool packed) {
  Checked c = check(q, k, v, o);
  const kernels::AttentionParams& p = c.p;
  check_same_device(q, dout, kOp);
  check_same_device(q, out, kOp);
  check_same_device(q, lse, kOp);
  LMF_CHECK(dout.dtype == q.dtype && out.dtype == q.dtype, dtype, kOp,
            "gradient and output must have q's dtype " << dtype_name(q.dtype) << ", got " << dtype_name(dout.dtype) << " and "
                                                        << dtype_name(out.dtype));
  LMF_CHECK(dout.shape == q.shape && out.shape == q.shape, shape, kOp,
            "gradient and output must have q's shape " << shape_str(q.shape) << ", got " << shape_str(dout.shape) << " and "
                                                        << shape_str(out.shape));
  LMF_CHECK(lse.dtype == lse_dtype(q.dtype), dtype, kOp,
            "lse must be " << dtype_name(lse_dtype(q.dtype)) << ", got " << dtype_name(lse.dtype));
  const Shape lse_shape{p.B, p.H, p.Tq};
  LMF_CHECK(lse.shape == lse_shape, shape, kOp, "lse must have shape " << shape_str(lse_shape) << ", got " << shape_str(lse.shape));
  const bool strided = strided_kernel(q);
  const Tensor g = kernel_operand(dout, strided), oc = kernel_operand(out, strided), lc = contiguous(lse);
  c.p.sg = strides_of(g);
  c.p.so = strides_of(oc);
  AttentionGrads r;
  if (packed) {
    // One [B, T, H + 2 Hkv, D] buffer that the kernel fills completely: dq, dk and dv are views of it.
    LMF_CHECK(p.Tq == p.Tk, shape, kOp, "packed gradients need as many queries as keys, got Tq = " << p.Tq << ", Tk = " << p.Tk);
    r.packed = Tensor::empty({p.B, p.Tq, p.H + 2 * p.Hkv, p.D}, q.dtype, q.device(), kOp);
    auto part = [&](int64_t first, int64_t n) { return permute(slice(r.packed, 2, first, first + n, 1), {0, 2, 1, 3}); };
    r.dq = part(0, p.H);
    r.dk = part(p.H, p.Hkv);
    r.dv = part(p.H + p.Hkv, p.Hkv);
  } else {
    r.dq = empty_like_layout(c.q, q.shape, q.dtype, strided);
    r.dk = empty_like_layout(c.k, k.shape, k.dtype, strided);
    r.dv = empty_like_layout(c.v, v.shape, v.dtype, strided);
  }
  // The kernels without strides write contiguous gradients, copied into the views afterwards.
  const bool direct = strided || (r.dq.is_contiguous() && r.dk.is_contiguous() && r.dv.is_contiguous());
  AttentionGrads out_grads = r;
  if (!direct) {
    r.dq = Tensor::empty(q.shape, q.dtype, q.device(), kOp);
    r.dk = Tensor::empty(k.shape, k.dtype, k.device(), kOp);
    r.dv = Tensor::empty(v.shape, v.dtype, v.device(), kOp);
  }
  c.p.sdq = strides_of(r.dq);
  c.p.sdk = strides_of(r.dk);
  c.p.sdv = strides_of(r.dv);
  const bool cuda = q.device() == Device::cuda;
  const int64_t ws_floats = cuda ? kernels::attention_backward_workspace_cuda(p) : kernels::attention_backward_workspace(p);
  Tensor ws;
  if (ws_floats > 0) ws = Tensor::empty({ws_floats}, DType::f32, q.device(), kOp);
  if (cuda) {
    LMF_CUDA_TWIN(kOp, kernels::attention_backward_cuda(r.dq.raw(), r.dk.raw(), r.dv.raw(), g.raw(), c.q.raw(), c.k.raw(), c.v.raw(),
                                                        oc.raw(), lc.raw(), ws_floats > 0 ? ws.data<float>() : nullptr, p,
                                                        cuda_current_stream()));
  } else {
    kernels::attention_backward_cpu(r.dq.raw(), r.dk.raw(), r.dv.raw(), g.raw(), c.q.raw(), c.k.raw(), c.v.raw(), oc.raw(), lc.raw(),
                                    ws_floats > 0 ? ws.data<float>() : nullptr, p);
  }
  if (direct) return r;
  copy_into(out_grads.dq, r.dq);
  copy_into(out_grads.dk, r.dk);
  copy_into(out_grads.dv, r.dv);
  return out_grads;
}

}  // namespace lmf::ops
