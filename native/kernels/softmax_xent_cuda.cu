// CUDA twin of softmax_xent.h: one block per row. The max is taken in the compute type, exp(x - max) is
// summed per thread in fp32 (double for float64 data, like the CPU twin's lanes) and the lanes are added
// and the log taken in double.
#include <cmath>

#include "cuda_common.cuh"
#include "index_fault.h"
#include "softmax_xent.h"

namespace lmf::kernels {
namespace {

constexpr int kRowThreads = 256;

// Log-sum-exp of the n values x[i * s], every thread of the block gets it. NaN anywhere gives NaN;
// a row of -inf gives -inf.
template <class T>
__device__ double row_lse(const T* x, int64_t n, int64_t s, double* shared) {
  using A = cu::acc_t<T>;
  A m = A(-INFINITY);
  int nan = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const A v = cu::ld(x, i * s);
    nan |= v != v;
    m = v > m ? v : m;
  }
  nan = __syncthreads_or(nan);
  if (nan) return NAN;
  const double mall = cu::block_max<double>(static_cast<double>(m), shared);
  if (mall == -INFINITY) return -INFINITY;
  const A mm = static_cast<A>(mall);
  A acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += exp(cu::ld(x, i * s) - mm);
  const double sum = cu::block_sum<double>(static_cast<double>(acc), shared);
  return mall + log(sum);
}

template <class T>
__global__ void softmax_kernel(T* y, const T* x, int64_t n, int64_t inner, bool log_out) {
  __shared__ double shared[32];
  const int64_t r = blockIdx.x;
  const int64_t base = (r / inner) * n * inner + r % inner;
  const double lse = row_lse(x + base, n, inner, shared);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const double v = static_cast<double>(cu::ld(x, base + i * inner)) - lse;
    cu::st(y, base + i * inner, log_out ? v : exp(v));
  }
}

// status[0]: first bad target (index_fault.h); status[1]: rows with a valid target.
template <class T>
__global__ void xent_fwd_kernel(double* loss, double* lse_out, unsigned long long* status, const T* x, const int32_t* target, XentParams p) {
  __shared__ double shared[32];
  const int64_t r = blockIdx.x;
  const T* row = x + r * p.V;
  const double l = row_lse(row, p.V, 1, shared);
  if (threadIdx.x == 0) {
    lse_out[r] = l;
    const int32_t t = target[r];
    if (t == p.ignore_index) {
      loss[r] = 0.0;
    } else if (t < 0 || t >= p.V) {
      loss[r] = NAN;
      atomicMin(status, static_cast<unsigned long long>(index_fault_key(r, t)));
    } else {
      loss[r] = l - static_cast<double>(cu::ld(row, t)) + p.z_loss * l * l;
      atomicAdd(status + 1, 1ull);
    }
  }
}

template <class T>
__global__ void xent_bwd_kernel(T* dx, unsigned long long* fault, const T* x, const int32_t* target, const double* lse, const double* row_grad,
                                XentParams p) {
  using A = cu::acc_t<T>;
  const int64_t r = blockIdx.x;
  const T* row = x + r * p.V;
  T* drow = dx + r * p.V;
  const int32_t t = target[r];
  if (t != p.ignore_index && (t < 0 || t >= p.V)) {  // never read: a NaN row, and the fault word
    for (int64_t j = threadIdx.x; j < p.V; j += blockDim.x) cu::st(drow, j, static_cast<double>(NAN));
    if (threadIdx.x == 0) atomicMin(fault, static_cast<unsigned long long>(index_fault_key(r, t)));
    return;
  }
  const double g = t == p.ignore_index ? 0.0 : row_grad[r];
  const double scale = g * (1.0 + 2.0 * p.z_loss * lse[r]);
  const A l = static_cast<A>(lse[r]), sc = static_cast<A>(scale);
  for (int64_t j = threadIdx.x; j < p.V; j += blockDim.x) {
    if (j == t) {  // the target entry, in double: scale * softmax - g
      const double sm = exp(static_cast<double>(cu::ld(row, j)) - lse[r]);
      cu::st(drow, j, scale * sm - g);
    } else {
      cu::st(drow, j, sc * exp(A(cu::ld(row, j)) - l));
    }
  }
}

}  // namespace

void softmax_forward_cuda(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, bool log, cuda_stream stream) {
  const int64_t rows = outer * inner;
  if (rows == 0 || n == 0) return;
  LMF_CHECK(rows <= INT32_MAX, value, "softmax", "too many rows for one CUDA grid: " << rows);
  cu::dispatch_float(dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T><<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(static_cast<T*>(out), static_cast<const T*>(in), n, inner, log);
  });
  LMF_CUDA_LAUNCHED(log ? "logSoftmax" : "softmax");
}

void xent_forward_cuda(double* loss, double* lse, uint64_t* status, const void* logits, DType dtype, const int32_t* target,
                       const XentParams& p, cuda_stream stream) {
  if (p.N == 0) return;
  LMF_CHECK(p.N <= INT32_MAX, value, "crossEntropy", "too many rows for one CUDA grid: " << p.N);
  cu::dispatch_float(dtype, "crossEntropy", [&](auto tag) {
    using T = decltype(tag);
    xent_fwd_kernel<T><<<static_cast<unsigned>(p.N), kRowThreads, 0, stream>>>(loss, lse, reinterpret_cast<unsigned long long*>(status),
                                                                               static_cast<const T*>(logits), target, p);
  });
  LMF_CUDA_LAUNCHED("crossEntropy");
}

void xent_backward_cuda(void* dlogits, uint64_t* fault, const void* logits, DType dtype, const int32_t* target, const double* lse,
                        const double* row_grad, const XentParams& p, cuda_stream stream) {
  if (p.N == 0) return;
  LMF_CHECK(p.N <= INT32_MAX, value, "crossEntropy backward", "too many rows for one CUDA grid: " << p.N);
  cu::dispatch_float(dtype, "crossEntropy backward", [&](auto tag) {
    using T = decltype(tag);
    xent_bwd_kernel<T><<<static_cast<unsigned>(p.N), kRowThreads, 0, stream>>>(
        static_cast<T*>(dlogits), reinterpret_cast<unsigned long long*>(fault), static_cast<const T*>(logits), target, lse, row_grad, p);
  });
  LMF_CUDA_LAUNCHED("crossEntropy backward");
}

}  // namespace lmf::kernels
