// Validation for the fused optimizer steps: one function per optimizer, each checking its hyperparameter
// struct (ops.h) in double, turning it into the float coefficients of optim_math.h once per group, and
// handing its slots to the shared Step (device, dtype, shape and alias checks, the finiteness pass, the
// CPU or CUDA twin).

#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>

#include "../kernels/optim.h"
#include "../kernels/adam8bit.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

using kernels::Adam8Slot;
using kernels::OptimKind;
using kernels::OptimSlot;

namespace {

constexpr double kFloatMax = std::numeric_limits<float>::max();
constexpr double kMaxStep = 9007199254740991.0;  // 2^53 - 1: every step count a double holds exactly

// The shortest text that reads back as v: a message must show the value that was checked, not a rounding
// of it ("must be at most 1e+30, got 1e+30" when the value was 1.0000000000000002e+30).
std::string num(double v) {
  for (int digits : {6, 15, 17}) {
    std::ostringstream s;
    s << std::setprecision(digits) << v;
    if (!std::isfinite(v) || std::strtod(s.str().c_str(), nullptr) == v) return s.str();
  }
  return "";  // not reached: 17 significant digits always read back
}

// A hyperparameter in [lo, hi], checked in double before anything is converted to float.
void check_hp(double v, const char* op, const std::string& where, const char* name, double lo, double hi) {
  LMF_CHECK(std::isfinite(v) && v >= lo && v <= hi, value, op,
            where << "." << name << " must be in [" << num(lo) << ", " << num(hi) << "]"
                  << (hi == kFloatMax ? " (the largest float32)" : "") << ", got " << num(v));
}

void check_step(int64_t step, const char* op, const std::string& where) {
  LMF_CHECK(step >= 1 && static_cast<double>(step) <= kMaxStep, value, op, where << ".step must be an integer >= 1, got " << step);
}

// A coefficient computed in double from the hyperparameters, as the float the kernels take; one that float
// cannot hold (lr / (1 - beta1^step) for a huge lr, say) is refused rather than turned into Inf.
float f32(double v, const char* op, const std::string& where, const char* what) {
  LMF_CHECK(std::fabs(v) <= kFloatMax, value, op,
            where << ": " << what << " = " << num(v) << " is beyond float32 (at most " << num(kFloatMax) << ")");
  return static_cast<float>(v);
}

// lr and weight decay, which every optimizer has.
void check_lr_wd(double lr, double wd, const char* op, const std::string& where) {
  check_hp(lr, op, where, "lr", 0, kFloatMax);
  check_hp(wd, op, where, "weightDecay", 0, kFloatMax);
}

// The NaN/Inf guard of every in-place update here: runs the update (the CPU twin, or the CUDA twin on the
// current stream) only when every element of `checked` is finite, and says whether it ran.
template <class Cpu, class Cuda>
bool if_finite(Device dev, [[maybe_unused]] const char* op, const std::vector<kernels::GradView>& checked, Cpu cpu,
               [[maybe_unused]] Cuda cuda) {
  if (dev == Device::cuda) {
    bool finite = true;
    LMF_CUDA_TWIN(op, {
      const cuda_stream st = cuda_current_stream();
      finite = kernels::grads_finite_cuda(checked, st);
      if (finite) cuda(st);
    });
    return finite;
  }
  if (!kernels::grads_finite_cpu(checked)) return false;
  cpu();
  return true;
}

std::string group_name(size_t g) { return "groups[" + std::to_string(g) + "]"; }

// What every fused step shares: the checks of each parameter's tensors, the slots they fill, the gradients
// for the finiteness pass and the written operands for the alias check, and the dispatch.
class Step {
 public:
  template <class H>
  Step(const char* op, const std::vector<OptimGroup<H>>& groups) : op_(op) {
    for (const OptimGroup<H>& g : groups)
      if (!g.params.empty() && g.params[0].param) {
        dev_ = g.params[0].param->device();
        break;
      }
  }

  // Checks parameter k of group g (device, contiguity, dtypes, shape, master copy, the number of state
  // tensors `layout` describes) and returns its slot with the weights and the gradient filled in.
  OptimSlot param(const OptimTensors& t, size_t g, size_t k, size_t nstates, const char* layout) {
    name_ = group_name(g) + ".params[" + std::to_string(k) + "]";
    const std::string& pi = name_;
    LMF_CHECK(t.param != nullptr, value, op_, pi << " is missing");
    LMF_CHECK(t.grad != nullptr, value, op_, pi << " has no gradient (run backward() first, or leave it out of the optimizer)");
    const Tensor& w = *t.param;
    const Tensor& gr = *t.grad;
    check_contig(w, dev_, op_, pi);
    check_contig(gr, dev_, op_, "the gradient of " + pi);
    LMF_CHECK(w.dtype == DType::f32 || w.dtype == DType::bf16, dtype, op_, pi << " must be float32 or bfloat16, got " << dtype_name(w.dtype));
    LMF_CHECK(gr.shape == w.shape, shape, op_,
              "the gradient of " << pi << " has shape " << shape_str(gr.shape) << " but the parameter has " << shape_str(w.shape));
    LMF_CHECK(t.states.size() == nstates, value, op_,
              pi << " has " << t.states.size() << " state tensors, expected " << nstates << " (" << layout << ")");
    OptimSlot s;
    s.n = w.numel();
    if (w.dtype == DType::f32) {
      LMF_CHECK(gr.dtype == DType::f32, dtype, op_, "the gradient of float32 " << pi << " must be float32, got " << dtype_name(gr.dtype));
      LMF_CHECK(t.master == nullptr, value, op_, pi << " is float32 and takes no master copy");
      s.w = w.data<float>();
    } else {
      LMF_CHECK(gr.dtype == DType::f32 || gr.dtype == DType::bf16, dtype, op_,
                "the gradient of bfloat16 " << pi << " must be bfloat16 or float32, got " << dtype_name(gr.dtype));
      LMF_CHECK(t.master != nullptr, value, op_, pi << " is bfloat16 and needs a float32 master copy");
      check_state(*t.master, dev_, DType::f32, s.n, op_, "the master copy of " + pi);
      s.w = t.master->data<float>();
      s.w16 = w.data<uint16_t>();
      written_.push_back({t.master, true, "the master copy of " + pi});
    }
    s.g = gr.raw();
    s.g_bf16 = gr.dtype == DType::bf16;
    grads_.push_back({const_cast<void*>(s.g), s.g_bf16, s.n});
    written_.push_back({t.param, true, pi});
    written_.push_back({t.grad, false, "the gradient of " + pi});
    return s;
  }

  // State tensor i of the parameter param() last checked, of dtype dt and n elements; `what` names it.
  const Tensor& state(const OptimTensors& t, size_t i, DType dt, int64_t n, const char* what) {
    const std::string full = std::string(what) + " of " + name_;
    check_state(*t.states[i], dev_, dt, n, op_, full);
    written_.push_back({t.states[i], true, full});
    return *t.states[i];
  }

  std::vector<OptimSlot> slots;
  std::vector<Adam8Slot> slots8;

  // Refuses written operands that share memory (a parameter listed twice would be stepped twice), checks
  // every gradient for NaN and Inf, and only when all are finite runs the update.
  bool run(OptimKind kind) {
    check_no_alias(written_, op_);
    return if_finite(
        dev_, op_, grads_,
        [&] {
          if (!slots.empty()) kernels::optim_step_cpu(kind, slots);
          if (!slots8.empty()) kernels::adam8bit_step_cpu(slots8);
        },
        [&](cuda_stream st) {
          if (!slots.empty()) kernels::optim_step_cuda(kind, slots, st);
          if (!slots8.empty()) kernels::adam8bit_step_cuda(slots8, st);
        });
  }

 private:
  const char* op_;
  Device dev_ = Device::cpu;
  std::string name_;
  std::vector<kernels::GradView> grads_;
  std::vector<InPlaceArg> written_;
};

optim::AdamCoef adam_coef(const AdamHyper& h, const char* op, const std::string& where) {
  check_lr_wd(h.lr, h.weight_decay, op, where);
  check_hp(h.beta1, op, where, "beta1", 0, 1 - 1e-12);
  check_hp(h.beta2, op, where, "beta2", 0, 1 - 1e-12);
  check_hp(h.eps, op, where, "eps", 0, kFloatMax);
  check_step(h.step, op, where);
  const double t = static_cast<double>(h.step);
  const double bc1 = 1 - std::pow(h.beta1, t), bc2 = 1 - std::pow(h.beta2, t);
  optim::AdamCoef c{};
  c.b1 = static_cast<float>(h.beta1);
  c.b2 = static_cast<float>(h.beta2);
  c.one_minus_b1 = static_cast<float>(1 - h.beta1);
  c.one_minus_b2 = static_cast<float>(1 - h.beta2);
  c.eps = static_cast<float>(h.eps);
  c.l2 = h.decoupled ? 0.0f : static_cast<float>(h.weight_decay);
  c.decay = h.decoupled ? f32(1 - h.lr * h.weight_decay, op, where, "1 - lr*weightDecay") : 1.0f;
  c.step_size = f32(h.lr / bc1, op, where, "lr / (1 - beta1^step)");
  c.inv_sqrt_bc2 = static_cast<float>(1 / std::sqrt(bc2));
  return c;
}

bool eight_bit(const AdamHyper&) { return false; }
bool eight_bit(const Adam8bitHyper& h) { return h.eight_bit; }

// Adam and 8-bit Adam: the same coefficients; a group's state is float32 moments, or (8-bit groups)
// codes and absmax per block.
template <class H>
bool adam_family_step(const char* op, const std::vector<OptimGroup<H>>& groups) {
  Step s(op, groups);
  for (size_t g = 0; g < groups.size(); ++g) {
    const optim::AdamCoef c = adam_coef(groups[g].hyper, op, group_name(g));
    const bool q8 = eight_bit(groups[g].hyper);
    for (size_t k = 0; k < groups[g].params.size(); ++k) {
      const OptimTensors& t = groups[g].params[k];
      if (!q8) {
        OptimSlot p = s.param(t, g, k, 2, "first and second moment, float32");
        p.s0 = s.state(t, 0, DType::f32, p.n, "the first moment").data<float>();
        p.s1 = s.state(t, 1, DType::f32, p.n, "the second moment").data<float>();
        p.adam = c;
        s.slots.push_back(p);
        continue;
      }
      const OptimSlot p = s.param(t, g, k, 4, "8-bit: first and second moment codes (uint8), their absmax per block of 256 (float32)");
      const int64_t blocks = (p.n + kernels::kQuant8Block - 1) / kernels::kQuant8Block;
      Adam8Slot q;
      q.w = p.w; q.w16 = p.w16; q.g = p.g; q.g_bf16 = p.g_bf16; q.n = p.n; q.adam = c;
      q.c1 = s.state(t, 0, DType::u8, p.n, "the 8-bit first moment").data<uint8_t>();
      q.c2 = s.state(t, 1, DType::u8, p.n, "the 8-bit second moment").data<uint8_t>();
      q.a1 = s.state(t, 2, DType::f32, blocks, "the first moment's absmax").data<float>();
      q.a2 = s.state(t, 3, DType::f32, blocks, "the second moment's absmax").data<float>();
      s.slots8.push_back(q);
    }
  }
  return s.run(OptimKind::adam);
}

}  // namespace

bool sgd_step(const std::vector<OptimGroup<SgdHyper>>& groups) {
  const char* op = "SGD.step";
  Step s(op, groups);
  for (size_t g = 0; g < groups.size(); ++g) {
    const SgdHyper& h = groups[g].hyper;
    const std::string where = group_name(g);
    check_lr_wd(h.lr, h.weight_decay, op, where);
    check_hp(h.momentum, op, where, "momentum", 0, kFloatMax);
    check_hp(h.dampening, op, where, "dampening", 0, 1);
    check_step(h.step, op, where);
    const optim::SgdCoef c{static_cast<float>(h.lr), static_cast<float>(h.weight_decay), static_cast<float>(h.momentum),
                           static_cast<float>(1 - h.dampening), h.step == 1 ? 1 : 0, h.nesterov ? 1 : 0};
    const bool mom = h.momentum != 0;
    for (size_t k = 0; k < groups[g].params.size(); ++k) {
      const OptimTensors& t = groups[g].params[k];
      OptimSlot p = s.param(t, g, k, mom ? 1 : 0, mom ? "the momentum buffer" : "none without momentum");
      if (mom) p.s0 = s.state(t, 0, DType::f32, p.n, "the momentum buffer").data<float>();
      p.sgd = c;
      s.slots.push_back(p);
    }
  }
  return s.run(OptimKind::sgd);
}

bool adam_step(const std::vector<OptimGroup<AdamHyper>>& groups) { return adam_family_step("Adam.step", groups); }

bool adam8bit_step(const std::vector<OptimGroup<Adam8bitHyper>>& groups) { return adam_family_step("Adam8bit.step", groups); }

bool lion_step(const std::vector<OptimGroup<LionHyper>>& groups) {
  const char* op = "Lion.step";
  Step s(op, groups);
  for (size_t g = 0; g < groups.size(); ++g) {
    const LionHyper& h = groups[g].hyper;
    const std::string where = group_name(g);
    check_lr_wd(h.lr, h.weight_decay, op, where);
    check_hp(h.beta1, op, where, "beta1", 0, 1);
    check_hp(h.beta2, op, where, "beta2", 0, 1);
    const optim::LionCoef c{static_cast<float>(h.lr), f32(1 - h.lr * h.weight_decay, op, where, "1 - lr*weightDecay"),
                            static_cast<float>(h.beta1), static_cast<float>(1 - h.beta1), static_cast<float>(h.beta2),
                            static_cast<float>(1 - h.beta2)};
    for (size_t k = 0; k < groups[g].params.size(); ++k) {
      const OptimTensors& t = groups[g].params[k];
      OptimSlot p = s.param(t, g, k, 1, "the momentum");
      p.s0 = s.state(t, 0, DType::f32, p.n, "the momentum").data<float>();
      p.lion = c;
      s.slots.push_back(p);
    }
  }
  return s.run(OptimKind::lion);
}

bool sophia_step(const std::vector<OptimGroup<SophiaHyper>>& groups) {
  const char* op = "SophiaG.step";
  Step s(op, groups);
  for (size_t g = 0; g < groups.size(); ++g) {
    const SophiaHyper& h = groups[g].hyper;
    const std::string where = group_name(g);
    check_lr_wd(h.lr, h.weight_decay, op, where);
    check_hp(h.beta1, op, where, "beta1", 0, 1);
    check_hp(h.rho, op, where, "rho", 0, kFloatMax);
    check_hp(h.eps, op, where, "eps", 0, kFloatMax);
    const optim::SophiaCoef c{static_cast<float>(h.lr), f32(1 - h.lr * h.weight_decay, op, where, "1 - lr*weightDecay"),
                              static_cast<float>(h.beta1), static_cast<float>(1 - h.beta1), static_cast<float>(h.rho),
                              static_cast<float>(h.eps)};
    for (size_t k = 0; k < groups[g].params.size(); ++k) {
      const OptimTensors& t = groups[g].params[k];
      OptimSlot p = s.param(t, g, k, 2, "the first moment and the Hessian EMA");
      p.s0 = s.state(t, 0, DType::f32, p.n, "the first moment").data<float>();
      p.s1 = s.state(t, 1, DType::f32, p.n, "the Hessian estimate").data<float>();
      p.sophia = c;
      s.slots.push_back(p);
    }
  }
  return s.run(OptimKind::sophia);
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

bool hessian_ema(const std::vector<HessianGroup>& groups) {
  const char* op = "SophiaG.updateHessian";
  std::vector<kernels::EmaSlot> slots;
  std::vector<kernels::GradView> estimates;
  std::vector<InPlaceArg> args;
  Device dev = Device::cpu;
  for (const HessianGroup& g : groups)
    if (!g.estimates.empty()) {
      dev = g.estimates[0]->device();
      break;
    }
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const HessianGroup& g = groups[gi];
    const std::string where = group_name(gi);
    LMF_CHECK(g.hessians.size() == g.estimates.size(), value, op,
              where << " has " << g.estimates.size() << " estimates for " << g.hessians.size() << " Hessian states");
    check_hp(g.beta2, op, where, "beta2", 0, 1);
    for (size_t k = 0; k < g.hessians.size(); ++k) {
      const std::string pi = where + ".estimates[" + std::to_string(k) + "]";
      const Tensor& e = *g.estimates[k];
      check_contig(e, dev, op, pi);
      LMF_CHECK(e.dtype == DType::f32 || e.dtype == DType::bf16, dtype, op, pi << " must be float32 or bfloat16, got " << dtype_name(e.dtype));
      const std::string hi = where + ".hessians[" + std::to_string(k) + "]";
      check_state(*g.hessians[k], dev, DType::f32, e.numel(), op, hi);
      slots.push_back({g.hessians[k]->data<float>(), e.raw(), e.dtype == DType::bf16, e.numel(), static_cast<float>(g.beta2)});
      estimates.push_back({const_cast<void*>(e.raw()), e.dtype == DType::bf16, e.numel()});
      args.push_back({g.hessians[k], true, hi});
      args.push_back({g.estimates[k], false, pi});
    }
  }
  check_no_alias(args, op);
  // A NaN or Inf estimate would stay in the EMA for good (b2*NaN is NaN): like a step with a non-finite
  // gradient, the whole update is skipped and the caller counts it.
  return if_finite(
      dev, op, estimates, [&] { kernels::ema_update_cpu(slots); }, [&](cuda_stream st) { kernels::ema_update_cuda(slots, st); });
}

}  // namespace lmf::ops
