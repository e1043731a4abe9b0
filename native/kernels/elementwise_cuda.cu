// CUDA twin of elementwise.h. One thread per element (grid-stride); the strided loop (make_loop's merged
// dims, so contiguous operands are one dim of stride 1) is decomposed per element into operand offsets.
// Formulas are math.h's, shared with the CPU twin; arithmetic in fp32 (double for float64 data).
#include <cstring>
#include <limits>
#include <type_traits>

#include "cuda_common.cuh"
#include "elementwise.h"

namespace lmf::kernels {
namespace {

using cu::acc_t;

template <int NOPS>
__device__ __forceinline__ void offsets(const StridedLoop& L, int64_t i, int64_t* off) {
#pragma unroll
  for (int o = 0; o < NOPS; ++o) off[o] = 0;
  for (int d = L.ndim - 1; d > 0; --d) {
    const int64_t n = L.shape[d], idx = i % n;
    i /= n;
#pragma unroll
    for (int o = 0; o < NOPS; ++o) off[o] += idx * L.strides[o][d];
  }
#pragma unroll
  for (int o = 0; o < NOPS; ++o) off[o] += i * L.strides[o][0];
}

int64_t loop_numel(const StridedLoop& L) {
  int64_t n = 1;
  for (int d = 0; d < L.ndim; ++d) n *= L.shape[d];
  return n;
}

#define LMF_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <UnaryOp OP, class T>
__global__ void unary_kernel(T* out, const T* a, StridedLoop L, int64_t n) {
  using C = acc_t<T>;
  LMF_GRID_STRIDE(i, n) {
    int64_t off[2];
    offsets<2>(L, i, off);
    cu::st(out, off[0], math::unary_op<OP, C>(C(cu::ld(a, off[1]))));
  }
}

template <BinaryOp OP, class T>
__global__ void binary_kernel(T* out, const T* a, const T* b, double scalar, bool swap, StridedLoop L, int64_t n) {
  using C = acc_t<T>;
  const C s = static_cast<C>(scalar);
  LMF_GRID_STRIDE(i, n) {
    int64_t off[3];
    if (b) offsets<3>(L, i, off);
    else offsets<2>(L, i, off);
    const C x = C(cu::ld(a, off[1])), y = b ? C(cu::ld(b, off[2])) : s;
    cu::st(out, off[0], swap ? math::binary_op<OP, C>(y, x) : math::binary_op<OP, C>(x, y));
  }
}

// Float (or integer, exactly) to O with the CPU twin's rules: float to integer truncates toward zero and
// saturates, NaN becomes 0; integer to integer saturates.
template <class O>
__device__ __forceinline__ void store_cast(O* o, int64_t i, double v) {
  if constexpr (std::is_integral_v<O>) {
    O r;
    if (v != v) r = 0;
    else if (v <= static_cast<double>(std::numeric_limits<O>::min())) r = std::numeric_limits<O>::min();
    else if (v >= static_cast<double>(std::numeric_limits<O>::max())) r = std::numeric_limits<O>::max();
    else r = static_cast<O>(v);
    o[i] = r;
  } else {
    cu::st(o, i, v);
  }
}

template <class O, class I>
__global__ void copy_kernel(O* out, const I* in, StridedLoop L, int64_t n) {
  LMF_GRID_STRIDE(i, n) {
    int64_t off[2];
    offsets<2>(L, i, off);
    if constexpr (std::is_same_v<O, I>) {
      out[off[0]] = in[off[1]];
    } else if constexpr (std::is_integral_v<I>) {
      store_cast(out, off[0], static_cast<double>(in[off[1]]));  // exact for every int32
    } else {
      store_cast(out, off[0], static_cast<double>(cu::ld(in, off[1])));
    }
  }
}

// where moves elements without arithmetic: T is an unsigned integer of the element's size.
template <class T, class K>
__global__ void where_kernel(T* out, const K* cond, const T* a, const T* b, StridedLoop L, int64_t n) {
  LMF_GRID_STRIDE(i, n) {
    int64_t off[4];
    offsets<4>(L, i, off);
    bool take_a;
    if constexpr (std::is_integral_v<K>) take_a = cond[off[1]] != 0;
    else take_a = cu::ld(cond, off[1]) != 0;  // NaN counts as true, as in a C test
    out[off[0]] = take_a ? a[off[2]] : b[off[3]];
  }
}

template <class T>
__global__ void fill_kernel(T* out, T v, int64_t n) {
  LMF_GRID_STRIDE(i, n) out[i] = v;
}

template <class T>
__global__ void arange_kernel(T* out, int64_t n, double start, double step) {
  LMF_GRID_STRIDE(i, n) {
    const double v = start + step * static_cast<double>(i);  // no accumulated rounding
    if constexpr (std::is_integral_v<T>) out[i] = static_cast<T>(v);
    else store_cast(out, i, v);
  }
}

template <class T>
__global__ void uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  LMF_GRID_STRIDE(i, n) {
    const math::Philox4 r = math::philox4x32(offset + static_cast<uint64_t>(i), seed);
    cu::st(out, i, low + (high - low) * math::uniform01(r.v[0]));
  }
}

template <class T>
__global__ void normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  LMF_GRID_STRIDE(i, n) {
    // Box-Muller on two uniforms of this element's counter, as the CPU twin.
    const math::Philox4 r = math::philox4x32(offset + static_cast<uint64_t>(i), seed);
    const float u1 = 1.0f - math::uniform01(r.v[0]);
    const float u2 = math::uniform01(r.v[1]);
    const float z = sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
    cu::st(out, i, mean + std * z);
  }
}

// Calls f(U{}) with the unsigned type of an element size.
template <class F>
void by_size(size_t size, F&& f) {
  switch (size) {
    case 1: f(uint8_t{}); return;
    case 2: f(uint16_t{}); return;
    case 4: f(uint32_t{}); return;
    default: f(uint64_t{}); return;
  }
}

}  // namespace

void unary_forward_cuda(void* out, const void* a, const StridedLoop& loop, DType dtype, UnaryOp op, cuda_stream stream) {
  const int64_t n = loop_numel(loop);
  if (n == 0) return;
  cu::dispatch_float(dtype, "unary", [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
#define LMF_X(name)                                                                                                 \
  case UnaryOp::name:                                                                                               \
    unary_kernel<UnaryOp::name, T><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<T*>(out), static_cast<const T*>(a), loop, n); \
    break;
      LMF_UNARY_OPS(LMF_X)
#undef LMF_X
    }
  });
  LMF_CUDA_LAUNCHED("unary");
}

void binary_forward_cuda(void* out, const void* a, const void* b, const StridedLoop& loop, const BinaryParams& p, cuda_stream stream) {
  const int64_t n = loop_numel(loop);
  if (n == 0) return;
  cu::dispatch_float(p.dtype, "binary", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    switch (p.op) {
#define LMF_X(name)                                                                                                  \
  case BinaryOp::name:                                                                                               \
    binary_kernel<BinaryOp::name, T><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(o, x, y, p.scalar, p.swap, loop, n); \
    break;
      LMF_BINARY_OPS(LMF_X)
#undef LMF_X
    }
  });
  LMF_CUDA_LAUNCHED("binary");
}

void copy_cuda(void* out, DType out_dtype, const void* in, DType in_dtype, const StridedLoop& loop, cuda_stream stream) {
  const int64_t n = loop_numel(loop);
  if (n == 0) return;
  if (out_dtype == in_dtype) {  // a move: by element size, fewer instantiations
    by_size(dtype_size(out_dtype), [&](auto tag) {
      using U = decltype(tag);
      copy_kernel<U, U><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<U*>(out), static_cast<const U*>(in), loop, n);
    });
  } else {
    cu::dispatch_any(out_dtype, [&](auto otag) {
      cu::dispatch_any(in_dtype, [&](auto itag) {
        using O = decltype(otag);
        using I = decltype(itag);
        if constexpr (!std::is_same_v<O, I>)
          copy_kernel<O, I><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<O*>(out), static_cast<const I*>(in), loop, n);
      });
    });
  }
  LMF_CUDA_LAUNCHED("copy");
}

void where_cuda(void* out, const void* cond, DType cond_dtype, const void* a, const void* b, DType dtype, const StridedLoop& loop,
                cuda_stream stream) {
  const int64_t n = loop_numel(loop);
  if (n == 0) return;
  by_size(dtype_size(dtype), [&](auto tag) {
    using T = decltype(tag);
    cu::dispatch_any(cond_dtype, [&](auto ctag) {
      using K = decltype(ctag);
      where_kernel<T, K><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<T*>(out), static_cast<const K*>(cond),
                                                                         static_cast<const T*>(a), static_cast<const T*>(b), loop, n);
    });
  });
  LMF_CUDA_LAUNCHED("where");
}

void fill_cuda(void* out, DType dtype, int64_t n, double value, cuda_stream stream) {
  if (n == 0) return;
  // The CPU twin converts the value (saturation, rounding); its one element is the pattern to repeat.
  uint64_t pattern = 0;
  fill_cpu(&pattern, dtype, 1, value);
  by_size(dtype_size(dtype), [&](auto tag) {
    using U = decltype(tag);
    U v;
    std::memcpy(&v, &pattern, sizeof v);
    fill_kernel<U><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<U*>(out), v, n);
  });
  LMF_CUDA_LAUNCHED("full");
}

void arange_cuda(void* out, DType dtype, int64_t n, double start, double step, cuda_stream stream) {
  if (n == 0) return;
  cu::dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    arange_kernel<T><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<T*>(out), n, start, step);
  });
  LMF_CUDA_LAUNCHED("arange");
}

void rand_uniform_cuda(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float low, float high, cuda_stream stream) {
  if (n == 0) return;
  cu::dispatch_float(dtype, "rand", [&](auto tag) {
    using T = decltype(tag);
    uniform_kernel<T><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<T*>(out), n, seed, offset, low, high);
  });
  LMF_CUDA_LAUNCHED("rand");
}

void rand_normal_cuda(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float mean, float std, cuda_stream stream) {
  if (n == 0) return;
  cu::dispatch_float(dtype, "randn", [&](auto tag) {
    using T = decltype(tag);
    normal_kernel<T><<<cu::grid_for(n), cu::kThreads, 0, stream>>>(static_cast<T*>(out), n, seed, offset, mean, std);
  });
  LMF_CUDA_LAUNCHED("randn");
}

}  // namespace lmf::kernels
