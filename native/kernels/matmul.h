// GEMM with fused epilogue: for each batch b,
//   C[b] = alpha * A[b] @ B[b] + beta * C[b] + bias (broadcast over rows) + residual[b]
// A is M x K, B is K x N, C is M x N, all of one dtype (f32, bf16 or f16), accumulation in fp32.
// Any transpose is expressed through strides (in elements): A(b, m, k) = A[b*bs_a + m*rs_a + k*cs_a].
// A batch stride of 0 broadcasts that operand over the batch. C must have unit column stride.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

struct GemmParams {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  DType dtype = DType::f32;
  const void* a = nullptr;
  int64_t bs_a = 0, rs_a = 0, cs_a = 0;
  const void* b = nullptr;
  int64_t bs_b = 0, rs_b = 0, cs_b = 0;
  void* c = nullptr;
  int64_t bs_c = 0, rs_c = 0;
  float alpha = 1.0f;
  float beta = 0.0f;              // 0 means C is write-only (its old contents, even NaN, are ignored)
  const void* bias = nullptr;     // N values of dtype, or null
  const void* residual = nullptr; // of dtype, or null; element (b, m, n) at bs_r*b + rs_r*m + n
  int64_t bs_r = 0, rs_r = 0;
};

// Runs on the thread pool (runtime/thread_pool.h) and dispatches on cpu_features() to the best
// micro-kernel: AVX-512 (with AVX512-BF16 for bf16 inputs), AVX2+FMA, NEON, or portable C++.
void matmul_forward_cpu(const GemmParams& p);

// float64 GEMM for checking (gradcheck, references): straightforward loops in double, same params.
void matmul_f64_cpu(const GemmParams& p);

// CUDA twin (kernels/matmul_cuda.cu): cuBLASLt when loaded and able to express p (bias epilogue,
// residual as C with beta 1), else lmforge's tiled kernel. All pointers are device pointers.
void matmul_forward_cuda(const GemmParams& p, cuda_stream stream);
// The tiled kernel alone, whatever cuBLASLt can do (tests compare both engines; benchmarks time both).
void matmul_fallback_cuda(const GemmParams& p, cuda_stream stream);

// Name of the micro-kernel the current CPU tier selects for dtype, e.g. "avx512-14x32" (for benchmarks).
const char* matmul_kernel_name(DType dtype);

}  // namespace lmf::kernels
