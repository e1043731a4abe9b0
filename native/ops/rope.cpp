// The RoPE op (kernels/rope.h); the backward pass is the inverse rotation.
#include "../kernels/rope.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

Tensor rope(const Tensor& x, double base, const std::string& pairing, int64_t offset, int64_t rotary_dims, bool inverse) {
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
