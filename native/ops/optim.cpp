// Validation for the fused optimizer steps. Hyperparameter layouts (doubles, per parameter):
//   sgd:    lr, weight_decay, momentum, dampening, nesterov (0/1), step           states: [] or [buf]
//   adam:   lr, weight_decay, beta1, beta2, eps, decoupled (0/1), step            states: [m, v] (float32)
//                                                  or [m codes, v codes (uint8), m absmax, v absmax (float32)]
//   lion:   lr, weight_decay, beta1, beta2                                        states: [m]
//   sophia: lr, weight_decay, beta1, rho, eps                                     states: [m, h]
#include "optim.h"

#include <cmath>

#include "../kernels/optim.h"
#include "../kernels/quant8.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

using kernels::Adam8Slot;
using kernels::OptimKind;
using kernels::OptimSlot;

namespace {

// Every tensor of one call lives on the device of the first one (the CPU or the CUDA twin runs them all).
void check_contig(const Tensor& t, Device dev, const char* op, const std::string& what) {
  LMF_CHECK(t.device() == dev, device, op,
            what << " is on " << device_name(t.device()) << " but the first parameter is on " << device_name(dev)
                 << " (move parameters, gradients and optimizer state to one device)");
  LMF_CHECK(t.is_contiguous(), value, op, what << " must be contiguous");
}

void check_state(const Tensor& s, Device dev, DType dt, int64_t n, const char* op, const std::string& what) {
  check_contig(s, dev, op, what);
  LMF_CHECK(s.dtype == dt, dtype, op, what << " must be " << dtype_name(dt) << ", got " << dtype_name(s.dtype));
  LMF_CHECK(s.numel() == n, shape, op, what << " has " << s.numel() << " elements, expected " << n);
}

void check_hp(double v, const char* op, const std::string& name, size_t i, double lo, double hi) {
  LMF_CHECK(std::isfinite(v) && v >= lo && v <= hi, value, op,
            name << " of parameter " << i << " must be in [" << lo << ", " << hi << "], got " << v);
}

struct Common {
  float* w;
  uint16_t* w16;
  const void* g;
  bool g_bf16;
  int64_t n;
};

Common check_common(const OptimParam& p, size_t i, const char* op, size_t hp_len, Device dev) {
  const std::string pi = "parameter " + std::to_string(i);
  LMF_CHECK(p.param != nullptr, value, op, pi << " is missing");
  LMF_CHECK(p.grad != nullptr, value, op, pi << " has no gradient (run backward() first, or leave it out of the optimizer)");
  const Tensor& w = *p.param;
  const Tensor& g = *p.grad;
  check_contig(w, dev, op, pi);
  check_contig(g, dev, op, "the gradient of " + pi);
  LMF_CHECK(w.dtype == DType::f32 || w.dtype == DType::bf16, dtype, op, pi << " must be float32 or bfloat16, got " << dtype_name(w.dtype));
  LMF_CHECK(g.shape == w.shape, shape, op,
            "the gradient of " << pi << " has shape " << shape_str(g.shape) << " but the parameter has " << shape_str(w.shape));
  LMF_CHECK(p.hp.size() == hp_len, value, op, pi << " has " << p.hp.size() << " hyperparameters, expected " << hp_len);
  Common c{};
  c.n = w.numel();
  if (w.dtype == DType::f32) {
    LMF_CHECK(g.dtype == DType::f32, dtype, op, "the gradient of float32 " << pi << " must be float32, got " << dtype_name(g.dtype));
    LMF_CHECK(p.master == nullptr, value, op, pi << " is float32 and takes no master copy");
    c.w = w.data<float>();
    c.w16 = nullptr;
  } else {
    LMF_CHECK(g.dtype == DType::f32 || g.dtype == DType::bf16, dtype, op,
              "the gradient of bfloat16 " << pi << " must be bfloat16 or float32, got " << dtype_name(g.dtype));
    LMF_CHECK(p.master != nullptr, value, op, pi << " is bfloat16 and needs a float32 master copy");
    check_state(*p.master, dev, DType::f32, c.n, op, "the master copy of " + pi);
    c.w = p.master->data<float>();
    c.w16 = w.data<uint16_t>();
  }
  c.g = g.raw();
  c.g_bf16 = g.dtype == DType::bf16;
  return c;
}

// Parameters, masters and states are written in place: none may share memory with another operand
// (the same parameter twice would be stepped twice). Gradients are only read and may share.
void check_disjoint(const std::vector<OptimParam>& ps, const char* op) {
  std::vector<InPlaceArg> args;
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::string pi = "parameter " + std::to_string(i);
    args.push_back({ps[i].param, true, pi});
    args.push_back({ps[i].grad, false, "the gradient of " + pi});
    if (ps[i].master) args.push_back({ps[i].master, true, "the master copy of " + pi});
    for (size_t k = 0; k < ps[i].states.size(); ++k) args.push_back({ps[i].states[k], true, "state " + std::to_string(k) + " of " + pi});
  }
  check_no_alias(args, op);
}

}  // namespace

bool optim_step(const std::string& kind, const std::vector<OptimParam>& ps, bool check_finite) {
  const char* op = kind == "sgd" ? "SGD.step" : kind == "adam" ? "Adam.step" : kind == "lion" ? "Lion.step" : kind == "sophia" ? "SophiaG.step" : "optimizer.step";
  OptimKind k;
  size_t hp_len;
  if (kind == "sgd") { k = OptimKind::sgd; hp_len = 6; }
  else if (kind == "adam") { k = OptimKind::adam; hp_len = 7; }
  else if (kind == "lion") { k = OptimKind::lion; hp_len = 4; }
  else if (kind == "sophia") { k = OptimKind::sophia; hp_len = 5; }
  else LMF_THROW(value, op, "unknown optimizer '" << kind << "' (expected sgd, adam, lion or sophia)");

  std::vector<OptimSlot> slots;
  std::vector<Adam8Slot> slots8;
  std::vector<kernels::GradView> grads;
  const Device dev = !ps.empty() && ps[0].param ? ps[0].param->device() : Device::cpu;
  for (size_t i = 0; i < ps.size(); ++i) {
    const OptimParam& p = ps[i];
    const Common c = check_common(p, i, op, hp_len, dev);
    const std::vector<double>& h = p.hp;
    const std::string pi = "parameter " + std::to_string(i);
    check_hp(h[0], op, "lr", i, 0, 1e30);
    check_hp(h[1], op, "weightDecay", i, 0, 1e30);
    grads.push_back({const_cast<void*>(c.g), c.g_bf16, c.n});
    OptimSlot s;
    s.w = c.w; s.w16 = c.w16; s.g = c.g; s.g_bf16 = c.g_bf16; s.n = c.n;
    const float lr = static_cast<float>(h[0]), wd = static_cast<float>(h[1]);
    if (k == OptimKind::sgd) {
      check_hp(h[2], op, "momentum", i, 0, 1e30);
      check_hp(h[3], op, "dampening", i, 0, 1);
      check_hp(h[5], op, "step", i, 1, 9007199254740991.0);
      const bool mom = h[2] != 0;
      LMF_CHECK(p.states.size() == (mom ? 1u : 0u), value, op,
                pi << " has " << p.states.size() << " state tensors, expected " << (mom ? 1 : 0));
      if (mom) {
        check_state(*p.states[0], dev, DType::f32, c.n, op, "the momentum buffer of " + pi);
        s.s0 = p.states[0]->data<float>();
      }
      s.sgd = optim::SgdCoef{lr, wd, static_cast<float>(h[2]), static_cast<float>(1.0 - h[3]), h[5] == 1 ? 1 : 0, h[4] != 0 ? 1 : 0};
      slots.push_back(s);
    } else if (k == OptimKind::adam) {
      check_hp(h[2], op, "beta1", i, 0, 1 - 1e-12);
      check_hp(h[3], op, "beta2", i, 0, 1 - 1e-12);
      check_hp(h[4], op, "eps", i, 0, 1e30);
      check_hp(h[6], op, "step", i, 1, 9007199254740991.0);
      const bool decoupled = h[5] != 0;
      const double bc1 = 1 - std::pow(h[2], h[6]), bc2 = 1 - std::pow(h[3], h[6]);
      optim::AdamCoef ac{};
      ac.b1 = static_cast<float>(h[2]);
      ac.b2 = static_cast<float>(h[3]);
      ac.one_minus_b1 = static_cast<float>(1 - h[2]);
      ac.one_minus_b2 = static_cast<float>(1 - h[3]);
      ac.eps = static_cast<float>(h[4]);
      ac.l2 = decoupled ? 0.0f : wd;
      ac.decay = decoupled ? static_cast<float>(1 - h[0] * h[1]) : 1.0f;
      ac.step_size = static_cast<float>(h[0] / bc1);
      ac.inv_sqrt_bc2 = static_cast<float>(1 / std::sqrt(bc2));
      if (p.states.size() == 2) {
        check_state(*p.states[0], dev, DType::f32, c.n, op, "the first moment of " + pi);
        check_state(*p.states[1], dev, DType::f32, c.n, op, "the second moment of " + pi);
        s.s0 = p.states[0]->data<float>();
        s.s1 = p.states[1]->data<float>();
        s.adam = ac;
        slots.push_back(s);
      } else {
        LMF_CHECK(p.states.size() == 4, value, op,
                  pi << " has " << p.states.size() << " state tensors, expected 2 (float32) or 4 (8-bit codes and absmax)");
        const int64_t blocks = (c.n + kernels::kQuant8Block - 1) / kernels::kQuant8Block;
        check_state(*p.states[0], dev, DType::u8, c.n, op, "the 8-bit first moment of " + pi);
        check_state(*p.states[1], dev, DType::u8, c.n, op, "the 8-bit second moment of " + pi);
        check_state(*p.states[2], dev, DType::f32, blocks, op, "the first moment's absmax of " + pi);
        check_state(*p.states[3], dev, DType::f32, blocks, op, "the second moment's absmax of " + pi);
        Adam8Slot q;
        q.w = c.w; q.w16 = c.w16; q.g = c.g; q.g_bf16 = c.g_bf16; q.n = c.n; q.adam = ac;
        q.c1 = p.states[0]->data<uint8_t>();
        q.c2 = p.states[1]->data<uint8_t>();
        q.a1 = p.states[2]->data<float>();
        q.a2 = p.states[3]->data<float>();
        slots8.push_back(q);
      }
    } else if (k == OptimKind::lion) {
      check_hp(h[2], op, "beta1", i, 0, 1);
      check_hp(h[3], op, "beta2", i, 0, 1);
      LMF_CHECK(p.states.size() == 1, value, op, pi << " has " << p.states.size() << " state tensors, expected 1");
      check_state(*p.states[0], dev, DType::f32, c.n, op, "the momentum of " + pi);
      s.s0 = p.states[0]->data<float>();
      s.lion = optim::LionCoef{lr, static_cast<float>(1 - h[0] * h[1]), static_cast<float>(h[2]), static_cast<float>(1 - h[2]),
                               static_cast<float>(h[3]), static_cast<float>(1 - h[3])};
      slots.push_back(s);
    } else {
      check_hp(h[2], op, "beta1", i, 0, 1);
      check_hp(h[3], op, "rho", i, 0, 1e30);
      check_hp(h[4], op, "eps", i, 0, 1e30);
      LMF_CHECK(p.states.size() == 2, value, op, pi << " has " << p.states.size() << " state tensors, expected 2");
      check_state(*p.states[0], dev, DType::f32, c.n, op, "the first moment of " + pi);
      check_state(*p.states[1], dev, DType::f32, c.n, op, "the Hessian estimate of " + pi);
      s.s0 = p.states[0]->data<float>();
      s.s1 = p.states[1]->data<float>();
      s.sophia = optim::SophiaCoef{lr, static_cast<float>(1 - h[0] * h[1]), static_cast<float>(h[2]), static_cast<float>(1 - h[2]),
                                   static_cast<float>(h[3]), static_cast<float>(h[4])};
      slots.push_back(s);
    }
  }
  check_disjoint(ps, op);
  if (dev == Device::cuda) {
    bool finite = true;
    LMF_CUDA_TWIN(op, {
      const cuda_stream st = cuda_current_stream();
      if (check_finite) finite = kernels::grads_finite_cuda(grads, st);
      if (finite && !slots.empty()) kernels::optim_step_cuda(k, slots, st);
      if (finite && !slots8.empty()) kernels::adam8bit_step_cuda(slots8, st);
    });
    return finite;
  }
  if (check_finite && !kernels::grads_finite_cpu(grads)) return false;
  if (!slots.empty()) kernels::optim_step_cpu(k, slots);
  if (!slots8.empty()) kernels::adam8bit_step_cpu(slots8);
  return true;
}

double clip_grad_norm(const std::vector<const Tensor*>& grads, double max_norm) {
  const char* op = "clipGradNorm";
  LMF_CHECK(!std::isnan(max_norm) && max_norm > 0, value, op, "maxNorm must be positive, got " << max_norm);
  std::vector<kernels::GradView> views;
  const Device dev = grads.empty() ? Device::cpu : grads[0]->device();
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = *grads[i];
    const std::string gi = "gradient " + std::to_string(i);
    check_contig(g, dev, op, gi);
    LMF_CHECK(g.dtype == DType::f32 || g.dtype == DType::bf16, dtype, op, gi << " must be float32 or bfloat16, got " << dtype_name(g.dtype));
    views.push_back({g.raw(), g.dtype == DType::bf16, g.numel()});
  }
  // Every gradient is scaled in place: one that shares memory with another would be scaled twice.
  std::vector<InPlaceArg> args;
  for (size_t i = 0; i < grads.size(); ++i) args.push_back({grads[i], true, "gradient " + std::to_string(i)});
  check_no_alias(args, op);
  kernels::GradNormResult r;
  if (dev == Device::cuda) LMF_CUDA_TWIN(op, r = kernels::grad_sumsq_cuda(views, cuda_current_stream()));
  else r = kernels::grad_sumsq_cpu(views);
  const double norm = std::sqrt(r.sumsq);
  if (!r.finite) return std::isnan(r.sumsq) ? r.sumsq : norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1) {
    if (dev == Device::cuda) LMF_CUDA_TWIN(op, kernels::grad_scale_cuda(views, static_cast<float>(coef), cuda_current_stream()));
    else kernels::grad_scale_cpu(views, static_cast<float>(coef));
  }
  return norm;
}

void hessian_ema(const std::vector<const Tensor*>& hs, const std::vector<const Tensor*>& es, const std::vector<double>& b2) {
  const char* op = "SophiaG.updateHessian";
  LMF_CHECK(hs.size() == es.size() && hs.size() == b2.size(), value, op,
            "got " << es.size() << " estimates for " << hs.size() << " parameters");
  std::vector<kernels::EmaSlot> slots;
  const Device dev = es.empty() ? Device::cpu : es[0]->device();
  for (size_t i = 0; i < hs.size(); ++i) {
    const std::string pi = "parameter " + std::to_string(i);
    const Tensor& e = *es[i];
    check_contig(e, dev, op, "the estimate of " + pi);
    LMF_CHECK(e.dtype == DType::f32 || e.dtype == DType::bf16, dtype, op, "the estimate of " << pi << " must be float32 or bfloat16, got " << dtype_name(e.dtype));
    check_state(*hs[i], dev, DType::f32, e.numel(), op, "the Hessian state of " + pi);
    check_hp(b2[i], op, "beta2", i, 0, 1);
    slots.push_back({hs[i]->data<float>(), e.raw(), e.dtype == DType::bf16, e.numel(), static_cast<float>(b2[i])});
  }
  std::vector<InPlaceArg> args;
  for (size_t i = 0; i < hs.size(); ++i) {
    args.push_back({hs[i], true, "the Hessian state of parameter " + std::to_string(i)});
    args.push_back({es[i], false, "the estimate of parameter " + std::to_string(i)});
  }
  check_no_alias(args, op);
  if (dev == Device::cuda) LMF_CUDA_TWIN(op, kernels::ema_update_cuda(slots, cuda_current_stream()));
  else kernels::ema_update_cpu(slots);
}

Tensor quant8_map(bool is_signed) {
  Tensor t = Tensor::empty({256}, DType::f32, Device::cpu, "quant8Map");
  const kernels::Quant8Map& q = kernels::quant8_map(is_signed);
  for (int i = 0; i < 256; ++i) t.data<float>()[i] = q.code[i];
  return t;
}

std::vector<Tensor> quantize8(const Tensor& x, bool is_signed) {
  const char* op = "quantize8";
  const Device dev = x.device();
  check_contig(x, dev, op, "input");
  LMF_CHECK(x.dtype == DType::f32, dtype, op, "input must be float32, got " << dtype_name(x.dtype));
  const int64_t n = x.numel(), blocks = (n + kernels::kQuant8Block - 1) / kernels::kQuant8Block;
  Tensor codes = Tensor::empty(x.shape, DType::u8, dev, op);
  Tensor absmax = Tensor::empty({blocks}, DType::f32, dev, op);
  if (dev == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::quantize_blockwise_cuda(codes.data<uint8_t>(), absmax.data<float>(), x.data<float>(), n, is_signed,
                                                       cuda_current_stream()));
  else
    kernels::quantize_blockwise_cpu(codes.data<uint8_t>(), absmax.data<float>(), x.data<float>(), n, is_signed);
  return {codes, absmax};
}

Tensor dequantize8(const Tensor& codes, const Tensor& absmax, bool is_signed) {
  const char* op = "dequantize8";
  const Device dev = codes.device();
  check_contig(codes, dev, op, "codes");
  LMF_CHECK(codes.dtype == DType::u8, dtype, op, "codes must be uint8, got " << dtype_name(codes.dtype));
  const int64_t n = codes.numel(), blocks = (n + kernels::kQuant8Block - 1) / kernels::kQuant8Block;
  check_state(absmax, dev, DType::f32, blocks, op, "absmax");
  Tensor x = Tensor::empty(codes.shape, DType::f32, dev, op);
  if (dev == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::dequantize_blockwise_cuda(x.data<float>(), codes.data<uint8_t>(), absmax.data<float>(), n, is_signed,
                                                         cuda_current_stream()));
  else
    kernels::dequantize_blockwise_cpu(x.data<float>(), codes.data<uint8_t>(), absmax.data<float>(), n, is_signed);
  return x;
}

}  // namespace lmf::ops
