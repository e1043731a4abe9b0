// Fused activations, forward and backward, one pass each way over contiguous data.
//
// Plain:  relu, gelu_tanh, gelu_erf, silu (= swish with beta 1): y = act(x), same shape.
// Gated:  glu (sigmoid), geglu (exact gelu, the erf form, as in the GLU-variants paper), swiglu (silu),
//         reglu (relu).
//         x has shape [..., 2h] and y [..., h]: y = act(x[..., :h]) * x[..., h:].
//         The FIRST half goes through the activation; the SECOND half is the linear gate. This is the
//         convention lmforge uses everywhere (an up-projection to 2h whose first h columns are activated).
//
// Arithmetic: fp32 and bf16 data compute in fp32 (bf16 is loaded exactly, stored rounded to nearest even);
// float64 data computes in double with the C library's exp/tanh/erf (the gradcheck path).
// The fp32 path uses the vector-friendly approximations of simd.h (vmath), so that the loops vectorise:
//   exp:  Cody-Waite range reduction + the Cephes degree-6 polynomial, max error about 1.5 ulp on
//         [-87, 88]; below -87.3 it returns 0 (the true value is a denormal under 1.2e-38).
//   sigmoid(x) = 1 / (1 + exp(-x)): about 2 ulp; gelu_tanh uses the identity 0.5 (1 + tanh u) = sigmoid(2u),
//         so no tanh is needed and small |x| keep full relative precision.
//   erf:  Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), so gelu_erf is within about
//         1.5e-7 * |x| / 2 of the exact value (relative error ~2e-7 where gelu is not tiny).
// Each SIMD tier (AVX-512, AVX2+FMA, portable) compiles the same loops under a target attribute and is
// picked at run time with simd.h's pick_tier; the library itself is built without -march.
#pragma once
#include <cstdint>
#include <cstring>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

enum class ActKind : int32_t { relu = 0, gelu_tanh, gelu_erf, silu, glu, geglu, swiglu, reglu };
constexpr int kNumActKinds = 8;
// The user-facing names: "relu", "gelu" (tanh), "gelu_erf", "silu", "glu", "geglu", "swiglu", "reglu".
const char* act_name(ActKind k);
constexpr bool act_is_gated(ActKind k) { return static_cast<int>(k) >= static_cast<int>(ActKind::glu); }

// y[rows, n] = act(x[rows, n]) for the plain kinds;
// y[rows, h] = act(x[rows, 0:h]) * x[rows, h:2h] for the gated kinds (x is [rows, 2h]).
void activation_forward_cpu(void* y, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n_or_h);
// dx from dy for the same shapes (dx has x's shape).
void activation_backward_cpu(void* dx, const void* dy, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n_or_h);
// CUDA twins (activation_cuda.cu), device pointers; float16 works too (the op layer refuses it for parity).
void activation_forward_cuda(void* y, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n_or_h, cuda_stream stream);
void activation_backward_cuda(void* dx, const void* dy, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n_or_h,
                              cuda_stream stream);




}  // namespace lmf::kernels
