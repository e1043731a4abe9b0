// cuBLASLt, loaded at run time with dlopen (libcublasLt.so.13, then .12): neither the build nor a user
// without the library needs it. Without it, GEMM runs lmforge's own tiled kernel (slower; the reason
// is in cuda_gemm_engine() and printed once to stderr).
#pragma once
#include <string>

#include "../kernels/matmul.h"
#include "cuda_runtime.h"

namespace lmf {

// True when the library loaded (and LMF_CUBLASLT is not "0"); otherwise *why says what is missing.
bool cublaslt_available(std::string* why = nullptr);

// Runs p through cublasLtMatmul on `stream`. Returns false (having done nothing) when cuBLASLt cannot
// express p (strides it cannot describe, no algorithm for the shape); the caller then runs the fallback.
// Any other cuBLASLt failure throws a NativeError naming the status.
bool cublaslt_gemm(const kernels::GemmParams& p, cuda_stream stream);

}  // namespace lmf
