#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "dtype_io.h"
#include "elementwise.h"
#include "simd.h"

namespace lmf::kernels {
namespace {

// The formulas are math.h's (shared with the CUDA twin).
template <UnaryOp OP, typename C>
inline C unary(C x) { return math::unary_op<OP, C>(x); }
template <BinaryOp OP, typename C>
inline C binary(C a, C b) { return math::binary_op<OP, C>(a, b); }

template <UnaryOp OP, typename T>
void unary_loop(T* out, const T* a, const StridedLoop& L) {
  using C = acc_t<T>;
  for_each_row(L, [&](const int64_t* off, int64_t n, const int64_t* st) {
    T* o = out + off[0];
    const T* x = a + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) store_f(o + i, unary<OP, C>(load_f(x + i)));
    } else {
      for (int64_t i = 0; i < n; ++i) store_f(o + i * st[0], unary<OP, C>(load_f(x + i * st[1])));
    }
  });
}

template <BinaryOp OP, bool SWAP, typename T>
void binary_loop(T* out, const T* a, const T* b, double scalar_in, const StridedLoop& L) {
  using C = acc_t<T>;
  const C scalar = static_cast<C>(scalar_in);
  auto f = [](C x, C y) { return SWAP ? binary<OP, C>(y, x) : binary<OP, C>(x, y); };
  for_each_row(L, [&](const int64_t* off, int64_t n, const int64_t* st) {
    T* o = out + off[0];
    const T* x = a + off[1];
    if (!b) {
      if (st[0] == 1 && st[1] == 1) {
        for (int64_t i = 0; i < n; ++i) store_f(o + i, f(load_f(x + i), scalar));
      } else {
        for (int64_t i = 0; i < n; ++i) store_f(o + i * st[0], f(load_f(x + i * st[1]), scalar));
      }
      return;
    }
    const T* y = b + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) store_f(o + i, f(load_f(x + i), load_f(y + i)));
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const C yv = load_f(y);
      for (int64_t i = 0; i < n; ++i) store_f(o + i, f(load_f(x + i), yv));
    } else {
      for (int64_t i = 0; i < n; ++i) store_f(o + i * st[0], f(load_f(x + i * st[1]), load_f(y + i * st[2])));
    }
  });
}

template <typename O>
inline O cast_to(double v) {
  if constexpr (std::is_integral_v<O>) {
    if (v != v) return 0;
    const double lo = static_cast<double>(std::numeric_limits<O>::min());
    const double hi = static_cast<double>(std::numeric_limits<O>::max());
    if (v <= lo) return std::numeric_limits<O>::min();
    if (v >= hi) return std::numeric_limits<O>::max();
    return static_cast<O>(v);
  } else {
    O o;
    store_f(&o, v);
    return o;
  }
}

// fp32 <-> bf16 over a contiguous run, with math.h's exact conversions (nearest even, NaN kept quiet): the
// branch-free loops vectorise under each tier's target. Mixed-precision training casts every weight and
// gradient each step; through the generic loop below (via double) that took 11% of a bf16 step.
using ToBf16Fn = void (*)(uint16_t*, const float*, int64_t);
using FromBf16Fn = void (*)(float*, const uint16_t*, int64_t);
LMF_AI void to_bf16_impl(uint16_t* o, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = math::f32_to_bf16(x[i]);
}
LMF_AI void from_bf16_impl(float* o, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = math::bf16_to_f32(x[i]);
}
LMF_T512 void to_bf16_512(uint16_t* o, const float* x, int64_t n) { to_bf16_impl(o, x, n); }
LMF_T256 void to_bf16_256(uint16_t* o, const float* x, int64_t n) { to_bf16_impl(o, x, n); }
void to_bf16_portable(uint16_t* o, const float* x, int64_t n) { to_bf16_impl(o, x, n); }
LMF_T512 void from_bf16_512(float* o, const uint16_t* x, int64_t n) { from_bf16_impl(o, x, n); }
LMF_T256 void from_bf16_256(float* o, const uint16_t* x, int64_t n) { from_bf16_impl(o, x, n); }
void from_bf16_portable(float* o, const uint16_t* x, int64_t n) { from_bf16_impl(o, x, n); }

template <typename O, typename I>
void copy_loop(O* out, const I* in, const StridedLoop& L) {
  constexpr bool to_bf16 = std::is_same_v<O, bf16_t> && std::is_same_v<I, float>;
  constexpr bool from_bf16 = std::is_same_v<O, float> && std::is_same_v<I, bf16_t>;
  [[maybe_unused]] ToBf16Fn to = nullptr;
  [[maybe_unused]] FromBf16Fn from = nullptr;
  if constexpr (to_bf16) to = pick_tier<ToBf16Fn>(to_bf16_512, to_bf16_256, to_bf16_portable);
  if constexpr (from_bf16) from = pick_tier<FromBf16Fn>(from_bf16_512, from_bf16_256, from_bf16_portable);
  for_each_row(L, [&](const int64_t* off, int64_t n, const int64_t* st) {
    O* o = out + off[0];
    const I* x = in + off[1];
    if constexpr (to_bf16 || from_bf16) {
      if (st[0] == 1 && st[1] == 1) {
        if constexpr (to_bf16) to(&o->bits, x, n);
        else from(o, &x->bits, n);
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<O, I>) {
        o[i * st[0]] = x[i * st[1]];
      } else if constexpr (std::is_integral_v<O> && std::is_integral_v<I>) {
        // integer to integer: saturate through int64 (exact for every value these types hold)
        const int64_t v = static_cast<int64_t>(x[i * st[1]]);
        o[i * st[0]] = static_cast<O>(std::clamp<int64_t>(v, std::numeric_limits<O>::min(), std::numeric_limits<O>::max()));
      } else if constexpr (std::is_integral_v<I>) {
        o[i * st[0]] = cast_to<O>(static_cast<double>(x[i * st[1]]));  // exact for every int32
      } else {
        o[i * st[0]] = cast_to<O>(load_f(x + i * st[1]));
      }
    }
  });
}

// Runs f(i0, i1) over [0, n) on the pool in chunks large enough to be worth a thread.
template <typename F>
void chunks(int64_t n, F&& f) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e, int) { f(b, e); });
}

}  // namespace

void unary_forward_cpu(void* out, const void* a, const StridedLoop& loop, DType dtype, UnaryOp op) {
  dispatch_float(dtype, "unary", [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
#define LMF_X(name) \
  case UnaryOp::name: unary_loop<UnaryOp::name>(static_cast<T*>(out), static_cast<const T*>(a), loop); break;
      LMF_UNARY_OPS(LMF_X)
#undef LMF_X
    }
  });
}

void binary_forward_cpu(void* out, const void* a, const void* b, const StridedLoop& loop, const BinaryParams& p) {
  dispatch_float(p.dtype, "binary", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    switch (p.op) {
#define LMF_X(name)                                                                   \
  case BinaryOp::name:                                                                \
    if (p.swap) binary_loop<BinaryOp::name, true>(o, x, y, p.scalar, loop);           \
    else binary_loop<BinaryOp::name, false>(o, x, y, p.scalar, loop);                 \
    break;
      LMF_BINARY_OPS(LMF_X)
#undef LMF_X
    }
  });
}

void copy_cpu(void* out, DType out_dtype, const void* in, DType in_dtype, const StridedLoop& loop) {
  dispatch_any(out_dtype, [&](auto otag) {
    dispatch_any(in_dtype, [&](auto itag) {
      using O = decltype(otag);
      using I = decltype(itag);
      copy_loop(static_cast<O*>(out), static_cast<const I*>(in), loop);
    });
  });
}

void where_cpu(void* out, const void* cond, DType cond_dtype, const void* a, const void* b, DType dtype, const StridedLoop& L) {
  dispatch_any(dtype, [&](auto tag) {
    dispatch_any(cond_dtype, [&](auto ctag) {
      using T = decltype(tag);
      using K = decltype(ctag);
      T* o = static_cast<T*>(out);
      const K* c = static_cast<const K*>(cond);
      const T* x = static_cast<const T*>(a);
      const T* y = static_cast<const T*>(b);
      for_each_row(L, [&](const int64_t* off, int64_t n, const int64_t* st) {
        for (int64_t i = 0; i < n; ++i) {
          bool take_a;
          if constexpr (std::is_integral_v<K>) take_a = c[off[1] + i * st[1]] != 0;
          else take_a = load_f(c + off[1] + i * st[1]) != 0;  // NaN counts as true, as in a C test
          o[off[0] + i * st[0]] = take_a ? x[off[2] + i * st[2]] : y[off[3] + i * st[3]];
        }
      });
    });
  });
}

void fill_cpu(void* out, DType dtype, int64_t n, double value) {
  dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    T v;
    if constexpr (std::is_integral_v<T>)
      v = static_cast<T>(std::clamp<double>(value, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
    else
      v = cast_to<T>(value);
    T* o = static_cast<T*>(out);
    chunks(n, [&](int64_t b, int64_t e) { std::fill(o + b, o + e, v); });
  });
}

void arange_cpu(void* out, DType dtype, int64_t n, double start, double step) {
  dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    chunks(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const double v = start + step * static_cast<double>(i);  // no accumulated rounding
        if constexpr (std::is_integral_v<T>) o[i] = static_cast<T>(v);
        else o[i] = cast_to<T>(v);
      }
    });
  });
}

void rand_uniform_cpu(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  dispatch_float(dtype, "rand", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    chunks(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const math::Philox4 r = math::philox4x32(offset + static_cast<uint64_t>(i), seed);
        store_f(o + i, low + (high - low) * math::uniform01(r.v[0]));
      }
    });
  });
}

void rand_normal_cpu(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  dispatch_float(dtype, "randn", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    chunks(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        // Box-Muller on two uniforms of this element's counter; u1 in (0, 1] keeps the log finite.
        const math::Philox4 r = math::philox4x32(offset + static_cast<uint64_t>(i), seed);
        const float u1 = 1.0f - math::uniform01(r.v[0]);
        const float u2 = math::uniform01(r.v[1]);
        const float z = std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
        store_f(o + i, mean + std * z);
      }
    });
  });
}

}  // namespace lmf::kernels
