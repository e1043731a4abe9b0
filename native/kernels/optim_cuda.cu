// CUDA twin of the fused optimizer steps (optim.h): SGD (momentum, Nesterov), Adam/AdamW, Lion and SophiaG
// over every parameter in a few multi-tensor launches, plus the gradient passes the trainer needs on the
// device (finiteness, the sum of squares for clipping, scaling) and Sophia's Hessian EMA. The per-element
// rules are optim_math.h's, compiled for host and device, so both twins apply one formula.
#include <cmath>
#include <vector>

#include "math.h"
#include "optim.h"
#include "optim_cuda.cuh"

namespace lmf::kernels {
namespace optim_cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 4096;  // elements per block: 16 per thread

struct Slot {
  float* w;
  uint16_t* w16;
  const void* g;
  float* s0;
  float* s1;
  int64_t n;
  int g_bf16;
  union {
    optim::SgdCoef sgd;
    optim::AdamCoef adam;
    optim::LionCoef lion;
    optim::SophiaCoef sophia;
  };
};
constexpr int kSlots = 24;
using StepBatch = Batch<Slot, kSlots>;

__device__ __forceinline__ float load_g(const void* g, int bf16, int64_t i) {
  return bf16 ? math::bf16_to_f32(static_cast<const uint16_t*>(g)[i]) : static_cast<const float*>(g)[i];
}

template <OptimKind K>
__global__ void __launch_bounds__(kThreads) step_kernel(const StepBatch b) {
  const int64_t total = b.first[b.count];
  for (int64_t c = blockIdx.x; c < total; c += gridDim.x) {
    const Slot& s = b.s[slot_of(b, c)];
    const int64_t lo = (c - b.first[slot_of(b, c)]) * kChunk, hi = min(s.n, lo + kChunk);
    for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads) {
      float w = s.w[i];
      const float g = load_g(s.g, s.g_bf16, i);
      if constexpr (K == OptimKind::sgd) {
        if (s.s0) {
          float buf = s.s0[i];
          optim::sgd_update(w, g, buf, s.sgd);
          s.s0[i] = buf;
        } else {
          optim::sgd_plain_update(w, g, s.sgd);
        }
      } else if constexpr (K == OptimKind::adam) {
        float m = s.s0[i], v = s.s1[i];
        optim::adam_update(w, g, m, v, s.adam);
        s.s0[i] = m;
        s.s1[i] = v;
      } else if constexpr (K == OptimKind::lion) {
        float m = s.s0[i];
        optim::lion_update(w, g, m, s.lion);
        s.s0[i] = m;
      } else {
        float m = s.s0[i];
        optim::sophia_update(w, g, m, s.s1[i], s.sophia);
        s.s0[i] = m;
      }
      s.w[i] = w;
      if (s.w16) s.w16[i] = math::f32_to_bf16(w);
    }
  }
}

unsigned grid_for(int64_t chunks) { return static_cast<unsigned>(std::min<int64_t>(chunks, 1 << 16)); }

// ---- gradient passes ----
struct GSlot {
  void* g;
  int64_t n;
  int bf16;
};
constexpr int kGSlots = 64;
using GradBatch = Batch<GSlot, kGSlots>;
constexpr int64_t kNormChunk = 1 << 16;  // fixed, so the partial sums do not depend on the GPU

// partial[c] = sum of g^2 over chunk c, in double (a non-finite element makes it inf or NaN).
__global__ void __launch_bounds__(kThreads) sumsq_kernel(const GradBatch b, double* partial) {
  __shared__ double red[kThreads / 32];
  const int64_t total = b.first[b.count];
  for (int64_t c = blockIdx.x; c < total; c += gridDim.x) {
    const int k = slot_of(b, c);
    const GSlot& s = b.s[k];
    const int64_t lo = (c - b.first[k]) * kNormChunk, hi = min(s.n, lo + kNormChunk);
    double acc = 0.0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads) {
      const double x = load_g(s.g, s.bf16, i);
      acc += x * x;
    }
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
      double t = 0.0;
      for (int w = 0; w < kThreads / 32; ++w) t += red[w];
      partial[c] = t;
    }
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kThreads) scale_kernel(const GradBatch b, float scale) {
  const int64_t total = b.first[b.count];
  for (int64_t c = blockIdx.x; c < total; c += gridDim.x) {
    const int k = slot_of(b, c);
    const GSlot& s = b.s[k];
    const int64_t lo = (c - b.first[k]) * kChunk, hi = min(s.n, lo + kChunk);
    for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads) {
      if (s.bf16) {
        uint16_t* g = static_cast<uint16_t*>(s.g);
        g[i] = math::f32_to_bf16(math::bf16_to_f32(g[i]) * scale);
      } else {
        static_cast<float*>(s.g)[i] *= scale;
      }
    }
  }
}

struct ESlot {
  float* h;
  const void* e;
  int64_t n;
  int bf16;
  float b2;
};
using EmaBatch = Batch<ESlot, 48>;

__global__ void __launch_bounds__(kThreads) ema_kernel(const EmaBatch b) {
  const int64_t total = b.first[b.count];
  for (int64_t c = blockIdx.x; c < total; c += gridDim.x) {
    const int k = slot_of(b, c);
    const ESlot& s = b.s[k];
    const int64_t lo = (c - b.first[k]) * kChunk, hi = min(s.n, lo + kChunk);
    for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads) optim::ema_update(s.h[i], load_g(s.e, s.bf16, i), s.b2);
  }
}

GradNormResult sumsq(const std::vector<GradView>& grads, cudaStream_t st) {
  int64_t chunks = 0;
  for (const GradView& g : grads) chunks += (g.n + kNormChunk - 1) / kNormChunk;
  GradNormResult r;
  if (chunks == 0) return r;
  std::vector<double> host(static_cast<size_t>(chunks));
  double* dev = static_cast<double*>(cuda_alloc(sizeof(double) * chunks));
  try {
    int64_t at = 0;
    for_batches<GSlot, kGSlots>(
        grads.size(), kNormChunk, [&](size_t k) { return GSlot{grads[k].g, grads[k].n, grads[k].bf16 ? 1 : 0}; },
        [&](size_t k) { return grads[k].n; },
        [&](const GradBatch& b, int64_t c) {
          sumsq_kernel<<<grid_for(c), kThreads, 0, st>>>(b, dev + at);
          check_launch("clipGradNorm");
          at += c;
        });
    cudaError_t e = cudaMemcpyAsync(host.data(), dev, sizeof(double) * chunks, cudaMemcpyDeviceToHost, st);
    if (e == cudaSuccess) e = cudaStreamSynchronize(st);
    if (e != cudaSuccess) LMF_THROW(internal, "clipGradNorm", "reading the gradient norm back failed: " << cudaGetErrorString(e));
  } catch (...) {
    cuda_free(dev, sizeof(double) * chunks);
    throw;
  }
  cuda_free(dev, sizeof(double) * chunks);
  for (double x : host) r.sumsq += x;
  r.finite = std::isfinite(r.sumsq);
  return r;
}

}  // namespace
}  // namespace optim_cuda

using namespace optim_cuda;

void optim_step_cuda(OptimKind kind, const std::vector<OptimSlot>& slots, cuda_stream stream) {
  auto make = [&](size_t k) {
    const OptimSlot& o = slots[k];
    Slot s{};
    s.w = o.w;
    s.w16 = o.w16;
    s.g = o.g;
    s.s0 = o.s0;
    s.s1 = o.s1;
    s.n = o.n;
    s.g_bf16 = o.g_bf16 ? 1 : 0;
    switch (kind) {
      case OptimKind::sgd: s.sgd = o.sgd; break;
      case OptimKind::adam: s.adam = o.adam; break;
      case OptimKind::lion: s.lion = o.lion; break;
      case OptimKind::sophia: s.sophia = o.sophia; break;
    }
    return s;
  };
  auto size = [&](size_t k) { return slots[k].n; };
  for_batches<Slot, kSlots>(slots.size(), kChunk, make, size, [&](const StepBatch& b, int64_t c) {
    switch (kind) {
      case OptimKind::sgd: step_kernel<OptimKind::sgd><<<grid_for(c), kThreads, 0, stream>>>(b); break;
      case OptimKind::adam: step_kernel<OptimKind::adam><<<grid_for(c), kThreads, 0, stream>>>(b); break;
      case OptimKind::lion: step_kernel<OptimKind::lion><<<grid_for(c), kThreads, 0, stream>>>(b); break;
      case OptimKind::sophia: step_kernel<OptimKind::sophia><<<grid_for(c), kThreads, 0, stream>>>(b); break;
    }
    check_launch("optimizer.step");
  });
}

GradNormResult grad_sumsq_cuda(const std::vector<GradView>& grads, cuda_stream stream) { return sumsq(grads, stream); }

bool grads_finite_cuda(const std::vector<GradView>& grads, cuda_stream stream) { return sumsq(grads, stream).finite; }

void grad_scale_cuda(const std::vector<GradView>& grads, float scale, cuda_stream stream) {
  for_batches<GSlot, kGSlots>(
      grads.size(), kChunk, [&](size_t k) { return GSlot{grads[k].g, grads[k].n, grads[k].bf16 ? 1 : 0}; },
      [&](size_t k) { return grads[k].n; },
      [&](const GradBatch& b, int64_t c) {
        scale_kernel<<<grid_for(c), kThreads, 0, stream>>>(b, scale);
        check_launch("clipGradNorm");
      });
}

void ema_update_cuda(const std::vector<EmaSlot>& slots, cuda_stream stream) {
  for_batches<ESlot, 48>(
      slots.size(), kChunk,
      [&](size_t k) { return ESlot{slots[k].h, slots[k].e, slots[k].n, slots[k].e_bf16 ? 1 : 0, slots[k].b2}; },
      [&](size_t k) { return slots[k].n; },
      [&](const EmaBatch& b, int64_t c) {
        ema_kernel<<<grid_for(c), kThreads, 0, stream>>>(b);
        check_launch("SophiaG.updateHessian");
      });
}

}  // namespace lmf::kernels
