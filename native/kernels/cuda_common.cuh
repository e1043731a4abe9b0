// Shared pieces of the CUDA twins (included only by .cu files): error checks that throw lmf::Error,
// element access per dtype, launch sizes and the dtype switch. The scalar conversions come from math.h,
// so the CPU and CUDA twins round bf16/f16 identically.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../core/dtype.h"
#include "../core/error.h"
#include "../runtime/cuda_runtime.h"
#include "../runtime/memory.h"
#include "math.h"

namespace lmf::cu {

// Throws the CUDA error as a NativeError naming the op (OutOfMemoryError for cudaErrorMemoryAllocation).
[[noreturn]] void throw_cuda_error(int err, const char* op, const char* file, int line);

#define LMF_CUDA_CHECK(call, op)                                                          \
  do {                                                                                    \
    const cudaError_t lmf_e_ = (call);                                                    \
    if (lmf_e_ != cudaSuccess) ::lmf::cu::throw_cuda_error(lmf_e_, (op), __FILE__, __LINE__); \
  } while (0)
// After a launch: configuration errors show up at once; faults inside the kernel surface at the next sync.
#define LMF_CUDA_LAUNCHED(op) LMF_CUDA_CHECK(cudaGetLastError(), op)

// Storage tags for the 16-bit floats (raw bits; the conversions are math.h's).
struct bf16s { uint16_t bits; };
struct f16s { uint16_t bits; };

__device__ __forceinline__ float ld(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ double ld(const double* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16s* p, int64_t i) { return math::bf16_to_f32(p[i].bits); }
__device__ __forceinline__ float ld(const f16s* p, int64_t i) { return math::f16_to_f32(p[i].bits); }
__device__ __forceinline__ float ld(const int32_t* p, int64_t i) { return static_cast<float>(p[i]); }
__device__ __forceinline__ float ld(const uint8_t* p, int64_t i) { return static_cast<float>(p[i]); }
__device__ __forceinline__ float ld(const int8_t* p, int64_t i) { return static_cast<float>(p[i]); }

__device__ __forceinline__ void st(float* p, int64_t i, double v) { p[i] = static_cast<float>(v); }
__device__ __forceinline__ void st(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(double* p, int64_t i, double v) { p[i] = v; }
__device__ __forceinline__ void st(bf16s* p, int64_t i, float v) { p[i].bits = math::f32_to_bf16(v); }
__device__ __forceinline__ void st(bf16s* p, int64_t i, double v) { p[i].bits = math::f32_to_bf16(static_cast<float>(v)); }
__device__ __forceinline__ void st(f16s* p, int64_t i, float v) { p[i].bits = math::f32_to_f16(v); }
__device__ __forceinline__ void st(f16s* p, int64_t i, double v) { p[i].bits = math::f32_to_f16(static_cast<float>(v)); }

// The compute type: double for float64 data, float for the others (fp32 accumulation for bf16/f16).
template <class T> struct Acc { using type = float; };
template <> struct Acc<double> { using type = double; };
template <class T> using acc_t = typename Acc<T>::type;

// Calls f(T{}) with the storage type of a float dtype; DTypeError otherwise.
template <class F>
void dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); return;
    case DType::bf16: f(bf16s{}); return;
    case DType::f16: f(f16s{}); return;
    case DType::f64: f(double{}); return;
    default: LMF_THROW(dtype, op, "expected a floating-point tensor (float32, bfloat16, float16, float64), got " << dtype_name(t));
  }
}
template <class F>
void dispatch_any(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); return;
    case DType::bf16: f(bf16s{}); return;
    case DType::f16: f(f16s{}); return;
    case DType::i32: f(int32_t{}); return;
    case DType::u8: f(uint8_t{}); return;
    case DType::i8: f(int8_t{}); return;
    case DType::f64: f(double{}); return;
  }
}

constexpr int kThreads = 256;
// Blocks for a grid-stride loop over n items: enough to fill any current GPU, never zero.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > (int64_t(1) << 20)) b = int64_t(1) << 20;
  return static_cast<unsigned>(b);
}

// Block-wide sum of one value per thread (blockDim.x a multiple of 32, at most 1024); every thread gets it.
template <class A>
__device__ __forceinline__ A block_sum(A v, A* shared32) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();  // shared32 may still be read by a previous call
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  A r = lane < nw ? shared32[lane] : A(0);
  for (int o = 16; o > 0; o >>= 1) r += __shfl_xor_sync(0xffffffffu, r, o);
  return r;
}
template <class A>
__device__ __forceinline__ A block_max(A v, A* shared32) {
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  A r = lane < nw ? shared32[lane] : A(-INFINITY);
  for (int o = 16; o > 0; o >>= 1) r = fmax(r, __shfl_xor_sync(0xffffffffu, r, o));
  return r;
}

// A scratch buffer from the caching allocator (counted by memory() like a tensor), released (back to the cache) at scope exit. Reuse is
// safe without a sync because every kernel runs on the device's one stream, in order.
class Scratch {
 public:
  explicit Scratch(size_t bytes) : bytes_(bytes ? bytes : 16), p_(device_alloc(bytes_, Device::cuda)) {}
  ~Scratch() { device_free(p_, bytes_, Device::cuda); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T> T* as() const { return static_cast<T*>(p_); }

 private:
  size_t bytes_;
  void* p_;
};

}  // namespace lmf::cu
