// Scalar formulas shared by the CPU and CUDA twins of every kernel family. Keep each fact here once.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define LMF_HD __host__ __device__ __forceinline__
#define LMF_HDT __host__ __device__ __forceinline__
#else
#define LMF_HD inline
// Always inlined on the host too: for formulas that must vectorise inside the CPU loops that call them.
#define LMF_HDT __attribute__((always_inline)) inline
#endif

namespace lmf::math {

// bfloat16: the upper half of a float32. The one rounding from fp32 of the library (CPU loops, CUDA
// kernels; simd.h's vector store matches it bit for bit): to nearest even, NaN kept a quiet NaN (its
// payload's top bits kept), subnormals kept. Branch-free, so that a CPU loop of it vectorises.
LMF_HDT float bf16_to_f32(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
LMF_HDT uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x40u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// IEEE half precision, with subnormals, infinities and NaN; rounding to nearest even.
LMF_HD float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112u) << 23) | (man << 13);
  } else if (man == 0) {
    u = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do { ++e; man <<= 1; } while ((man & 0x400u) == 0);
    u = sign | ((112u - e) << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
LMF_HD uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return sign | 0x7e00u;                 // NaN
  if (u >= 0x477ff000u) return sign | 0x7c00u;                // overflow (incl. rounding up) -> inf
  if (u >= 0x38800000u) {                                     // normal half
    uint32_t r = u - 0x38000000u;                             // rebias exponent 127 -> 15
    r += 0xfffu + ((r >> 13) & 1u);
    return sign | static_cast<uint16_t>(r >> 13);
  }
  if (u < 0x33000000u) return sign;                           // below half the smallest subnormal
  const uint32_t e = u >> 23, man = (u & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;                            // 14..24 for this range
  uint32_t r = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) ++r;
  return sign | static_cast<uint16_t>(r);
}

}  // namespace lmf::math

namespace lmf::math {

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based
// generator, so element i's numbers depend only on (seed, i) and not on how the work is split.
struct Philox4 {
  uint32_t v[4];
};
LMF_HD Philox4 philox4x32(uint64_t counter, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// A uniform float in [0, 1) from the top 24 bits (every value exactly representable).
LMF_HD float uniform01(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

}  // namespace lmf::math

// ---------------------------------------------------------------------------------------------------
// Formulas of the elementwise and activation families, written once for both twins. C is the compute
// type (float, or double for float64 data); Fn supplies exp/sigmoid/erf, so that the CPU twin passes its
// vectorisable approximations (simd.h's vmath) and the CUDA twin the device's libm.
#include "activation.h"
#include "elementwise.h"

namespace lmf::math {

template <kernels::UnaryOp OP, typename C>
LMF_HDT C unary_op(C x) {
  using kernels::UnaryOp;
  if constexpr (OP == UnaryOp::neg) return -x;
  if constexpr (OP == UnaryOp::exp) return std::exp(x);
  if constexpr (OP == UnaryOp::log) return std::log(x);
  if constexpr (OP == UnaryOp::sqrt) return std::sqrt(x);
  if constexpr (OP == UnaryOp::rsqrt) return C(1) / std::sqrt(x);
  if constexpr (OP == UnaryOp::abs) return std::fabs(x);
  if constexpr (OP == UnaryOp::tanh) return std::tanh(x);
  if constexpr (OP == UnaryOp::sigmoid) return C(1) / (C(1) + std::exp(-x));
  if constexpr (OP == UnaryOp::relu) return x > C(0) ? x : (x == x ? C(0) : x);  // NaN passes through
  if constexpr (OP == UnaryOp::sin) return std::sin(x);
  if constexpr (OP == UnaryOp::cos) return std::cos(x);
  if constexpr (OP == UnaryOp::square) return x * x;
  if constexpr (OP == UnaryOp::reciprocal) return C(1) / x;
  if constexpr (OP == UnaryOp::erf) return std::erf(x);
  if constexpr (OP == UnaryOp::sign) return x > C(0) ? C(1) : (x < C(0) ? C(-1) : x);  // 0 and NaN pass through
  return x;
}

template <kernels::BinaryOp OP, typename C>
LMF_HDT C binary_op(C a, C b) {
  using kernels::BinaryOp;
  if constexpr (OP == BinaryOp::add) return a + b;
  if constexpr (OP == BinaryOp::sub) return a - b;
  if constexpr (OP == BinaryOp::mul) return a * b;
  if constexpr (OP == BinaryOp::div) return a / b;
  if constexpr (OP == BinaryOp::pow) return std::pow(a, b);
  // NaN propagates from either side, as in PyTorch's maximum/minimum.
  if constexpr (OP == BinaryOp::maximum) return (a != a || b != b) ? a + b : (a < b ? b : a);
  if constexpr (OP == BinaryOp::minimum) return (a != a || b != b) ? a + b : (b < a ? b : a);
  // Comparisons give 1 or 0 in the operands' dtype (false for NaN, except ne).
  if constexpr (OP == BinaryOp::gt) return a > b ? C(1) : C(0);
  if constexpr (OP == BinaryOp::ge) return a >= b ? C(1) : C(0);
  if constexpr (OP == BinaryOp::lt) return a < b ? C(1) : C(0);
  if constexpr (OP == BinaryOp::le) return a <= b ? C(1) : C(0);
  if constexpr (OP == BinaryOp::eq) return a == b ? C(1) : C(0);
  if constexpr (OP == BinaryOp::ne) return a != b ? C(1) : C(0);
  return a;
}

// Activation value f(x) and derivative d = f'(x) for the plain kinds (the gated kinds use the same f on
// the activated half: geglu = gelu_erf, swiglu = silu, reglu = relu, glu = sigmoid).
template <kernels::ActKind K, class C, class Fn>
LMF_HDT void act_fd(C x, C& f, C& d) {
  using kernels::ActKind;
  constexpr C k0 = C(0.7978845608028654), k1 = C(0.044715);
  constexpr C inv_sqrt2 = C(0.7071067811865476), inv_sqrt2pi = C(0.3989422804014327);
  if constexpr (K == ActKind::relu || K == ActKind::reglu) {
    f = x > C(0) ? x : C(0);
    d = x > C(0) ? C(1) : C(0);
  } else if constexpr (K == ActKind::gelu_tanh) {
    const C x2 = x * x;
    const C s = Fn::sigmoid(C(2) * k0 * (x + k1 * x2 * x));  // = 0.5 (1 + tanh(u))
    f = x * s;
    d = s + x * s * (C(1) - s) * C(2) * k0 * (C(1) + C(3) * k1 * x2);
  } else if constexpr (K == ActKind::gelu_erf || K == ActKind::geglu) {
    const C cdf = C(0.5) * (C(1) + Fn::erf(x * inv_sqrt2));
    f = x * cdf;
    d = cdf + x * inv_sqrt2pi * Fn::exp(C(-0.5) * x * x);
  } else if constexpr (K == ActKind::silu || K == ActKind::swiglu) {
    const C s = Fn::sigmoid(x);
    f = x * s;
    d = s * (C(1) + x * (C(1) - s));
  } else {  // glu: sigmoid
    const C s = Fn::sigmoid(x);
    f = s;
    d = s * (C(1) - s);
  }
}
template <kernels::ActKind K, class C, class Fn>
LMF_HDT C act_f(C x) {
  using kernels::ActKind;
  if constexpr (K == ActKind::relu || K == ActKind::reglu) {
    return x > C(0) ? x : C(0);
  } else if constexpr (K == ActKind::gelu_tanh) {
    return x * Fn::sigmoid(C(2) * C(0.7978845608028654) * (x + C(0.044715) * x * x * x));
  } else if constexpr (K == ActKind::gelu_erf || K == ActKind::geglu) {
    return x * C(0.5) * (C(1) + Fn::erf(x * C(0.7071067811865476)));
  } else if constexpr (K == ActKind::silu || K == ActKind::swiglu) {
    return x * Fn::sigmoid(x);
  } else {
    return Fn::sigmoid(x);
  }
}

}  // namespace lmf::math
