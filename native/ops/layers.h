// Ops of the fused layer kernels (activation.h, norm.h, rope.h): validation, allocation, dispatch.
#pragma once
#include <optional>
#include <string>

#include "../core/tensor.h"

namespace lmf::ops {

// kind: relu, gelu (tanh approximation), gelu_erf, silu (alias swish), glu, geglu, swiglu, reglu.
// Gated kinds map [..., 2h] to [..., h]: act(x[..., :h]) * x[..., h:].
// `op` is the public function errors name. Plain kinds take any rank, 0-d included.
Tensor activation(const Tensor& x, const std::string& kind, const char* op = "activation");
// dx (x's shape) from dy (the output's shape).
Tensor activation_backward(const Tensor& dy, const Tensor& x, const std::string& kind, const char* op = "activation");

// y = norm(s) * w (+ b), s = x or x + residual (then `sum` holds s). mean (layernorm) and rstd have
// x's leading shape, float32 (float64 for float64 data).
struct NormResult {
  Tensor y, mean, rstd;
  std::optional<Tensor> sum;
};
NormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* residual, double eps);
NormResult rms_norm(const Tensor& x, const Tensor& weight, const Tensor* residual, double eps);

// Gradients of either norm: dx (also the residual's gradient), dweight, dbias (layernorm with bias only).
// s is the tensor that was normalised (x, or the `sum` output); dsum the gradient reaching `sum`, or null.
struct NormGrads {
  Tensor dx, dw;
  std::optional<Tensor> db;
};
NormGrads layer_norm_backward(const Tensor& dy, const Tensor* dsum, const Tensor& s, const Tensor& weight, const Tensor& mean,
                              const Tensor& rstd, bool has_bias);
NormGrads rms_norm_backward(const Tensor& dy, const Tensor* dsum, const Tensor& s, const Tensor& weight, const Tensor& rstd);

// RoPE on [B, H, T, D]; pairing "half" or "interleaved"; rotary_dims 0 means D. inverse rotates by
// -angle (the backward pass).
Tensor rope(const Tensor& x, double base, const std::string& pairing, int64_t offset, int64_t rotary_dims, bool inverse);

}  // namespace lmf::ops
