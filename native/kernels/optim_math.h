// Scalar update rules of the optimizers, one element at a time, shared by the CPU loops (which the compiler
// vectorises inside target-attributed drivers) and the CUDA twin (optim_cuda.cu). Every rule is written branch-free
// in float so that a loop of them vectorises; the per-step constants (bias corrections, 1 - lr*wd) are
// computed once per tensor on the host in double and passed in.
#pragma once
#include <cstdint>

#include "math.h"

namespace lmf::optim {

// ---- per-tensor constants, computed on the host ----

// SGD (PyTorch semantics): g' = g + wd*w; buf = first ? g' : mu*buf + (1-dampening)*g';
// d = nesterov ? g' + mu*buf : buf; w -= lr*d. Without momentum (mu = 0): w -= lr*g'.
struct SgdCoef {
  float lr, wd, mu, one_minus_damp;
  int first;     // the momentum buffer is initialised from g' on the first step
  int nesterov;
};

// Adam / AdamW (PyTorch semantics): Adam adds wd*w to the gradient (L2); AdamW multiplies w by (1 - lr*wd)
// first (decoupled). m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), bc_i = 1 - b_i^step.
struct AdamCoef {
  float b1, b2, one_minus_b1, one_minus_b2, eps;
  float l2;           // wd for Adam, 0 for AdamW
  float decay;        // 1 - lr*wd for AdamW, 1 for Adam
  float step_size;    // lr / bc1
  float inv_sqrt_bc2; // 1 / sqrt(bc2)
};

// Lion (Chen et al. 2023): c = b1*m + (1-b1)*g; w = w*(1 - lr*wd) - lr*sign(c); m = b2*m + (1-b2)*g.
struct LionCoef {
  float lr, decay, b1, one_minus_b1, b2, one_minus_b2;
};

// SophiaG (Liu et al. 2023, Algorithm 3): w *= 1 - lr*wd; m = b1*m + (1-b1)*g;
// w -= lr * sign(m) * min(|m| / max(rho*h, eps), 1). h is the EMA of the GNB estimates B*g_hat^2.
struct SophiaCoef {
  float lr, decay, b1, one_minus_b1, rho, eps;
};

// ---- element rules ----

LMF_HD void sgd_update(float& w, float g, float& buf, const SgdCoef& c) {
  const float gp = g + c.wd * w;
  const float nb = c.first ? gp : c.mu * buf + c.one_minus_damp * gp;
  buf = nb;
  const float d = c.nesterov ? gp + c.mu * nb : nb;
  w = w - c.lr * d;
}

LMF_HD void sgd_plain_update(float& w, float g, const SgdCoef& c) { w = w - c.lr * (g + c.wd * w); }

LMF_HD void adam_moments(float g, float& m, float& v, const AdamCoef& c) {
  m = c.b1 * m + c.one_minus_b1 * g;
  v = c.b2 * v + c.one_minus_b2 * (g * g);
}

LMF_HD void adam_apply(float& w, float m, float v, const AdamCoef& c) {
  w = w * c.decay - c.step_size * (m / (sqrtf(v) * c.inv_sqrt_bc2 + c.eps));
}

LMF_HD void adam_update(float& w, float g, float& m, float& v, const AdamCoef& c) {
  g = g + c.l2 * w;
  adam_moments(g, m, v, c);
  adam_apply(w, m, v, c);
}

// Branch-free helpers (the plain forms vectorise; fmaxf/fminf and nested conditionals may not).
LMF_HD float sign_of(float x) { return static_cast<float>(static_cast<int>(x > 0.0f) - static_cast<int>(x < 0.0f)); }
LMF_HD float max_of(float a, float b) { return a > b ? a : b; }
LMF_HD float min_of(float a, float b) { return a < b ? a : b; }
LMF_HD float abs_of(float a) { return a < 0.0f ? -a : a; }

LMF_HD void lion_update(float& w, float g, float& m, const LionCoef& c) {
  const float u = sign_of(c.b1 * m + c.one_minus_b1 * g);
  w = w * c.decay - c.lr * u;
  m = c.b2 * m + c.one_minus_b2 * g;
}

LMF_HD void sophia_update(float& w, float g, float& m, float h, const SophiaCoef& c) {
  const float nm = c.b1 * m + c.one_minus_b1 * g;
  m = nm;
  const float den = max_of(c.rho * h, c.eps);
  const float r = min_of(abs_of(nm) / den, 1.0f);
  w = w * c.decay - c.lr * sign_of(nm) * r;
}

// h = b2*h + (1-b2)*e (EMA of the Hessian diagonal estimates).
LMF_HD void ema_update(float& h, float e, float b2) { h = b2 * h + (1.0f - b2) * e; }

// True when x is NaN or +-Inf, from the bits (so that no fast-math setting can fold it away).
LMF_HD bool non_finite_bits(uint32_t u) { return (u & 0x7f800000u) == 0x7f800000u; }

}  // namespace lmf::optim
