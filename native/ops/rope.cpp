// The RoPE op (kernels/rope.h); the backward pass is the inverse rotation.
#include "../kernels/rope.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

Tensor rope(const Tensor& x, double base, const std::string& pairing, int64_t offset, int64_t rotary_dims, bool inverse,
           bool in_place) {
  const char* op = inverse ? "rope backward" : "rope";
  check_layer_dtype(x, op, "input");
  LMF_CHECK(x.ndim() == 4, shape, op, "input must have shape [B, H, T, D], got " << shape_str(x.shape));
  LMF_CHECK(pairing == "half" || pairing == "interleaved", value, op, "pairing must be 'half' or 'interleaved', got '" << pairing << "'");
  // The range of positions the kernel takes angles for (lib/ops checks that the offset is an integer >= 0).
  LMF_CHECK(offset >= 0 && offset <= (int64_t(1) << 40), value, op, "offset must be in [0, 2^40], got " << offset);
  const int64_t D = x.shape[3];
  LMF_CHECK(rotary_dims != 0 || D % 2 == 0, shape, op,
            "the head dimension must be even to form pairs, got D = " << D << " in shape " << shape_str(x.shape));
  const int64_t rd = rotary_dims == 0 ? D : rotary_dims;
  LMF_CHECK(rd > 0 && rd <= D && rd % 2 == 0, value, op, "rotary dims must be even and in (0, " << D << "], got " << rd);
  kernels::RopeParams p;
  p.B = x.shape[0], p.H = x.shape[1], p.T = x.shape[2], p.D = D;
  p.rotary_dims = rd;
  p.offset = offset;
  p.base = base;
  p.interleaved = pairing == "interleaved";
  if (x.numel() == 0) return in_place ? x : Tensor::empty(x.shape, x.dtype, x.device(), op);
  if (x.device() == Device::cuda) {  // the CUDA twin: contiguous x and y
    const Tensor c = contiguous(x);
    Tensor y = Tensor::empty(x.shape, x.dtype, x.device(), op);
    LMF_CUDA_TWIN(op, kernels::rope_cuda(y.raw(), c.raw(), x.dtype, p, inverse, cuda_current_stream()));
    if (!in_place) return y;
    copy_into(x, y);
    return x;
  }
  // The CPU kernel reads a strided x in place (unit stride over D; e.g. heads of a fused q/k/v
  // projection) and writes a contiguous y, or x itself.
  if (in_place) LMF_CHECK(!has_internal_overlap(x), value, op, "an in-place rotation needs a tensor without overlapping elements");
  const Tensor c = in_place || D == 1 || x.strides[3] == 1 ? x : contiguous(x);
  Tensor y = in_place ? x : Tensor::empty(x.shape, x.dtype, x.device(), op);
  LMF_CHECK(D == 1 || y.strides[3] == 1, value, op, "an in-place rotation needs a unit stride over the head dimension");
  p.xb = c.strides[0], p.xh = c.strides[1], p.xt = c.strides[2];
  p.yb = y.strides[0], p.yh = y.strides[1], p.yt = y.strides[2];
  p.strided = true;
  kernels::rope_cpu(y.raw(), c.raw(), x.dtype, p, inverse);
  return y;
}

}  // namespace lmf::ops
