// Multi-tensor launch helper shared by optim_cuda.cu and quant8_cuda.cu (included by .cu files only).
//
// A fused optimizer step touches every parameter tensor of a model (a GPT has one to a few hundred). The
// slot descriptors travel as a kernel argument (a Batch of at most N slots, well under the 4 KiB parameter
// limit), so a step needs no device allocation and no host-to-device copy: each batch is one launch over
// the chunks of its slots, and a block finds its slot by scanning the batch's chunk offsets.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/error.h"

namespace lmf::kernels::optim_cuda {

template <class S, int N>
struct Batch {
  int count;
  int64_t first[N + 1];  // chunk index where slot k starts; first[count] = chunks in the batch
  S s[N];
};

// Which slot chunk c belongs to (count <= N, a short scan that every thread of the block does alike).
template <class S, int N>
__device__ __forceinline__ int slot_of(const Batch<S, N>& b, int64_t c) {
  int k = 0;
  while (k + 1 < b.count && c >= b.first[k + 1]) ++k;
  return k;
}

inline void check_launch(const char* op) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) LMF_THROW(internal, op, "kernel launch failed: " << cudaGetErrorString(e));
}

// Calls launch(batch, chunks) for consecutive groups of at most N slots; make(k) builds slot k's descriptor,
// size(k) its element count; chunk elements per block.
template <class S, int N, class Make, class Size, class Launch>
void for_batches(size_t count, int64_t chunk, Make make, Size size, Launch launch) {
  for (size_t k0 = 0; k0 < count; k0 += N) {
    Batch<S, N> b{};
    b.count = 0;
    int64_t c = 0;
    for (size_t k = k0; k < std::min(count, k0 + N); ++k) {
      if (size(k) == 0) continue;
      b.first[b.count] = c;
      b.s[b.count] = make(k);
      c += (size(k) + chunk - 1) / chunk;
      ++b.count;
    }
    b.first[b.count] = c;
    if (c > 0) launch(b, c);
  }
}

}  // namespace lmf::kernels::optim_cuda
