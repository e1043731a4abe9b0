// CUDA twin of reduce.h over [outer, n, inner]. inner == 1 (reducing a trailing run, the common case):
// one block per output, threads stride over the row and combine in a shared-memory tree. inner > 1:
// one thread per output column, walking n in order (neighbouring threads read neighbouring addresses).
// Sums accumulate in double as on the CPU; max/min keep the first index of the extreme, and NaN wins
// (the first NaN), so argmax/argmin agree with the CPU twin exactly.
#include "cuda_common.cuh"
#include "reduce.h"

namespace lmf::kernels {
namespace {

// Is (v, i) a better max (or min) than (w, j)? NaN beats numbers; ties go to the lower index.
template <bool MAX>
__device__ __forceinline__ bool better(double v, int64_t i, double w, int64_t j) {
  const bool vn = v != v, wn = w != w;
  if (vn || wn) return vn && (!wn || i < j);
  if (v == w) return i < j;
  return MAX ? v > w : v < w;
}

template <class T>
__global__ void reduce_rows_kernel(T* out, int32_t* iout, const T* in, int64_t n, ReduceOp op) {
  __shared__ double sv[256];
  __shared__ int64_t si[256];
  const T* x = in + static_cast<int64_t>(blockIdx.x) * n;
  const bool sum = op == ReduceOp::sum || op == ReduceOp::mean;
  const bool mx = op == ReduceOp::max || op == ReduceOp::argmax;
  double acc = 0.0;
  int64_t arg = INT64_MAX;
  bool have = false;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const double v = cu::ld(x, i);
    if (sum) {
      acc += v;
    } else if (!have || (mx ? better<true>(v, i, acc, arg) : better<false>(v, i, acc, arg))) {
      acc = v;
      arg = i;
      have = true;
    }
  }
  sv[threadIdx.x] = acc;
  si[threadIdx.x] = have || sum ? arg : INT64_MAX;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      const int o = threadIdx.x + s;
      if (sum) {
        sv[threadIdx.x] += sv[o];
      } else if (si[o] != INT64_MAX &&
                 (si[threadIdx.x] == INT64_MAX ||
                  (mx ? better<true>(sv[o], si[o], sv[threadIdx.x], si[threadIdx.x]) : better<false>(sv[o], si[o], sv[threadIdx.x], si[threadIdx.x])))) {
        sv[threadIdx.x] = sv[o];
        si[threadIdx.x] = si[o];
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (op == ReduceOp::argmax || op == ReduceOp::argmin) iout[blockIdx.x] = static_cast<int32_t>(si[0]);
    else cu::st(out, blockIdx.x, op == ReduceOp::mean ? sv[0] / static_cast<double>(n) : sv[0]);
  }
}

template <class T>
__global__ void reduce_cols_kernel(T* out, int32_t* iout, const T* in, int64_t outer, int64_t n, int64_t inner, ReduceOp op) {
  const bool sum = op == ReduceOp::sum || op == ReduceOp::mean;
  const bool mx = op == ReduceOp::max || op == ReduceOp::argmax;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < outer * inner; t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = t / inner, j = t % inner;
    const T* x = in + o * n * inner + j;
    double acc = sum ? 0.0 : static_cast<double>(cu::ld(x, 0));
    int64_t arg = 0;
    for (int64_t i = sum ? 0 : 1; i < n; ++i) {
      const double v = cu::ld(x, i * inner);
      if (sum) acc += v;
      else if (mx ? better<true>(v, i, acc, arg) : better<false>(v, i, acc, arg)) {
        acc = v;
        arg = i;
      }
    }
    if (op == ReduceOp::argmax || op == ReduceOp::argmin) iout[t] = static_cast<int32_t>(arg);
    else cu::st(out, t, op == ReduceOp::mean ? acc / static_cast<double>(n) : acc);
  }
}

}  // namespace

void reduce_cuda(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, ReduceOp op, cuda_stream stream) {
  if (outer == 0 || inner == 0 || n == 0) return;
  cu::dispatch_float(dtype, "reduce", [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1 && outer <= INT32_MAX) {
      reduce_rows_kernel<T><<<static_cast<unsigned>(outer), 256, 0, stream>>>(static_cast<T*>(out), static_cast<int32_t*>(out),
                                                                               static_cast<const T*>(in), n, op);
    } else {
      reduce_cols_kernel<T><<<cu::grid_for(outer * inner), cu::kThreads, 0, stream>>>(
          static_cast<T*>(out), static_cast<int32_t*>(out), static_cast<const T*>(in), outer, n, inner, op);
    }
  });
  LMF_CUDA_LAUNCHED("reduce");
}

}  // namespace lmf::kernels
