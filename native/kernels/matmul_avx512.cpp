// AVX-512 micro-kernels: 14 x 32 (28 zmm accumulators, 2 for B, A broadcast straight from memory into the
// FMA). 28 independent chains cover the FMA latency of two 512-bit pipes with room to spare, and the
// (14 + 32) / (14 * 32) load-to-FMA ratio is the best that fits 32 registers.
// The bf16 "dot" kernel has the same shape over k pairs, with vdpbf16ps doing two k per instruction.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's _mm512_undefined_* helpers initialise a variable from itself; once inlined into a
// target-attributed function that trips -Wmaybe-uninitialized, a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "../runtime/cpu_features.h"
#include "matmul_ukernels.h"
#include "simd.h"

#if LMF_X86_TIERS
#include <cpuid.h>

#include "matmul_x86.h"
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

namespace lmf::kernels::gemm {

#if LMF_X86_TIERS
namespace {

constexpr int MR = 14, NR = 32;

// The AVX-512 tier plus AVX512-BF16 (vdpbf16ps), which kernels_avx512 checks before using it.
#define LMF_AVX512BF16 __attribute__((target(LMF_ISA_AVX512 ",avx512bf16")))

LMF_TARGET_AVX512 inline void store_tile(__m512 (&acc)[MR][2], float* c, int64_t ldc, float alpha, float beta) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (beta == 0.0f) {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(acc[i][0], va));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(acc[i][1], va));
    }
  } else {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      float* cr = c + i * ldc;
      _mm512_storeu_ps(cr, _mm512_fmadd_ps(_mm512_loadu_ps(cr), vb, _mm512_mul_ps(acc[i][0], va)));
      _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(_mm512_loadu_ps(cr + 16), vb, _mm512_mul_ps(acc[i][1], va)));
    }
  }
}

// The C tile is touched only after the k loop; fetching it now hides the miss (C comes from L2 or beyond
// when K is split into blocks, and every output line is written).
LMF_TARGET_AVX512 inline void prefetch_tile(float* c, int64_t ldc) {
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
}

LMF_TARGET_AVX512 void ukernel_avx512(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc,
                                      float alpha, float beta) {
  const float* a = static_cast<const float*>(a_);
  const float* b = static_cast<const float*>(b_);
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  prefetch_tile(c, ldc);
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  store_tile(acc, c, ldc, alpha, beta);
}

LMF_AVX512BF16 void ukernel_avx512_bf16(int64_t kp, const void* a_, const void* b_, float* c, int64_t ldc,
                                        float alpha, float beta) {
  const int* a = static_cast<const int*>(a_);
  const uint32_t* b = static_cast<const uint32_t*>(b_);
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  prefetch_tile(c, ldc);
#pragma GCC unroll 2
  for (int64_t q = 0; q < kp; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(a[i]);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
    }
    a += MR;
    b += NR;
  }
  store_tile(acc, c, ldc, alpha, beta);
}

// Loads that widen f32/bf16/f16 to fp32 lanes (vcvtph2ps for f16 is part of AVX512F and F16C).
template <DType D> struct Wide;
template <> struct Wide<DType::f32> {
  LMF_TARGET_AVX512 static __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
  LMF_TARGET_AVX512 static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
};
template <> struct Wide<DType::bf16> {
  LMF_TARGET_AVX512 static __m512 load16(const uint16_t* p, __mmask16 m) { return simd::bf16x16_load(p, m); }
  LMF_TARGET_AVX512 static __m256 load8(const uint16_t* p) { return simd::bf16x8_load(p); }
};
template <> struct Wide<DType::f16> {
  LMF_TARGET_AVX512 static __m512 load16(const uint16_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
  LMF_TARGET_AVX512 static __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};

// Packers to fp32. Copy case (i contiguous): one masked load and store per k and vector. Transpose case
// (k contiguous: row-major A, and the transposed B of backward passes): 8 x 8 in-register transposes,
// which move a value in about a quarter of a cycle where a scalar loop needs one or more.
template <int R, DType D>
LMF_TARGET_AVX512 void pack_copy(float* dst, const typename Elem<D>::T* src, int64_t sk, int64_t n, int64_t kc) {
  // k outer: each source row segment is read once, front to back, which the hardware prefetcher
  // follows; panel-outer order would walk the source with a stride of sk and measured 5-10% slower.
  const int64_t full = n / R, rem = n - full * R;
  for (int64_t k = 0; k < kc; ++k) {
    const auto* s = src + k * sk;
    float* d = dst + k * R;
    for (int64_t q = 0; q < full; ++q, s += R, d += kc * R) {
#pragma GCC unroll 2
      for (int v = 0; v < (R + 15) / 16; ++v) {
        const int lanes = std::min(16, R - 16 * v);
        const __mmask16 m = static_cast<__mmask16>((1u << lanes) - 1);
        _mm512_mask_storeu_ps(d + 16 * v, m, Wide<D>::load16(s + 16 * v, m));
      }
    }
    if (rem) {
      for (int v = 0; v < (R + 15) / 16; ++v) {
        const int lanes = std::min(16, R - 16 * v);
        const int valid = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(lanes, rem - 16 * v)));
        const __mmask16 store_m = static_cast<__mmask16>((1u << lanes) - 1);
        const __mmask16 load_m = static_cast<__mmask16>((1u << valid) - 1);
        _mm512_mask_storeu_ps(d + 16 * v, store_m, Wide<D>::load16(s + 16 * v, load_m));
      }
    }
  }
}


// D names the source dtype; D = f32 also moves bf16 k pairs, which are 32-bit units.
template <int R, DType D, typename T>
LMF_TARGET_AVX512 void pack_transpose(float* dst, const T* src, int64_t si, int64_t n, int64_t kc) {
  const int64_t k8 = kc & ~int64_t(7);
  for (int64_t p = 0; p < n; p += R, dst += kc * R) {
    const int rn = static_cast<int>(n - p < R ? n - p : R);
    for (int g = 0; g < R; g += 8) {
      const int gn = std::max(0, std::min(8, rn - g));  // source rows present in this group
      const int gw = std::min(8, R - g);                // lanes this group owns in the panel
      const __mmask8 wm = static_cast<__mmask8>((1u << gw) - 1);
      const T* rows[8];
      for (int r = 0; r < 8; ++r) rows[r] = src + (p + g + std::min(r, std::max(gn - 1, 0))) * si;
      for (int64_t k = 0; k < k8; k += 8) {
        __m256 v[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) v[r] = r < gn ? Wide<D>::load8(rows[r] + k) : _mm256_setzero_ps();
        transpose8(v);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) _mm256_mask_storeu_ps(dst + (k + j) * R + g, wm, v[j]);
      }
      for (int64_t k = k8; k < kc; ++k)
        for (int r = 0; r < gw; ++r) dst[k * R + g + r] = r < gn ? Elem<D>::load(rows[r][k]) : 0.0f;
    }
  }
}

template <int R, DType D>
LMF_TARGET_AVX512 void pack_wide(void* dst, const void* src_, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  using T = typename Elem<D>::T;
  const T* src = static_cast<const T*>(src_);
  if (si == 1)
    pack_copy<R, D>(static_cast<float*>(dst), src, sk, n, kc);
  else if (sk == 1)
    pack_transpose<R, D>(static_cast<float*>(dst), src, si, n, kc);
  else
    pack_generic<R, D>(dst, src_, si, sk, n, kc);
}

// bf16 k-pair packers for the dot kernel. Copy case: zero-extend row k and shift row k+1 into the high
// halves. Transpose case: a pair is already one aligned 32-bit unit, so it is the fp32 transpose.
template <int R>
LMF_TARGET_AVX512 void pack_pairs(void* dst_, const void* src_, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  const uint16_t* src = static_cast<const uint16_t*>(src_);
  const int64_t kp = (kc + 1) / 2;
  if (sk == 1 && si % 2 == 0 && reinterpret_cast<uintptr_t>(src) % 4 == 0 && kc % 2 == 0) {
    const float* s32 = reinterpret_cast<const float*>(src);  // bit copies only, never arithmetic
    pack_transpose<R, DType::f32>(static_cast<float*>(dst_), s32, si / 2, n, kp);
    return;
  }
  if (si != 1) {
    pack_pairs_generic<R>(dst_, src_, si, sk, n, kc);
    return;
  }
  // Pair q of every panel first (as in pack_copy): rows 2q and 2q+1 are read front to back.
  uint32_t* dst = static_cast<uint32_t*>(dst_);
  for (int64_t q = 0; q < kp; ++q) {
    const bool has1 = 2 * q + 1 < kc;
    for (int64_t p = 0; p < n; p += R) {
      const int rn = static_cast<int>(n - p < R ? n - p : R);
      const uint16_t* s0 = src + p + 2 * q * sk;
      uint32_t* d = dst + p * kp + q * R;
#pragma GCC unroll 2
      for (int v = 0; v < (R + 15) / 16; ++v) {
        const int lanes = std::min(16, R - 16 * v), valid = std::max(0, std::min(lanes, rn - 16 * v));
        const __mmask16 store_m = static_cast<__mmask16>((1u << lanes) - 1);
        const __mmask16 load_m = static_cast<__mmask16>((1u << valid) - 1);
        const __m512i lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(load_m, s0 + 16 * v));
        const __m512i hi = has1 ? _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(load_m, s0 + sk + 16 * v))
                                : _mm512_setzero_si512();
        _mm512_mask_storeu_epi32(d + 16 * v, store_m, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
      }
    }
  }
}

// ---- AMX-BF16 (Sapphire Rapids and later): tile matrix multiply for bf16 inputs. ----
// Measured on the 2-core Xeon: vdpbf16ps runs at ~0.55x the fp32 FMA rate in flops (117 against 211
// GFLOP/s per CPU-second for the two micro-kernels alone), so the "dot" kernel made bf16 GEMMs slower than
// fp32; one TDPBF16PS does 16 x 16 x 32 multiply-adds and the tile unit measured 2.8 TFLOP/s per core.
// The micro-kernel is 32 x 32 (four 16 x 16 fp32 C tiles, two A and two B tiles: all eight registers).
// k runs in blocks of 16 pairs (32 k), the tile depth: packed panels are zero-padded to whole blocks.
constexpr int AMX_MR = 32, AMX_NR = 32;
constexpr int64_t AMX_PAIRS = 16;  // pairs per tile row of A (64 bytes) = rows of a B tile

#define LMF_AMX __attribute__((target(LMF_ISA_AVX512 ",amx-tile,amx-bf16")))

// Linux hands out the 8 KB of tile state only on request (arch_prctl ARCH_REQ_XCOMP_PERM, once per
// process); without the CPU bits, the OS enabling them in XCR0, or the permission, bf16 stays on vdpbf16ps.
bool amx_supported() {
  static const bool ok = [] {
#if defined(__linux__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
    if (!amx_bf16 || !amx_tile || !cpu_features().avx512bf16) return false;
    __get_cpuid(1, &a, &b, &c, &d);
    if (!((c >> 27) & 1)) return false;  // OSXSAVE
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if (((lo >> 17) & 3) != 3) return false;  // XTILECFG and XTILEDATA enabled by the OS
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return ok;
}

std::atomic<bool> g_amx_enabled{true};

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Every tile is 16 rows x 64 bytes. The configuration is per thread: pool threads keep it between calls.
LMF_AMX inline void amx_configure() {
  static thread_local bool configured = false;
  if (configured) return;
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
  configured = true;
}

// C (32 x 32) = alpha * A @ B + beta * C. A panel: per block of 16 pairs, two 16 x 16 tiles of pairs
// (rows 0-15, then 16-31), 1 KB each, row-major (row = m). B panel: the dot layout [pairs][32 columns],
// of which a tile is 16 pair rows x 16 columns at a row stride of 128 bytes.
LMF_AMX void ukernel_amx(int64_t kp, const void* a_, const void* b_, float* c, int64_t ldc, float alpha, float beta) {
  const char* a = static_cast<const char*>(a_);
  const char* b = static_cast<const char*>(b_);
  amx_configure();
  const bool direct = alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
  const int64_t stride_c = direct ? ldc * 4 : AMX_NR * 4;
  alignas(64) float tmp[AMX_MR * AMX_NR];
  float* out = direct ? c : tmp;
  if (direct && beta == 1.0f) {
    _tile_loadd(0, out, stride_c);
    _tile_loadd(1, out + 16, stride_c);
    _tile_loadd(2, out + 16 * (stride_c / 4), stride_c);
    _tile_loadd(3, out + 16 * (stride_c / 4) + 16, stride_c);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t q = 0; q < kp; q += AMX_PAIRS) {
    _tile_loadd(4, a, 64);
    _tile_loadd(5, a + 1024, 64);
    _tile_loadd(6, b, AMX_NR * 4);
    _tile_loadd(7, b + 64, AMX_NR * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    a += 2048;
    b += AMX_PAIRS * AMX_NR * 4;
  }
  _tile_stored(0, out, stride_c);
  _tile_stored(1, out + 16, stride_c);
  _tile_stored(2, out + 16 * (stride_c / 4), stride_c);
  _tile_stored(3, out + 16 * (stride_c / 4) + 16, stride_c);
  if (direct) return;
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int i = 0; i < AMX_MR; ++i)
    for (int v = 0; v < AMX_NR; v += 16) {
      const __m512 x = _mm512_mul_ps(_mm512_load_ps(tmp + i * AMX_NR + v), va);
      float* cr = c + i * ldc + v;
      _mm512_storeu_ps(cr, beta == 0.0f ? x : _mm512_fmadd_ps(_mm512_loadu_ps(cr), vb, x));
    }
}

inline int64_t amx_pairs_padded(int64_t kc) { return ((kc + 1) / 2 + AMX_PAIRS - 1) / AMX_PAIRS * AMX_PAIRS; }

// A (n x kc bf16, element (i, k) at src[i*si + k*sk]) into AMX A panels (see ukernel_amx). Rows with k
// contiguous (row-major A) move 32 values per masked load. Other layouts (A transposed, as in weight
// gradients) go through the dot layout [pairs][32 rows] (pack_pairs, vectorised for m contiguous) and an
// 8 x 8 in-register transpose of 32-bit pairs per tile, instead of gathering one value at a time.
LMF_TARGET_AVX512 void pack_a_amx(void* dst_, const void* src_, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  const uint16_t* src = static_cast<const uint16_t*>(src_);
  const int64_t kpad = amx_pairs_padded(kc), blocks = kpad / AMX_PAIRS;
  if (sk != 1) {
    uint32_t* dst = static_cast<uint32_t*>(dst_);
    static thread_local std::vector<uint32_t> pairs;
    pairs.resize(static_cast<size_t>(kpad * AMX_MR));
    for (int64_t p = 0; p < n; p += AMX_MR) {
      const int64_t kp = (kc + 1) / 2;
      pack_pairs<AMX_MR>(pairs.data(), src + p * si, si, sk, std::min<int64_t>(AMX_MR, n - p), kc);
      std::memset(pairs.data() + kp * AMX_MR, 0, sizeof(uint32_t) * (kpad - kp) * AMX_MR);
      // Block qb of the panel: dst[(qb * 32 + i) * 16 + qq] = pairs[(qb * 16 + qq) * 32 + i].
      for (int64_t qb = 0; qb < blocks; ++qb)
        pack_transpose<AMX_PAIRS, DType::f32>(reinterpret_cast<float*>(dst + p * kpad + qb * AMX_MR * AMX_PAIRS),
                                              reinterpret_cast<const float*>(pairs.data() + qb * AMX_PAIRS * AMX_MR),
                                              AMX_MR, AMX_PAIRS, AMX_MR);
    }
    return;
  }
  uint16_t* dst = static_cast<uint16_t*>(dst_);
  for (int64_t p = 0; p < n; p += AMX_MR) {
    uint16_t* panel = dst + p * kpad * 2;
    for (int r = 0; r < AMX_MR; ++r) {
      const int64_t i = p + r;
      uint16_t* row = panel + r * 32;  // 32 bf16 per tile row; rows 16-31 form the second tile
      for (int64_t qb = 0; qb < blocks; ++qb) {
        const int64_t k0 = qb * 32, kn = i < n ? std::max<int64_t>(0, std::min<int64_t>(32, kc - k0)) : 0;
        const __mmask32 m = kn >= 32 ? 0xffffffffu : static_cast<__mmask32>((1u << kn) - 1);
        _mm512_storeu_si512(row + qb * 1024, _mm512_maskz_loadu_epi16(m, src + i * si + k0));
      }
    }
  }
}

// B into the dot layout, one 32-column panel at a time (pack_pairs), each zero-padded to whole blocks.
LMF_TARGET_AVX512 void pack_b_amx(void* dst_, const void* src_, int64_t si, int64_t sk, int64_t n, int64_t kc) {
  uint32_t* dst = static_cast<uint32_t*>(dst_);
  const uint16_t* src = static_cast<const uint16_t*>(src_);
  const int64_t kp = (kc + 1) / 2, kpad = amx_pairs_padded(kc);
  for (int64_t p = 0; p < n; p += AMX_NR) {
    uint32_t* panel = dst + p * kpad;
    pack_pairs<AMX_NR>(panel, src + p * si, si, sk, std::min<int64_t>(AMX_NR, n - p), kc);
    std::memset(panel + kp * AMX_NR, 0, sizeof(uint32_t) * (kpad - kp) * AMX_NR);
  }
}

template <DType D>
LMF_TARGET_AVX512 void epilogue_avx512(void* c_, const float* src, int64_t n, float beta, const void* bias_,
                                       const void* res_) {
  using T = typename Elem<D>::T;
  T* c = static_cast<T*>(c_);
  const T* bias = static_cast<const T*>(bias_);
  const T* res = static_cast<const T*>(res_);
  const __m512 vb = _mm512_set1_ps(beta);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = static_cast<__mmask16>(n - j >= 16 ? 0xffff : (1u << (n - j)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, src + j);
    if (beta != 0.0f) v = _mm512_fmadd_ps(vb, Wide<D>::load16(c + j, m), v);
    if (bias) v = _mm512_add_ps(v, Wide<D>::load16(bias + j, m));
    if (res) v = _mm512_add_ps(v, Wide<D>::load16(res + j, m));
    if constexpr (D == DType::f32) {
      _mm512_mask_storeu_ps(c + j, m, v);
    } else if constexpr (D == DType::bf16) {
      simd::bf16x16_store(c + j, v, m);
    } else {
      _mm256_mask_storeu_epi16(c + j, m, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
  }
}

}  // namespace

void kernels_avx512(DType dt, KernelSet& ks) {
  ks.mr = MR;
  ks.nr = NR;
  // Zen 5 (48 KB L1d, 1 MB L2): KC = 384 keeps a B micro-panel (48 KB) streaming through L1 with the
  // C tile prefetched; the A block (448 x 384 fp32, 688 KB) sits in L2. KC 192/256 measured 5-15% slower
  // (more passes over C), 512 no better. The bf16 dot kernel takes the same bytes per panel.
  ks.mc = 14 * 32;
  ks.kc = 384;
  ks.nc = 4096;
  fill_generic_packers<MR, NR>(ks);
  ks.pack_a[0] = pack_wide<MR, DType::f32>;
  ks.pack_a[1] = pack_wide<MR, DType::bf16>;
  ks.pack_a[2] = pack_wide<MR, DType::f16>;
  ks.pack_b[0] = pack_wide<NR, DType::f32>;
  ks.pack_b[1] = pack_wide<NR, DType::bf16>;
  ks.pack_b[2] = pack_wide<NR, DType::f16>;
  ks.epilogue[0] = epilogue_avx512<DType::f32>;
  ks.epilogue[1] = epilogue_avx512<DType::bf16>;
  ks.epilogue[2] = epilogue_avx512<DType::f16>;
  if (dt == DType::bf16 && g_amx_enabled.load(std::memory_order_relaxed) && amx_supported()) {
    ks.name = "amx-bf16-32x32";
    ks.mr = AMX_MR;
    ks.nr = AMX_NR;
    ks.dot = true;
    ks.pair_align = AMX_PAIRS;
    // C a row band at a time: measured 2.5x faster at N = 2048 with page-aligned bf16 C (and 1.8x at
    // N = 8192), the same elsewhere; the fp32 kernel measured 18% slower at N = 8192 that way.
    ks.rows_outer = true;
    // KC 1024 (512 pairs): a B micro-panel is 64 KB, the A block (MC x KC bf16) 1 MB in L2.
    ks.mc = 16 * AMX_MR;
    ks.kc = 1024;
    ks.ukernel = ukernel_amx;
    ks.pack_a[1] = pack_a_amx;
    ks.pack_b[1] = pack_b_amx;
  } else if (dt == DType::bf16 && cpu_features().avx512bf16) {
    ks.name = "avx512bf16-14x32";
    ks.dot = true;
    ks.kc = 768;
    ks.ukernel = ukernel_avx512_bf16;
    ks.pack_a[1] = pack_pairs<MR>;
    ks.pack_b[1] = pack_pairs<NR>;
  } else {
    ks.name = "avx512-14x32";
    ks.dot = false;
    ks.ukernel = ukernel_avx512;
    // Rows outer with a B panel in about 60% of L2 (KC x NC fp32: 384 x 800, 1.2 MB of a 2 MB L2): the A
    // micro-panel (14 x 384, 21 KB) stays in L1 across the row band while B micro-panels stream from L2.
    // Columns outer kept the B micro-panel (48 KB, all of a 48 KB L1) against A micro-panels streaming past
    // it, and with NC = 4096 re-read a 6 MB B panel from L3 for every MC block. Measured on a 2 MB-L2 Xeon:
    // the reference step 661-677 -> 637-651 ms (alternated), the N = 8192 products +6-18% (bench/NOTES.md).
    // An unknown L2 counts as 1 MB (Zen 4/5: NC 384).
    const long l2 = cpu_features().l2_bytes > 0 ? cpu_features().l2_bytes : 1L << 20;
    ks.rows_outer = true;
    ks.nc = std::clamp<int64_t>(l2 * 6 / 10 / (ks.kc * 4) / NR * NR, 8 * NR, 4096);
  }
}

void set_amx_enabled(bool on) { g_amx_enabled.store(on, std::memory_order_relaxed); }

#else

void kernels_avx512(DType dt, KernelSet& ks) { kernels_portable(dt, ks); }
void set_amx_enabled(bool) {}

#endif

}  // namespace lmf::kernels::gemm
