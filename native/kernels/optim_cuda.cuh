// Multi-tensor launch helper shared by optim_cuda.cu and adam8bit_cuda.cu (included by .cu files only). The
// batching itself (Batch, slot_of, for_batches) is cuda_launch.cuh's, where the host tests check it.
#pragma once
#include <cuda_runtime.h>

#include "../core/error.h"
#include "cuda_launch.cuh"

namespace lmf::kernels::optim_cuda {

using launch::Batch;
using launch::for_batches;
using launch::slot_of;

inline void check_launch(const char* op) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) LMF_THROW(internal, op, "kernel launch failed: " << cudaGetErrorString(e));
}

}  // namespace lmf::kernels::optim_cuda
