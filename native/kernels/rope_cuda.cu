// CUDA twin of rope.h: a [T, d/2] cos/sin table computed on the device in double (as the CPU twin's
// table) and rounded to the compute type, then one thread per rotated pair (plus the pass-through dims).
#include "cuda_common.cuh"
#include "rope.h"

namespace lmf::kernels {
namespace {

template <class C>
__global__ void rope_table_kernel(C* cs, C* sn, int64_t Tn, int64_t half, int64_t offset, int64_t d, double base) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < Tn * half; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = k / half, i = k % half;
    const double theta = pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(d));
    const double a = static_cast<double>(offset + t) * theta;
    cs[k] = static_cast<C>(cos(a));
    sn[k] = static_cast<C>(sin(a));
  }
}

// Thread k < rows * half rotates pair k; the threads after that copy the pass-through dims (y != x).
template <class T>
__global__ void rope_kernel(T* y, const T* x, const cu::acc_t<T>* cs, const cu::acc_t<T>* sn, int64_t rows, int64_t Tn, int64_t D,
                            int64_t d, bool interleaved, cu::acc_t<T> sgn) {
  using C = cu::acc_t<T>;
  const int64_t half = d / 2, pass = D - d;
  const int64_t npairs = rows * half, total = npairs + (y != x ? rows * pass : 0);
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    if (k < npairs) {
      const int64_t r = k / half, i = k % half, t = r % Tn;
      const C c = cs[t * half + i], s = sgn * sn[t * half + i];
      const int64_t ia = r * D + (interleaved ? 2 * i : i), ib = r * D + (interleaved ? 2 * i + 1 : i + half);
      const C a = cu::ld(x, ia), b = cu::ld(x, ib);
      cu::st(y, ia, a * c - b * s);
      cu::st(y, ib, a * s + b * c);
    } else {
      const int64_t q = k - npairs, r = q / pass, j = d + q % pass;
      y[r * D + j] = x[r * D + j];
    }
  }
}

}  // namespace

void rope_cuda(void* y, const void* x, DType dtype, const RopeParams& p, bool inverse, cuda_stream stream) {
  const int64_t rows = p.B * p.H * p.T, half = p.rotary_dims / 2;
  if (rows == 0 || p.D == 0) return;
  const char* op = inverse ? "rope backward" : "rope";
  cu::dispatch_float(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using C = cu::acc_t<T>;
    cu::Scratch table(static_cast<size_t>(2 * p.T * (half > 0 ? half : 1)) * sizeof(C));
    C* cs = table.as<C>();
    C* sn = cs + p.T * half;
    if (half > 0)
      rope_table_kernel<C><<<cu::grid_for(p.T * half), cu::kThreads, 0, stream>>>(cs, sn, p.T, half, p.offset, p.rotary_dims, p.base);
    const int64_t total = rows * half + (y != x ? rows * (p.D - p.rotary_dims) : 0);
    if (total > 0)
      rope_kernel<T><<<cu::grid_for(total), cu::kThreads, 0, stream>>>(static_cast<T*>(y), static_cast<const T*>(x), cs, sn, rows, p.T, p.D,
                                                                       p.rotary_dims, p.interleaved, inverse ? C(-1) : C(1));
  });
  LMF_CUDA_LAUNCHED(op);
}

}  // namespace lmf::kernels
