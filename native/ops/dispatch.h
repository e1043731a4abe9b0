// Device dispatch for the op files: the one place that decides whether a CUDA twin can be called.
//
// Kernel headers declare their CUDA twins with an `lmf::cuda_stream` last argument (an opaque
// CUstream_st*, the same type as cudaStream_t) so that they compile without CUDA headers. The twins
// are only linked into a build with CUDA (CMake with nvcc, which defines LMF_WITH_CUDA); in any other
// build, LMF_CUDA_TWIN throws the "built without CUDA support" DeviceError instead of naming a symbol
// that does not exist.
#pragma once
#include "../core/error.h"
#include "../runtime/cuda_runtime.h"

#if defined(LMF_WITH_CUDA)
#define LMF_CUDA_TWIN(op, call) \
  do {                          \
    call;                       \
  } while (0)
#else
#define LMF_CUDA_TWIN(op, call) LMF_THROW(device, op, ::lmf::cuda_unavailable_reason())
#endif
