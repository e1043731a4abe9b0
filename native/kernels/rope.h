// Rotary position embedding (Su et al., "RoFormer", 2021) on x of shape [B, H, T, D].
//
// Position of row t is offset + t. With d = rotary_dims (<= D, even; default D) and i in [0, d/2):
//   theta_i = base^(-2i / d),  angle = (offset + t) * theta_i
//   pairing 'half' (GPT-NeoX, default):   the pair is (i, i + d/2)
//   pairing 'interleaved' (GPT-J, Meta):  the pair is (2i, 2i + 1)
//   (y_a, y_b) = (x_a cos - x_b sin, x_a sin + x_b cos); dims d..D-1 pass through unchanged.
// Backward is the same rotation by -angle (a rotation's transpose is its inverse).
//
// Angles are computed in double (theta_i by pow, the product by the exact integer position), and cos/sin
// in double, rounded to the compute type (float for fp32/bf16, double for float64) into a [T, d/2] table.
// The last few tables are cached by (T, offset, d, base, compute type), so a training step that applies
// RoPE to q and k of every layer builds it once.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

struct RopeParams {
  int64_t B = 0, H = 0, T = 0, D = 0;
  // strided: x and y have the element strides below over batch, head and row (the D stride is 1); the CPU
  // kernel honours them, the CUDA twin takes contiguous x and y. Not strided: both contiguous.
  bool strided = false;
  int64_t xb = 0, xh = 0, xt = 0, yb = 0, yh = 0, yt = 0;
  int64_t rotary_dims = 0;  // 0 < rotary_dims <= D, even
  int64_t offset = 0;
  double base = 10000.0;
  bool interleaved = false;
};

// y = rope(x) (inverse = false) or rope^-1 applied to a gradient (inverse = true); y may equal x.
void rope_cpu(void* y, const void* x, DType dtype, const RopeParams& p, bool inverse);
// CUDA twin (rope_cuda.cu), device pointers; the table is rebuilt per call (a small kernel).
void rope_cuda(void* y, const void* x, DType dtype, const RopeParams& p, bool inverse, cuda_stream stream);

}  // namespace lmf::kernels
