// CUDA twin of embedding.h. Forward: one thread per output element. Backward: atomicAdd of each
// gradient row into an fp32 (double for float64) accumulator; the order of the adds varies between
// runs, so sums of repeated indices can differ in the last bits from run to run (the CPU twin is
// deterministic; a sorted segment reduction would be too, at the cost of a sort).
#include <cstring>
#include <type_traits>

#include "cuda_common.cuh"
#include "embedding.h"
#include "index_fault.h"

namespace lmf::kernels {
namespace {

// Each index outside [0, V) lowers the fault word once (from its column 0).
__device__ __forceinline__ void report_bad_index(unsigned long long* fault, int64_t i, int64_t c, int32_t ix) {
  if (c == 0) atomicMin(fault, static_cast<unsigned long long>(index_fault_key(i, ix)));
}

template <class T>
__global__ void embedding_fwd_kernel(T* out, unsigned long long* fault, const T* w, const int32_t* index, int64_t N, int64_t V, int64_t D,
                                     T nan) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < N * D; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / D, c = k % D;
    const int32_t ix = index[i];
    if (ix >= 0 && ix < V) {
      out[k] = w[static_cast<int64_t>(ix) * D + c];
    } else {
      out[k] = nan;
      report_bad_index(fault, i, c, ix);
    }
  }
}

template <class A, class T>
__global__ void embedding_bwd_kernel(A* dw, unsigned long long* fault, const T* dout, const int32_t* index, int64_t N, int64_t V, int64_t D) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < N * D; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / D, c = k % D;
    const int32_t ix = index[i];
    if (ix >= 0 && ix < V)
      atomicAdd(dw + static_cast<int64_t>(ix) * D + c, static_cast<A>(cu::ld(dout, k)));
    else
      report_bad_index(fault, i, c, ix);
  }
}

}  // namespace

void embedding_forward_cuda(void* out, uint64_t* fault, const void* weight, const int32_t* index, int64_t N, int64_t V, int64_t D,
                            DType dtype, cuda_stream stream) {
  if (N == 0 || D == 0) return;
  const uint64_t nan_word = nan_bits(dtype);
  cu::dispatch_any(dtype, [&](auto tag) {  // a gather: any dtype, moved by element
    using T = decltype(tag);
    T nan;
    std::memcpy(&nan, &nan_word, sizeof(T));  // little-endian: the low bytes
    embedding_fwd_kernel<T><<<cu::grid_for(N * D), cu::kThreads, 0, stream>>>(
        static_cast<T*>(out), reinterpret_cast<unsigned long long*>(fault), static_cast<const T*>(weight), index, N, V, D, nan);
  });
  LMF_CUDA_LAUNCHED("embedding");
}

void embedding_backward_cuda(void* dweight, uint64_t* fault, DType acc_dtype, const void* dout, DType dtype, const int32_t* index, int64_t N,
                             int64_t V, int64_t D, cuda_stream stream) {
  if (N == 0 || D == 0) return;
  cu::dispatch_float(dtype, "embedding backward", [&](auto tag) {
    using T = decltype(tag);
    using A = cu::acc_t<T>;
    LMF_CHECK(((acc_dtype == DType::f64) == std::is_same_v<A, double>), internal, "embedding backward", "accumulator dtype mismatch");
    embedding_bwd_kernel<A, T><<<cu::grid_for(N * D), cu::kThreads, 0, stream>>>(
        static_cast<A*>(dweight), reinterpret_cast<unsigned long long*>(fault), static_cast<const T*>(dout), index, N, V, D);
  });
  LMF_CUDA_LAUNCHED("embedding backward");
}

}  // namespace lmf::kernels
