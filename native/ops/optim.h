// Optimizer ops: validate the parameter lists and run one fused step over all of them (native/kernels/
// optim.h, quant8.h). Parameters and states are updated in place.
#pragma once
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace lmf::ops {

// One parameter of a step: the parameter, its gradient, the fp32 master copy (bf16 parameters only; null
// otherwise), its state tensors and its hyperparameters (layout per optimizer, see optim.cpp).
struct OptimParam {
  const Tensor* param = nullptr;
  const Tensor* grad = nullptr;
  const Tensor* master = nullptr;
  std::vector<const Tensor*> states;
  std::vector<double> hp;
};

// kind: "sgd", "adam" (Adam/AdamW, fp32 or 8-bit state), "lion", "sophia". With check_finite, a gradient
// holding NaN or Inf leaves everything unchanged and the call returns false.
bool optim_step(const std::string& kind, const std::vector<OptimParam>& ps, bool check_finite);

// The total 2-norm of the gradients (in double); when it is finite and above max_norm, every gradient is
// scaled by max_norm / (norm + 1e-6). A non-finite norm is returned as is, with nothing scaled.
double clip_grad_norm(const std::vector<const Tensor*>& grads, double max_norm);

// h = b2*h + (1-b2)*e for each pair (Sophia's Hessian EMA).
void hessian_ema(const std::vector<const Tensor*>& hs, const std::vector<const Tensor*>& es, const std::vector<double>& b2);

// The 256 codes of the signed or unsigned dynamic map, float32.
Tensor quant8_map(bool is_signed);
// Blockwise (256) quantisation of a float32 tensor: [codes uint8 (x's shape), absmax float32 [ceil(n/256)]].
std::vector<Tensor> quantize8(const Tensor& x, bool is_signed);
Tensor dequantize8(const Tensor& codes, const Tensor& absmax, bool is_signed);

}  // namespace lmf::ops
