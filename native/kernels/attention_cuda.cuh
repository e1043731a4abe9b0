// Shared pieces of the CUDA attention twin (attention_cuda.cu: forward, the simple fallback kernels and the
// entry points; attention_bwd_cuda.cu: the tensor-core backward). Included by .cu files only.
//
// Tensor-core tiles use mma.sync.m16n8k16 (bf16 or fp16 in, fp32 accumulate) fed by ldmatrix from shared
// memory whose rows are padded by 8 elements (16 bytes), so that the 8 row addresses of one ldmatrix phase
// fall in distinct bank groups without a swizzle. Fragment layouts (PTX ISA, "mma.m16n8k16"): lane = 4*g + t;
// A (16x16, row): a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..);
// B (16x8, col): b0 (k 2t..2t+1, n g), b1 (k 2t+8.., n g); C (16x8): c0,c1 (g, 2t..2t+1), c2,c3 (g+8, 2t..).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "../core/error.h"
#include "attention.h"

namespace lmf::kernels::attn_cuda {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// The attention parameters as kernels read them, by value (kernel parameter space, 4 KiB): ALiBi slopes
// travel here pre-multiplied by log2(e) so that no host array has to be copied to the device.
struct Dev {
  int B, H, Hkv, Tq, Tk, D, G, off;
  int causal, alibi;
  float scale, scale_log2;  // scale and scale * log2(e)
  const int32_t* docs;      // [B, Tk] on the device, or null
  float slope_log2[kAttentionCudaMaxSlopes];
};

inline void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) LMF_THROW(internal, "attention", what << ": " << cudaGetErrorString(e));
}

// Lets `kernel` launch with `bytes` of dynamic shared memory (above 48 KiB a kernel must opt in). The
// attribute belongs to the device current at the call, so it is set once per (kernel, device): a process
// that runs attention on a second GPU sets it there too. A device that refuses (less shared memory per
// block than the kernel needs) is a DeviceError naming the kernel, not a launch failure later.
inline void allow_dynamic_smem(const void* kernel, int bytes, const char* what) {
  static std::mutex mu;
  static std::vector<std::pair<const void*, int>> done;
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) LMF_THROW(internal, "attention", what << ": cudaGetDevice failed: " << cudaGetErrorString(e));
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& d : done)
    if (d.first == kernel && d.second == dev) return;
  e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it, so that the next launch does not report it
    LMF_THROW(device, "attention", what << " needs " << bytes << " bytes of shared memory per block, which device " << dev
                                        << " refuses: " << cudaGetErrorString(e));
  }
  done.emplace_back(kernel, dev);
}

// ---- element types ----
template <typename T> struct Elem;
template <> struct Elem<float> {
  static __device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
  static __device__ __forceinline__ void store(float* p, int64_t i, float x) { p[i] = x; }
};
template <> struct Elem<__nv_bfloat16> {
  static __device__ __forceinline__ float load(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
  static __device__ __forceinline__ void store(__nv_bfloat16* p, int64_t i, float x) { p[i] = __float2bfloat16_rn(x); }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
};
template <> struct Elem<__half> {
  static __device__ __forceinline__ float load(const __half* p, int64_t i) { return __half2float(p[i]); }
  static __device__ __forceinline__ void store(__half* p, int64_t i, float x) { p[i] = __float2half_rn(x); }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
};

// ---- PTX wrappers ----
__device__ __forceinline__ uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void ldsm_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}

template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                         uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                        uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                                 uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// 2^x by the SFU (ex2.approx, relative error ~2^-22; 2^-inf = +0): exp2f without fast-math is a
// multi-instruction accurate routine, and the softmax needs one per score.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// 16-byte asynchronous copy global -> shared; when !pred nothing is read and the destination is zero-filled
// (src-size 0), which is how rows past Tq / Tk enter a tile.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool pred) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(pred ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Copies rows [r0, r0 + R) of a [rows, D] matrix into a [R, SD] shared tile with 128 threads; rows at or past
// `rows` become zeros.
template <typename T, int R, int D, int SD>
__device__ __forceinline__ void load_tile(T* s, const T* g, int r0, int rows) {
  constexpr int CH = D / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < R * CH; c += blockDim.x) {
    const int r = c / CH, x = (c % CH) * 8;
    const bool ok = r0 + r < rows;
    cp_async16(s + r * SD + x, ok ? g + static_cast<int64_t>(r0 + r) * D + x : g, ok);
  }
}

// The mask and the bias, in log2 units, of query position `pos` (document dq) against key j.
__device__ __forceinline__ bool visible(const Dev& p, int pos, int j, int dq, int dk) {
  return j < p.Tk && !(p.causal && j > pos) && !(p.docs && dk != dq);
}

// Backward kernels (attention_bwd_cuda.cu), launched by attention_backward_cuda.
void backward_tc(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v, const float* lse,
                 const float* di, float* dq_acc, const Dev& d, DType dtype, cudaStream_t st);

}  // namespace lmf::kernels::attn_cuda
