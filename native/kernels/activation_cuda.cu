// CUDA twin of activation.h: one thread per output element, formulas from math.h with the device's
// exp/erf (the CPU twin uses its vectorisable approximations, within a few ulp of these).
#include "activation.h"
#include "cuda_common.cuh"

namespace lmf::kernels {
namespace {

template <class C>
struct DevFn {
  static __host__ __device__ __forceinline__ C exp(C x) { return ::exp(x); }
  static __host__ __device__ __forceinline__ C sigmoid(C x) { return C(1) / (C(1) + ::exp(-x)); }
  static __host__ __device__ __forceinline__ C erf(C x) { return ::erf(x); }
};

template <ActKind K, class T>
__global__ void act_fwd_kernel(T* y, const T* x, int64_t rows, int64_t n) {
  using C = cu::acc_t<T>;
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (!act_is_gated(K)) {
      cu::st(y, i, math::act_f<K, C, DevFn<C>>(C(cu::ld(x, i))));
    } else {
      const int64_t r = i / n, j = i % n;
      const T* a = x + r * 2 * n;
      cu::st(y, i, math::act_f<K, C, DevFn<C>>(C(cu::ld(a, j))) * C(cu::ld(a, n + j)));
    }
  }
}

template <ActKind K, class T>
__global__ void act_bwd_kernel(T* dx, const T* dy, const T* x, int64_t rows, int64_t n) {
  using C = cu::acc_t<T>;
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    C f, d;
    if constexpr (!act_is_gated(K)) {
      math::act_fd<K, C, DevFn<C>>(C(cu::ld(x, i)), f, d);
      cu::st(dx, i, C(cu::ld(dy, i)) * d);
    } else {
      const int64_t r = i / n, j = i % n;
      const T* a = x + r * 2 * n;
      T* da = dx + r * 2 * n;
      math::act_fd<K, C, DevFn<C>>(C(cu::ld(a, j)), f, d);
      const C g = C(cu::ld(dy, i));
      cu::st(da, j, g * C(cu::ld(a, n + j)) * d);
      cu::st(da, n + j, g * f);
    }
  }
}

template <class F>
void by_kind(ActKind k, F&& f) {
  switch (k) {
#define LMF_K(name) case ActKind::name: f(std::integral_constant<ActKind, ActKind::name>{}); return;
    LMF_K(relu) LMF_K(gelu_tanh) LMF_K(gelu_erf) LMF_K(silu) LMF_K(glu) LMF_K(geglu) LMF_K(swiglu) LMF_K(reglu)
#undef LMF_K
  }
}

}  // namespace

void activation_forward_cuda(void* y, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n, cuda_stream stream) {
  if (rows == 0 || n == 0) return;
  cu::dispatch_float(dtype, act_name(kind), [&](auto tag) {
    using T = decltype(tag);
    by_kind(kind, [&](auto kc) {
      act_fwd_kernel<decltype(kc)::value, T><<<cu::grid_for(rows * n), cu::kThreads, 0, stream>>>(static_cast<T*>(y), static_cast<const T*>(x), rows, n);
    });
  });
  LMF_CUDA_LAUNCHED(act_name(kind));
}

void activation_backward_cuda(void* dx, const void* dy, const void* x, DType dtype, ActKind kind, int64_t rows, int64_t n, cuda_stream stream) {
  if (rows == 0 || n == 0) return;
  cu::dispatch_float(dtype, act_name(kind), [&](auto tag) {
    using T = decltype(tag);
    by_kind(kind, [&](auto kc) {
      act_bwd_kernel<decltype(kc)::value, T><<<cu::grid_for(rows * n), cu::kThreads, 0, stream>>>(
          static_cast<T*>(dx), static_cast<const T*>(dy), static_cast<const T*>(x), rows, n);
    });
  });
  LMF_CUDA_LAUNCHED(act_name(kind));
}

}  // namespace lmf::kernels
