// CUDA twin of matmul.h: cuBLASLt (runtime/cublaslt.cu) when it is loaded and can express the call,
// otherwise lmforge's own tiled kernel below, which handles every stride, batch broadcast and epilogue.
// The fallback is a plain shared-memory tiling (64x64 tile, 4x4 outputs per thread, fp32 accumulation;
// double for float64): correct everywhere, a fraction of cuBLASLt's speed.
#include <cstdio>
#include <mutex>
#include <string>

#include "../runtime/cublaslt.h"
#include "cuda_common.cuh"
#include "matmul.h"

namespace lmf::kernels {
namespace {

constexpr int kTile = 64, kTileK = 16, kPer = 4;  // 16x16 threads, each 4x4 outputs

template <class T>
__global__ void __launch_bounds__(256) gemm_fallback(GemmParams p) {
  using A = cu::acc_t<T>;
  __shared__ A sa[kTileK][kTile + 1];
  __shared__ A sb[kTileK][kTile + 1];
  const int64_t b = blockIdx.z;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTile, n0 = static_cast<int64_t>(blockIdx.x) * kTile;
  const T* a = static_cast<const T*>(p.a) + b * p.bs_a;
  const T* bm = static_cast<const T*>(p.b) + b * p.bs_b;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  A acc[kPer][kPer] = {};
  for (int64_t k0 = 0; k0 < p.K; k0 += kTileK) {
    for (int i = threadIdx.x; i < kTileK * kTile; i += 256) {
      const int kk = i / kTile, mm = i % kTile;
      const int64_t m = m0 + mm, k = k0 + kk;
      sa[kk][mm] = (m < p.M && k < p.K) ? A(cu::ld(a, m * p.rs_a + k * p.cs_a)) : A(0);
      const int64_t n = n0 + mm;
      sb[kk][mm] = (n < p.N && k < p.K) ? A(cu::ld(bm, k * p.rs_b + n * p.cs_b)) : A(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      A av[kPer], bv[kPer];
#pragma unroll
      for (int i = 0; i < kPer; ++i) av[i] = sa[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < kPer; ++j) bv[j] = sb[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < kPer; ++i)
#pragma unroll
        for (int j = 0; j < kPer; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
  T* c = static_cast<T*>(p.c) + b * p.bs_c;
  const T* bias = static_cast<const T*>(p.bias);
  const T* res = static_cast<const T*>(p.residual);
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int64_t m = m0 + ty + 16 * i;
    if (m >= p.M) continue;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int64_t n = n0 + tx + 16 * j;
      if (n >= p.N) continue;
      A v = A(p.alpha) * acc[i][j];
      if (p.beta != 0.0f) v += A(p.beta) * A(cu::ld(c, m * p.rs_c + n));
      if (bias) v += A(cu::ld(bias, n));
      if (res) v += A(cu::ld(res, b * p.bs_r + m * p.rs_r + n));
      cu::st(c, m * p.rs_c + n, v);
    }
  }
}

void warn_fallback_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::string why;
    cublaslt_available(&why);
    std::fprintf(stderr, "lmforge: cuBLASLt is not available (%s); GEMM runs lmforge's fallback kernel, which is much slower\n",
                 why.c_str());
  });
}

}  // namespace

void matmul_fallback_cuda(const GemmParams& p, cuda_stream stream) {
  if (p.M == 0 || p.N == 0 || p.batch == 0) return;
  LMF_CHECK(p.batch <= 65535, value, "matmul", "batch of " << p.batch << " exceeds the CUDA fallback kernel's grid (65535)");
  const dim3 grid(static_cast<unsigned>((p.N + kTile - 1) / kTile), static_cast<unsigned>((p.M + kTile - 1) / kTile),
                  static_cast<unsigned>(p.batch));
  cu::dispatch_float(p.dtype, "matmul", [&](auto tag) {
    using T = decltype(tag);
    gemm_fallback<T><<<grid, 256, 0, stream>>>(p);
  });
  LMF_CUDA_LAUNCHED("matmul");
}

void matmul_forward_cuda(const GemmParams& p, cuda_stream stream) {
  if (p.M == 0 || p.N == 0 || p.batch == 0) return;
  if (cublaslt_gemm(p, stream)) return;
  std::string why;
  if (!cublaslt_available(&why)) warn_fallback_once();
  matmul_fallback_cuda(p, stream);
}

}  // namespace lmf::kernels
