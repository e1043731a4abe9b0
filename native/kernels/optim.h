// Fused multi-tensor optimizer steps on the CPU: one call updates every parameter in place. A slot is one
// parameter: its fp32 weights (the parameter itself, or the fp32 master copy of a bf16 parameter, which
// is then rounded back into `w16`), its gradient (fp32 or bf16) and its fp32 state. The op layer
// (native/ops/optim.cpp) has validated sizes and dtypes; kernels assume valid input.
#pragma once
#include <cstdint>
#include <vector>

#include "../runtime/cuda_runtime.h"
#include "optim_math.h"

namespace lmf::kernels {

enum class OptimKind { sgd, adam, lion, sophia };

struct OptimSlot {
  float* w = nullptr;          // fp32 weights (param or master)
  uint16_t* w16 = nullptr;     // bf16 parameter to refresh from w, or null
  const void* g = nullptr;     // gradient, n elements
  bool g_bf16 = false;         // gradient dtype: bf16 when true, else fp32
  float* s0 = nullptr;         // momentum buffer / first moment (null: plain SGD)
  float* s1 = nullptr;         // Adam's second moment / Sophia's Hessian EMA
  int64_t n = 0;
  optim::SgdCoef sgd{};
  optim::AdamCoef adam{};
  optim::LionCoef lion{};
  optim::SophiaCoef sophia{};
};

// Updates every slot; work is split into chunks across the thread pool.
void optim_step_cpu(OptimKind kind, const std::vector<OptimSlot>& slots);

// A read-only view of a gradient for the norm and finiteness passes.
struct GradView {
  void* g = nullptr;
  bool bf16 = false;
  int64_t n = 0;
};

// True when every element of every gradient is finite.
bool grads_finite_cpu(const std::vector<GradView>& grads);
// Sum of squares in double (fixed chunking, so the result does not depend on the thread count) and
// whether every element was finite; one read of the gradients.
struct GradNormResult {
  double sumsq = 0;
  bool finite = true;
};
GradNormResult grad_sumsq_cpu(const std::vector<GradView>& grads);
// g *= scale in place.
void grad_scale_cpu(const std::vector<GradView>& grads, float scale);
// h = b2*h + (1-b2)*e for each pair (the Sophia Hessian EMA); e is fp32 or bf16.
struct EmaSlot {
  float* h = nullptr;
  const void* e = nullptr;
  bool e_bf16 = false;
  int64_t n = 0;
  float b2 = 0;
};
void ema_update_cpu(const std::vector<EmaSlot>& slots);

// Work items: [begin, end) of slot `slot`; chunks are multiples of 256 elements (the 8-bit block size).
struct OptimChunk {
  int32_t slot;
  int64_t begin, end;
};
std::vector<OptimChunk> optim_chunks(const std::vector<int64_t>& sizes, int64_t chunk);

// ---- CUDA twin (optim_cuda.cu): the same slots with device pointers, the same element rules
// (optim_math.h), launched on `stream` as multi-tensor kernels (slot descriptors travel as kernel
// arguments, a few dozen tensors per launch). The sum of squares is reduced per fixed chunk on the device
// and the partials are added on the host in order, so it is deterministic too; it reads back (synchronizes).
void optim_step_cuda(OptimKind kind, const std::vector<OptimSlot>& slots, cuda_stream stream);
bool grads_finite_cuda(const std::vector<GradView>& grads, cuda_stream stream);
GradNormResult grad_sumsq_cuda(const std::vector<GradView>& grads, cuda_stream stream);
void grad_scale_cuda(const std::vector<GradView>& grads, float scale, cuda_stream stream);
void ema_update_cuda(const std::vector<EmaSlot>& slots, cuda_stream stream);

}  // namespace lmf::kernels
