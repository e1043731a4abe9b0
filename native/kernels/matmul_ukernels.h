// Private to the matmul family: the micro-kernel and packer tables each CPU tier provides, and the
// generic packers they share. matmul_cpu.cpp (the driver) picks one table per call.
//
// Packed layouts. A block of n rows (or B columns) by kc is stored as ceil(n / R) panels; panel p holds,
// for each k, the R values of rows p*R .. p*R+R-1 (zero beyond n), so the micro-kernel reads both
// operands with unit stride. "Dot" tables (AVX512-BF16) store k in pairs: one 32-bit unit holds the bf16
// values of k = 2q (low half) and 2q+1 (high half), zero-padded when kc is odd.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "math.h"

namespace lmf::kernels::gemm {

// C (mr x nr, fp32, row stride ldc) = alpha * (A panel @ B panel) + beta * C; beta == 0 never reads C.
// `units` is kc, or the number of k pairs for dot kernels.
using UKernel = void (*)(int64_t units, const void* a, const void* b, float* c, int64_t ldc, float alpha,
                         float beta);

// Packs n x kc of src, element (i, k) at src[i*si + k*sk], into panels of R (see above).
using PackFn = void (*)(void* dst, const void* src, int64_t si, int64_t sk, int64_t n, int64_t kc);

// One row of the epilogue: c[j] = round(src[j] + beta * c[j] + bias[j] + res[j]) for j < n, in the dtype;
// beta == 0 never reads c, bias and res may be null. src may alias c (fp32 C accumulated in place).
using EpilogueFn = void (*)(void* c, const float* src, int64_t n, float beta, const void* bias, const void* res);

struct KernelSet {
  const char* name = nullptr;
  int mr = 0, nr = 0;
  int64_t mc = 0, kc = 0, nc = 0;  // cache blocking; kc counts k (not pairs)
  bool dot = false;                // packed units are bf16 pairs
  int64_t pair_align = 1;          // dot packers pad each panel's pairs to a multiple of this (AMX: 16)
  bool rows_outer = false;         // driver loop order over micro-tiles (see matmul_cpu.cpp)
  UKernel ukernel = nullptr;
  PackFn pack_a[3] = {};           // indexed by DType f32, bf16, f16
  PackFn pack_b[3] = {};
  EpilogueFn epilogue[3] = {};
};

// One filler per tier, picked by matmul_cpu.cpp with simd.h's pick_tier. Each reads the extra features it
// may use (AVX512-BF16, F16C) from cpu_features(). A tier not compiled for this architecture is never
// picked; its filler gives the portable set.
using KernelsFn = void (*)(DType dt, KernelSet& ks);
void kernels_avx512(DType dt, KernelSet& ks);
void kernels_avx2(DType dt, KernelSet& ks);
void kernels_neon(DType dt, KernelSet& ks);
void kernels_portable(DType dt, KernelSet& ks);

// The AVX-512 tier runs bf16 on AMX tiles where the CPU and OS allow it (default on); off, it falls back
// to vdpbf16ps or widening. For tests that cover both bf16 kernels on one machine.
void set_amx_enabled(bool on);

template <DType D> struct Elem;
template <> struct Elem<DType::f32> {
  using T = float;
  static float load(float x) { return x; }
  static float store(float x) { return x; }
};
template <> struct Elem<DType::bf16> {
  using T = uint16_t;
  static float load(uint16_t h) { return math::bf16_to_f32(h); }
  static uint16_t store(float f) { return math::f32_to_bf16(f); }
};
template <> struct Elem<DType::f16> {
  using T = uint16_t;
  static float load(uint16_t h) { return math::f16_to_f32(h); }
  static uint16_t store(float f) { return math::f32_to_f16(f); }
};

// Portable packer to fp32. The two loop orders keep the source reads sequential for the two common
// layouts: k contiguous (rows of A, columns of a transposed B) or i contiguous.
template <int R, DType D>
void pack_generic(void* dst_, const void* src_, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  using T = typename Elem<D>::T;
  float* dst = static_cast<float*>(dst_);
  const T* src = static_cast<const T*>(src_);
  for (int64_t p = 0; p < n; p += R, dst += kc * R) {
    const int rn = static_cast<int>(n - p < R ? n - p : R);
    if (sk == 1 && si != 1) {
      for (int r = 0; r < rn; ++r) {
        const T* s = src + (p + r) * si;
        for (int64_t k = 0; k < kc; ++k) dst[k * R + r] = Elem<D>::load(s[k]);
      }
      for (int r = rn; r < R; ++r)
        for (int64_t k = 0; k < kc; ++k) dst[k * R + r] = 0.0f;
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const T* s = src + p * si + k * sk;
        float* d = dst + k * R;
        if (si == 1) {
          for (int r = 0; r < rn; ++r) d[r] = Elem<D>::load(s[r]);
        } else {
          for (int r = 0; r < rn; ++r) d[r] = Elem<D>::load(s[r * si]);
        }
        for (int r = rn; r < R; ++r) d[r] = 0.0f;
      }
    }
  }
}

// Portable packer of bf16 into k pairs for dot kernels.
template <int R>
void pack_pairs_generic(void* dst_, const void* src_, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  uint32_t* dst = static_cast<uint32_t*>(dst_);
  const uint16_t* src = static_cast<const uint16_t*>(src_);
  const int64_t kp = (kc + 1) / 2;
  for (int64_t p = 0; p < n; p += R, dst += kp * R) {
    const int rn = static_cast<int>(n - p < R ? n - p : R);
    if (sk == 1 && si != 1) {
      for (int r = 0; r < rn; ++r) {
        const uint16_t* s = src + (p + r) * si;
        for (int64_t q = 0; q < kc / 2; ++q)
          dst[q * R + r] = s[2 * q] | (static_cast<uint32_t>(s[2 * q + 1]) << 16);
        if (kc & 1) dst[(kp - 1) * R + r] = s[kc - 1];
      }
      for (int r = rn; r < R; ++r)
        for (int64_t q = 0; q < kp; ++q) dst[q * R + r] = 0;
    } else {
      for (int64_t q = 0; q < kp; ++q) {
        const uint16_t* s0 = src + p * si + 2 * q * sk;
        const bool has1 = 2 * q + 1 < kc;
        uint32_t* d = dst + q * R;
        for (int r = 0; r < rn; ++r) {
          const uint32_t lo = s0[r * si], hi = has1 ? s0[r * si + sk] : 0u;
          d[r] = lo | (hi << 16);
        }
        for (int r = rn; r < R; ++r) d[r] = 0;
      }
    }
  }
}

template <DType D>
void epilogue_generic(void* c_, const float* src, int64_t n, float beta, const void* bias_, const void* res_) {
  using T = typename Elem<D>::T;
  T* c = static_cast<T*>(c_);
  const T* bias = static_cast<const T*>(bias_);
  const T* res = static_cast<const T*>(res_);
  for (int64_t j = 0; j < n; ++j) {
    float v = src[j];
    if (beta != 0.0f) v += beta * Elem<D>::load(c[j]);
    if (bias) v += Elem<D>::load(bias[j]);
    if (res) v += Elem<D>::load(res[j]);
    c[j] = Elem<D>::store(v);
  }
}

template <int MR, int NR>
void fill_generic_packers(KernelSet& ks) {
  ks.epilogue[0] = epilogue_generic<DType::f32>;
  ks.epilogue[1] = epilogue_generic<DType::bf16>;
  ks.epilogue[2] = epilogue_generic<DType::f16>;
  ks.pack_a[0] = pack_generic<MR, DType::f32>;
  ks.pack_a[1] = pack_generic<MR, DType::bf16>;
  ks.pack_a[2] = pack_generic<MR, DType::f16>;
  ks.pack_b[0] = pack_generic<NR, DType::f32>;
  ks.pack_b[1] = pack_generic<NR, DType::bf16>;
  ks.pack_b[2] = pack_generic<NR, DType::f16>;
}

}  // namespace lmf::kernels::gemm
