// CPU twin of the 8-bit blockwise state (adam8bit.h): the dynamic maps, blockwise (de)quantisation and the
// fused 8-bit Adam step. Loops are compiled per CPU tier and picked with simd.h's pick_tier, like optim_cpu.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../runtime/thread_pool.h"
#include "optim.h"
#include "adam8bit.h"
#include "optim_avx512.h"
#include "simd.h"

#if LMF_X86_TIERS
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#if defined(__GNUC__)
#define LMF_Q8_INLINE inline __attribute__((always_inline))
#else
#define LMF_Q8_INLINE inline
#endif

namespace lmf::kernels {

using namespace lmf::optim;

namespace {

// bitsandbytes' create_dynamic_map(signed, max_exponent_bits = 7, total_bits = 8): for exponent i = 0..6,
// the midpoints of linspace(0.1, 1, k + 1) scaled by 10^(i - 6), with k = 2^i fraction values signed
// (and their negatives) or 2^(i+1) unsigned; then 0 and 1; sorted. 127 + 127 + 2 or 254 + 2 = 256 values.
// Computed in double (10^(i-6) as a division by an exact power of ten) and rounded once to float, so a
// float64 reference can rebuild the identical map.
void build_codes(bool is_signed, float* out) {
  std::vector<double> data;
  const int max_exp = 7, non_sign_bits = 7;
  for (int i = 0; i < max_exp; ++i) {
    const int items = is_signed ? (1 << (i + non_sign_bits - max_exp)) : (1 << (i + non_sign_bits - max_exp + 1));
    double pow10 = 1;
    for (int k = 0; k < max_exp - 1 - i; ++k) pow10 *= 10.0;
    const double step = 0.9 / items;
    for (int k = 0; k < items; ++k) {
      const double b0 = 0.1 + k * step, b1 = 0.1 + (k + 1) * step;
      const double mean = (b0 + b1) / 2.0 / pow10;
      data.push_back(mean);
      if (is_signed) data.push_back(-mean);
    }
  }
  data.push_back(0.0);
  data.push_back(1.0);
  std::vector<float> f(data.size());
  for (size_t k = 0; k < data.size(); ++k) f[k] = static_cast<float>(data[k]);
  std::sort(f.begin(), f.end());
  for (int k = 0; k < 256; ++k) out[k] = f[k];
}

// Nearest code by the midpoint rule: the number of midpoints strictly below x.
int nearest_slow(const Quant8Map& q, float x) {
  int i = 0;
  while (i < 255 && x > q.mid[i]) ++i;
  return i;
}

float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void build_map(bool is_signed, Quant8Map& q) {
  build_codes(is_signed, q.code);
  for (int k = 0; k < 255; ++k) q.mid[k] = static_cast<float>((static_cast<double>(q.code[k]) + q.code[k + 1]) / 2.0);
  q.mid[255] = std::numeric_limits<float>::infinity();
  q.zero = 0;
  for (int k = 0; k < 256; ++k)
    if (q.code[k] == 0.0f) q.zero = static_cast<uint8_t>(k);
  int refine = 0;
  for (uint32_t key = 0; key < 65536; ++key) {
    const bool neg = key & 0x8000u;
    const uint32_t lo_bits = key << 16, hi_bits = (key << 16) | 0xffffu;
    float lo = float_of(neg ? hi_bits : lo_bits), hi = float_of(neg ? lo_bits : hi_bits);
    if (std::isnan(lo) || std::isnan(hi)) {
      q.table[key] = q.zero;
      continue;
    }
    const int a = nearest_slow(q, lo), b = nearest_slow(q, hi);
    q.table[key] = static_cast<uint8_t>(a);
    refine = std::max(refine, b - a);
  }
  q.refine = refine;
}

struct Maps {
  Quant8Map s, u;
  Maps() {
    build_map(true, s);
    build_map(false, u);
  }
};

const Maps& maps() {
  static const Maps m;
  return m;
}

LMF_Q8_INLINE float load_g(const float* g, int64_t i) { return g[i]; }
LMF_Q8_INLINE float load_g(const uint16_t* g, int64_t i) { return math::bf16_to_f32(g[i]); }

template <int R>
LMF_Q8_INLINE uint8_t nearest_fixed(const Quant8Map& q, float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  int i = q.table[u >> 16];
  for (int r = 0; r < R; ++r) i += x > q.mid[i];
  return static_cast<uint8_t>(i);
}

// One block [b, e) of one slot (e - b <= 256, b a multiple of 256).
template <typename G, bool W16>
LMF_Q8_INLINE void adam8_block(const Adam8Slot& s, int64_t b, int64_t e, const Quant8Map& qs, const Quant8Map& qu) {
  float m[kQuant8Block], v[kQuant8Block];
  const int64_t blk = b / kQuant8Block, len = e - b;
  const AdamCoef c = s.adam;
  const float A1 = s.a1[blk], A2 = s.a2[blk];
  float* __restrict w = s.w + b;
  const G* __restrict g = static_cast<const G*>(s.g) + b;
  uint8_t* __restrict c1 = s.c1 + b;
  uint8_t* __restrict c2 = s.c2 + b;
  float mx1 = 0, mx2 = 0;
  for (int64_t i = 0; i < len; ++i) {
    float mi = qs.code[c1[i]] * A1, vi = qu.code[c2[i]] * A2;
    const float gi = load_g(g, i) + c.l2 * w[i];
    adam_moments(gi, mi, vi, c);
    m[i] = mi;
    v[i] = vi;
    mx1 = std::max(mx1, std::fabs(mi));
    mx2 = std::max(mx2, vi);
  }
  for (int64_t i = 0; i < len; ++i) {
    float wi = w[i];
    adam_apply(wi, m[i], v[i], c);
    w[i] = wi;
    if constexpr (W16) s.w16[b + i] = math::f32_to_bf16(wi);
  }
  s.a1[blk] = mx1;
  s.a2[blk] = mx2;
  const float r1 = mx1 > 0 ? 1.0f / mx1 : 0.0f, r2 = mx2 > 0 ? 1.0f / mx2 : 0.0f;
  if (qs.refine == 2 && qu.refine == 2) {
    for (int64_t i = 0; i < len; ++i) {
      c1[i] = quant8_keep_sign(nearest_fixed<2>(qs, m[i] * r1), m[i], qs.zero);
      c2[i] = nearest_fixed<2>(qu, v[i] * r2);
    }
  } else {
    for (int64_t i = 0; i < len; ++i) {
      c1[i] = quant8_keep_sign(quant8_nearest(qs, m[i] * r1), m[i], qs.zero);
      c2[i] = quant8_nearest(qu, v[i] * r2);
    }
  }
}

LMF_Q8_INLINE void adam8_range(const Adam8Slot& s, int64_t b, int64_t e) {
  const Quant8Map& qs = maps().s;
  const Quant8Map& qu = maps().u;
  for (int64_t x = b; x < e; x += kQuant8Block) {
    const int64_t y = std::min(e, x + kQuant8Block);
    if (s.g_bf16) {
      if (s.w16) adam8_block<uint16_t, true>(s, x, y, qs, qu); else adam8_block<uint16_t, false>(s, x, y, qs, qu);
    } else {
      if (s.w16) adam8_block<float, true>(s, x, y, qs, qu); else adam8_block<float, false>(s, x, y, qs, qu);
    }
  }
}

using Adam8Fn = void (*)(const Adam8Slot&, int64_t, int64_t);

void adam8_portable(const Adam8Slot& s, int64_t b, int64_t e) { adam8_range(s, b, e); }
#if LMF_X86_TIERS
LMF_TARGET_AVX2 void adam8_avx2(const Adam8Slot& s, int64_t b, int64_t e) { adam8_range(s, b, e); }
// ---- AVX-512: the nearest code by arithmetic, not by search ----
// The nearest code is the number of midpoints strictly below x (ties go to the lower code, NaN to the code
// of 0): what quant8_nearest computes. The maps' positive midpoints follow a formula. Between the map's 0
// and its 1.0 lie 8 "boundary" midpoints B_0..B_7 (0 | group 0 | group 1 | ... | group 6 | 1.0); inside
// group g (n_g codes: 2^g signed, 2^(g+1) unsigned, at 10^(g-6) (0.1 + 0.9 (k + 1/2) / n_g)) the midpoints
// sit at the integers 1 .. n_g - 1 of t(a) = (a 10^(6-g) - 0.1) n_g / 0.9 (the linspace boundaries, up to
// float rounding). So for a >= 0: G = how many B lie below a (each binary octave of a holds at most one B,
// so a per-octave table of that B and of the count below the octave, and one compare), then the count is
// floor(t(a) + the midpoints below group G - 1) clamped to the group's range: one fused multiply-add, with
// per-G factors. t carries float rounding (1.5e-5 at most here, measured by build_arith), so a lane whose t
// lies within kArithEps of an integer is recomputed by quant8_nearest: build_arith checks, midpoint by
// midpoint, that every float the formula would misplace, and every tie (which the signed map's negative
// side counts the other way), is such a lane. The codes then equal quant8_nearest's for every input. About
// one lane in 8000 takes that path (the gathers it replaces made the step ~6x slower than fp32 AdamW; the
// binary search and the byte-table search before this were 1.2-1.4x slower than this).
// The signed map is symmetric but for 1.0 (mid[126 - j] == -mid[127 + j], checked): it counts the c of its
// 128 positive midpoints below |x| and gives 127 + c for x >= 0, 127 - min(c', 127) for x < 0, where c'
// counts the midpoints <= |x| (x below a negative midpoint m means |x| above -m; at a tie x == m the
// midpoint is not below x).
constexpr int kArithE0 = 103;  // the octave [2^-24, 2^-23) and everything below it (no boundary) share an entry
constexpr float kArithEps = 1.0f / 16384;
// The range |x| is clamped to before its octave is read: 2^-24 (octave kArithE0, below both maps' first
// boundary, which build_arith checks) and the float below 256 (octave kArithE0 + 31).
constexpr float kArithTiny = 0x1p-24f, kArithBig = 0x1.fffffep+7f;

struct alignas(64) ArithMap {
  float bnd[32];                // per octave (biased exponent E clamped to [103, 134], at E & 31): its boundary, or +inf
  int32_t below[32];            // per octave: the boundaries below it (9 for the top one: values >= 128, inf, NaN)
  float scale[16], offset[16];  // per G: t = a * scale - offset, the count below group G - 1 included
  int32_t lo[16], hi[16];       // per G: the count is floor(t) clamped to [lo, hi]
  bool ok;                      // the checks held (else the scalar loops run)
};

float arith_t(const ArithMap& t, int G, float a) { return std::fma(a, t.scale[G], -t.offset[G]); }
bool arith_flagged(float tt) { return std::fabs(tt - std::nearbyint(tt)) < kArithEps; }

void build_arith(const Quant8Map& q, bool is_signed, ArithMap& t) {
  std::memset(&t, 0, sizeof t);
  const int first = is_signed ? 127 : 0, count = is_signed ? 128 : 255;
  const float* P = q.mid + first;  // the positive midpoints searched
  bool ok = P[0] > kArithTiny && (!is_signed || q.zero == 127);
  for (int j = 0; is_signed && j < 127; ++j) ok = ok && q.mid[126 - j] == -q.mid[127 + j];
  int n[7], at[8];  // group sizes; the index of B_G in P
  at[0] = 0;
  for (int g = 0; g < 7; ++g) {
    n[g] = is_signed ? 1 << g : 2 << g;
    at[g + 1] = at[g] + n[g];
  }
  if (!ok || at[7] != count - 1) return;
  for (int E = kArithE0; E < kArithE0 + 32; ++E) {
    const int i = E & 31;
    const double lo = E == kArithE0 ? 0.0 : std::ldexp(1.0, E - 127), hi = std::ldexp(1.0, E - 126);
    int inside = 0, below = 0;
    t.bnd[i] = std::numeric_limits<float>::infinity();
    for (int G = 0; G < 8; ++G) {
      const double b = P[at[G]];
      if (b < lo) ++below;
      else if (b < hi) {
        ++inside;
        t.bnd[i] = P[at[G]];
      }
    }
    // The top octave goes to G = 9, whose t = 0 sends every lane to quant8_nearest.
    t.below[i] = E == kArithE0 + 31 ? 9 : below;
    ok = ok && inside <= 1;
  }
  // G = 0 (below B_0) and 8 (above B_7): t = 0.5, never flagged; the clamp gives the count.
  for (int G = 0; G < 16; ++G) {
    t.offset[G] = G == 9 ? 0.0f : -0.5f;
    t.lo[G] = t.hi[G] = G >= 8 ? count : 0;
  }
  for (int G = 1; G <= 7; ++G) {
    const int g = G - 1;
    double p10 = 1;
    for (int k = 0; k < 6 - g; ++k) p10 *= 10.0;
    t.lo[G] = at[g] + 1;
    t.hi[G] = at[g] + n[g];
    t.scale[G] = static_cast<float>(p10 * n[g] / 0.9);
    t.offset[G] = static_cast<float>(n[g] / 9.0 - t.lo[G]);
    // Inner midpoint P[K - 1]: floats up to it need floor(t) < K, floats above it floor(t) >= K. Walk from
    // it both ways while t says otherwise: each such float, and the midpoint itself, must be flagged.
    for (int K = t.lo[G] + 1; K <= t.hi[G]; ++K) {
      const float m = P[K - 1], k = static_cast<float>(K);
      ok = ok && arith_flagged(arith_t(t, G, m));
      float a = m;
      for (int s = 0; s < 64 && arith_t(t, G, a) >= k; ++s, a = std::nextafter(a, 0.0f)) ok = ok && arith_flagged(arith_t(t, G, a));
      ok = ok && arith_t(t, G, a) < k;
      a = std::nextafter(m, 2.0f);
      for (int s = 0; s < 64 && arith_t(t, G, a) < k; ++s, a = std::nextafter(a, 2.0f)) ok = ok && arith_flagged(arith_t(t, G, a));
      ok = ok && arith_t(t, G, a) >= k;
    }
  }
  t.ok = ok;
}

// The 256 codes for the AVX-512 dequantisation, and the arithmetic maps.
struct VecMaps {
  alignas(64) float code_s[256], code_u[256];
  ArithMap s, u;
  VecMaps() {
    std::memcpy(code_s, maps().s.code, sizeof code_s);
    std::memcpy(code_u, maps().u.code, sizeof code_u);
    build_arith(maps().s, true, s);
    build_arith(maps().u, false, u);
  }
};

const VecMaps& vec_maps() {
  static const VecMaps m;
  return m;
}

bool vec_ok() { return vec_maps().s.ok && vec_maps().u.ok; }

// Codes of 64 floats x (four vectors, in order), exactly quant8_nearest(q, x) lane by lane; given m (signed
// map only), the first moment's sign rule too (quant8_keep_sign: it looks at m, since x = m r may underflow
// to -0).
template <bool Signed>
LMF_TARGET_AVX512 LMF_Q8_INLINE __m512i nearest64(const ArithMap& t, const Quant8Map& q, const __m512 x[4], const __m512* m = nullptr) {
  const __m512 zero = _mm512_setzero_ps(), tiny = _mm512_set1_ps(kArithTiny), big = _mm512_set1_ps(kArithBig);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i z = _mm512_set1_epi32(127);
  __m512i c[4];
  __m512 d[4];
  for (int k = 0; k < 4; ++k) {
    // a is clamped to [2^-24, the float below 256], so that its biased exponent is one of the table's 32
    // octaves (103..134). Unsigned: max(x, tiny) takes -0.0, negatives and NaN to tiny (vmaxps returns its
    // second operand for a NaN), which lies below the first boundary like 0 does: code 0, the code of 0 and
    // of NaN. min(., big) takes inf (and, signed, NaN) into the top octave, which goes to the scalar rule.
    const __m512 a = Signed ? _mm512_max_ps(_mm512_min_ps(_mm512_abs_ps(x[k]), big), tiny)
                            : _mm512_min_ps(_mm512_max_ps(x[k], tiny), big);
    const __mmask16 neg = Signed ? _mm512_cmp_ps_mask(m ? m[k] : x[k], zero, _CMP_LT_OQ) : 0;
    const __m512i e = _mm512_srli_epi32(_mm512_castps_si512(a), 23);
    // Negative lanes count the boundaries <= |x|: compare with the float below the boundary.
    __m512i B = _mm512_castps_si512(_mm512_permutex2var_ps(_mm512_load_ps(t.bnd), e, _mm512_load_ps(t.bnd + 16)));
    if (Signed) B = _mm512_mask_sub_epi32(B, neg, B, one);
    __m512i G = _mm512_permutex2var_epi32(_mm512_load_si512(t.below), e, _mm512_load_si512(t.below + 16));
    G = _mm512_mask_add_epi32(G, _mm512_cmp_ps_mask(a, _mm512_castsi512_ps(B), _CMP_GT_OQ), G, one);
    const __m512 tt = _mm512_fmsub_ps(a, _mm512_permutexvar_ps(G, _mm512_load_ps(t.scale)), _mm512_permutexvar_ps(G, _mm512_load_ps(t.offset)));
    // Distance to the nearest integer: vreduceps with M = 0 gives tt - rint(tt), exactly.
    d[k] = _mm512_abs_ps(_mm512_reduce_round_ps(tt, _MM_FROUND_TO_NEAREST_INT, _MM_FROUND_NO_EXC));
    const __m512i j = _mm512_cvt_roundps_epi32(tt, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    c[k] = _mm512_min_epi32(_mm512_max_epi32(j, _mm512_permutexvar_epi32(G, _mm512_load_si512(t.lo))), _mm512_permutexvar_epi32(G, _mm512_load_si512(t.hi)));
    // 127 + c; for x < 0 127 - min(c, 127), and under the sign rule 127 - c clamped to [1, 127].
    if (Signed) c[k] = _mm512_mask_sub_epi32(_mm512_add_epi32(z, c[k]), neg, z, _mm512_min_epi32(_mm512_max_epi32(c[k], m ? one : _mm512_setzero_si512()), z));
  }
  const __m512 eps = _mm512_set1_ps(kArithEps);
  if (__builtin_expect(_mm512_cmp_ps_mask(_mm512_min_ps(_mm512_min_ps(d[0], d[1]), _mm512_min_ps(d[2], d[3])), eps, _CMP_LT_OQ) != 0, 0)) {
    for (int k = 0; k < 4; ++k) {
      const __mmask16 flag = _mm512_cmp_ps_mask(d[k], eps, _CMP_LT_OQ);
      if (!flag) continue;
      alignas(64) int32_t cs[16];
      alignas(64) float xs[16], ms[16];
      _mm512_store_si512(cs, c[k]);
      _mm512_store_ps(xs, x[k]);
      if (m) _mm512_store_ps(ms, m[k]);
      for (__mmask16 f = flag; f; f &= f - 1) {
        const int l = __builtin_ctz(f);
        const uint8_t code = quant8_nearest(q, xs[l]);
        cs[l] = m ? quant8_keep_sign(code, ms[l], q.zero) : code;
      }
      c[k] = _mm512_load_si512(cs);
    }
  }
  // Four vectors of 32-bit codes to 64 bytes in order (the packs interleave 128-bit lanes; vpermd undoes it).
  const __m512i p = _mm512_packus_epi16(_mm512_packus_epi32(c[0], c[1]), _mm512_packus_epi32(c[2], c[3]));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), p);
}

// Codes of n (a multiple of 64) values x * r, the same as quant8_nearest(q, x[i] * r) lane by lane.
LMF_TARGET_AVX512 void quantize_codes_avx512(uint8_t* codes, const float* x, int64_t n, float r, bool is_signed) {
  const ArithMap& t = is_signed ? vec_maps().s : vec_maps().u;
  const Quant8Map& q = quant8_map(is_signed);
  const __m512 rv = _mm512_set1_ps(r);
  for (int64_t i = 0; i < n; i += 64) {
    __m512 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * k), rv);
    _mm512_storeu_si512(codes + i, is_signed ? nearest64<true>(t, q, v) : nearest64<false>(t, q, v));
  }
}

// Lanes of a 32k-entry table (k = 1, 2, 4, 8) at idx (0 <= idx < 32k).
template <int K>
LMF_TARGET_AVX512 LMF_Q8_INLINE __m512 lookup32k(const float* t, __m512i idx) {
  __m512 r[K];
  for (int k = 0; k < K; ++k) r[k] = _mm512_permutex2var_ps(_mm512_load_ps(t + 32 * k), idx, _mm512_load_ps(t + 32 * k + 16));
  int n = K;
  for (int bit = 32; n > 1; bit <<= 1, n >>= 1) {
    const __mmask16 hi = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(bit));
    for (int k = 0; k < n / 2; ++k) r[k] = _mm512_mask_blend_ps(hi, r[2 * k], r[2 * k + 1]);
  }
  return r[0];
}

// The values of 64 codes as four vectors of 16 floats, in order: eight vpermi2ps and seven blends per 16.
LMF_TARGET_AVX512 LMF_Q8_INLINE void dequant64_avx512(const float* code, const uint8_t* c, __m512 out[4]) {
  for (int k = 0; k < 4; ++k) out[k] = lookup32k<8>(code, _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 16 * k))));
}

// The moments of 64 lanes at i (m4, v4: their dequantised old values) and the weights' update: kept in
// m and v (the block's staging arrays) and folded into the absmax accumulators.
template <bool GB, bool W16>
LMF_TARGET_AVX512 LMF_Q8_INLINE void adam64(const Adam8Slot& s, int64_t b, int i, const avx512::AdamVec& k, const __m512 m4[4], const __m512 v4[4],
                                            __m512 A1, __m512 A2, float* m, float* v, __m512& mx1, __m512& mx2) {
  float* w = s.w + b;
  for (int q = 0; q < 4; ++q, i += 16) {
    __m512 mi = _mm512_mul_ps(m4[q], A1), vi = _mm512_mul_ps(v4[q], A2);
    const __m512 wi = _mm512_loadu_ps(w + i);
    __m512 g = GB ? simd::bf16x16_load(static_cast<const uint16_t*>(s.g) + b + i) : _mm512_loadu_ps(static_cast<const float*>(s.g) + b + i);
    g = _mm512_fmadd_ps(k.l2, wi, g);
    avx512::moments(g, mi, vi, k);
    _mm512_store_ps(m + i, mi);
    _mm512_store_ps(v + i, vi);
    mx1 = _mm512_max_ps(mx1, _mm512_abs_ps(mi));
    mx2 = _mm512_max_ps(mx2, vi);
    // The weight update needs only these lanes' moments: done here, not in a second pass over the block.
    const __m512 wn = avx512::apply(wi, mi, vi, k);
    _mm512_storeu_ps(w + i, wn);
    if (W16) simd::bf16x16_store(s.w16 + b + i, wn);
  }
}

// The block's new absmax and codes from its staged moments.
LMF_TARGET_AVX512 LMF_Q8_INLINE void requantize_block(const Adam8Slot& s, int64_t b, const float* m, const float* v, __m512 mx1, __m512 mx2) {
  const VecMaps& t = vec_maps();  // (map lookups outside the loops: a call there spills every vector)
  const Quant8Map& qs = maps().s;
  const Quant8Map& qu = maps().u;
  const int64_t blk = b / kQuant8Block;
  const float a1 = _mm512_reduce_max_ps(mx1), a2 = _mm512_reduce_max_ps(mx2);
  s.a1[blk] = a1;
  s.a2[blk] = a2;
  const __m512 r1 = _mm512_set1_ps(a1 > 0 ? 1.0f / a1 : 0.0f), r2 = _mm512_set1_ps(a2 > 0 ? 1.0f / a2 : 0.0f);
  for (int i0 = 0; i0 < kQuant8Block; i0 += 64) {
    __m512 mi[4], x[4];
    for (int q = 0; q < 4; ++q) {
      mi[q] = _mm512_load_ps(m + i0 + 16 * q);
      x[q] = _mm512_mul_ps(mi[q], r1);
    }
    _mm512_storeu_si512(s.c1 + b + i0, nearest64<true>(t.s, qs, x, mi));
    for (int q = 0; q < 4; ++q) x[q] = _mm512_mul_ps(_mm512_load_ps(v + i0 + 16 * q), r2);
    _mm512_storeu_si512(s.c2 + b + i0, nearest64<false>(t.u, qu, x));
  }
}

template <bool GB, bool W16>
LMF_TARGET_AVX512 void adam8_block_avx512(const Adam8Slot& s, int64_t b) {
  alignas(64) float m[kQuant8Block], v[kQuant8Block];
  const int64_t blk = b / kQuant8Block;
  const avx512::AdamVec k = avx512::adam_vec(s.adam);
  const __m512 A1 = _mm512_set1_ps(s.a1[blk]), A2 = _mm512_set1_ps(s.a2[blk]);
  __m512 mx1 = _mm512_setzero_ps(), mx2 = _mm512_setzero_ps();
  const VecMaps& t = vec_maps();
  for (int i0 = 0; i0 < kQuant8Block; i0 += 64) {
    __m512 m4[4], v4[4];
    dequant64_avx512(t.code_s, s.c1 + b + i0, m4);
    dequant64_avx512(t.code_u, s.c2 + b + i0, v4);
    adam64<GB, W16>(s, b, i0, k, m4, v4, A1, A2, m, v, mx1, mx2);
  }
  requantize_block(s, b, m, v, mx1, mx2);
}

// ---- AVX-512 VBMI: dequantisation of 64 codes with byte permutes ----
// Byte j of the 256 codes is a 256-byte table (4 zmm); two vpermi2b and a blend on the index's top bit give
// byte j of 64 codes at once, and four byte planes unpack into 64 floats (22 ops per 64 codes instead of 60
// for the float permutes above).
struct alignas(64) ByteMaps {
  uint8_t s[4][256], u[4][256];  // byte j of code[k]
  ByteMaps() {
    for (int k = 0; k < 256; ++k) {
      uint32_t a, b;
      std::memcpy(&a, &maps().s.code[k], 4);
      std::memcpy(&b, &maps().u.code[k], 4);
      for (int j = 0; j < 4; ++j) {
        s[j][k] = static_cast<uint8_t>(a >> (8 * j));
        u[j][k] = static_cast<uint8_t>(b >> (8 * j));
      }
    }
  }
};

const ByteMaps& byte_maps() {
  static const ByteMaps m;
  return m;
}

bool g_vbmi_off = false;

bool use_vbmi() { return !g_vbmi_off && cpu_features().avx512vbmi; }

// 64 bytes of a 256-byte table at 64 byte indices.
LMF_TARGET_AVX512VBMI LMF_Q8_INLINE __m512i lookup256(const uint8_t* t, __m512i idx) {
  const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(t), idx, _mm512_load_si512(t + 64));
  const __m512i up = _mm512_permutex2var_epi8(_mm512_load_si512(t + 128), idx, _mm512_load_si512(t + 192));
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, up);
}

// The values of 64 codes as four vectors of 16 floats, in order. The unpacks interleave within 128-bit
// lanes: plane position 16L + 4q + r ends up as lane 4L + r of vector q, so the codes are first permuted
// so that position holds code 16q + 4L + r.
LMF_TARGET_AVX512VBMI LMF_Q8_INLINE void dequant64_vbmi(const uint8_t (&t)[4][256], const uint8_t* c, __m512 out[4]) {
  alignas(64) static const uint8_t perm[64] = {
      0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51, 4, 5, 6, 7, 20, 21, 22, 23, 36, 37, 38, 39, 52, 53, 54, 55,
      8, 9, 10, 11, 24, 25, 26, 27, 40, 41, 42, 43, 56, 57, 58, 59, 12, 13, 14, 15, 28, 29, 30, 31, 44, 45, 46, 47, 60, 61, 62, 63};
  const __m512i idx = _mm512_permutexvar_epi8(_mm512_load_si512(perm), _mm512_loadu_si512(c));
  const __m512i p0 = lookup256(t[0], idx), p1 = lookup256(t[1], idx), p2 = lookup256(t[2], idx), p3 = lookup256(t[3], idx);
  const __m512i lo01 = _mm512_unpacklo_epi8(p0, p1), hi01 = _mm512_unpackhi_epi8(p0, p1);
  const __m512i lo23 = _mm512_unpacklo_epi8(p2, p3), hi23 = _mm512_unpackhi_epi8(p2, p3);
  out[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(lo01, lo23));
  out[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(lo01, lo23));
  out[2] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(hi01, hi23));
  out[3] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(hi01, hi23));
}

// adam8_block_avx512 with the byte-plane dequantisation: a function of its own because it is compiled for
// VBMI, which the plain AVX-512 one must not be.
template <bool GB, bool W16>
LMF_TARGET_AVX512VBMI void adam8_block_vbmi(const Adam8Slot& s, int64_t b) {
  alignas(64) float m[kQuant8Block], v[kQuant8Block];
  const int64_t blk = b / kQuant8Block;
  const avx512::AdamVec k = avx512::adam_vec(s.adam);
  const __m512 A1 = _mm512_set1_ps(s.a1[blk]), A2 = _mm512_set1_ps(s.a2[blk]);
  __m512 mx1 = _mm512_setzero_ps(), mx2 = _mm512_setzero_ps();
  const ByteMaps& t = byte_maps();
  for (int i0 = 0; i0 < kQuant8Block; i0 += 64) {
    __m512 m4[4], v4[4];
    dequant64_vbmi(t.s, s.c1 + b + i0, m4);
    dequant64_vbmi(t.u, s.c2 + b + i0, v4);
    adam64<GB, W16>(s, b, i0, k, m4, v4, A1, A2, m, v, mx1, mx2);
  }
  requantize_block(s, b, m, v, mx1, mx2);
}

// Whole blocks through Block, a short tail block through the scalar loop.
template <void (*Block)(const Adam8Slot&, int64_t)>
LMF_Q8_INLINE void adam8_blocks(const Adam8Slot& s, int64_t b, int64_t e) {
  for (int64_t x = b; x < e; x += kQuant8Block) {
    const int64_t y = std::min(e, x + kQuant8Block);
    if (y - x < kQuant8Block) adam8_range(s, x, y);
    else Block(s, x);
  }
}

LMF_TARGET_AVX512VBMI void adam8_vbmi(const Adam8Slot& s, int64_t b, int64_t e) {
  if (s.g_bf16) {
    if (s.w16) adam8_blocks<adam8_block_vbmi<true, true>>(s, b, e); else adam8_blocks<adam8_block_vbmi<true, false>>(s, b, e);
  } else {
    if (s.w16) adam8_blocks<adam8_block_vbmi<false, true>>(s, b, e); else adam8_blocks<adam8_block_vbmi<false, false>>(s, b, e);
  }
}

LMF_TARGET_AVX512 void adam8_avx512(const Adam8Slot& s, int64_t b, int64_t e) {
  if (s.g_bf16) {
    if (s.w16) adam8_blocks<adam8_block_avx512<true, true>>(s, b, e); else adam8_blocks<adam8_block_avx512<true, false>>(s, b, e);
  } else {
    if (s.w16) adam8_blocks<adam8_block_avx512<false, true>>(s, b, e); else adam8_blocks<adam8_block_avx512<false, false>>(s, b, e);
  }
}
#else
constexpr Adam8Fn adam8_avx512 = adam8_portable, adam8_avx2 = adam8_portable, adam8_vbmi = adam8_portable;  // never picked
constexpr bool use_vbmi() { return false; }
constexpr bool vec_ok() { return false; }
#endif

}  // namespace

const Quant8Map& quant8_map(bool is_signed) { return is_signed ? maps().s : maps().u; }

void quant8_allow_vbmi(bool on) {
#if LMF_X86_TIERS
  g_vbmi_off = !on;
#endif
  (void)on;
}

void adam8bit_step_cpu(const std::vector<Adam8Slot>& slots) {
  std::vector<int64_t> sizes;
  for (const Adam8Slot& s : slots) sizes.push_back(s.n);
  const std::vector<OptimChunk> chunks = optim_chunks(sizes, 16384);
  (void)maps();  // build outside the threads
#if LMF_X86_TIERS
  (void)vec_maps();
  (void)byte_maps();
#endif
  // The AVX-512 loops need the arithmetic maps' checks to hold (they do for these two maps; else scalar).
  const Adam8Fn vec = vec_ok() ? (use_vbmi() ? adam8_vbmi : adam8_avx512) : adam8_portable;
  const Adam8Fn fn = pick_tier<Adam8Fn>(vec, adam8_avx2, adam8_portable);
  parallel_for(static_cast<int64_t>(chunks.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t c = b; c < e; ++c) fn(slots[chunks[c].slot], chunks[c].begin, chunks[c].end);
  });
}

void quantize_blockwise_cpu(uint8_t* codes, float* absmax, const float* x, int64_t n, bool is_signed) {
  const Quant8Map& q = quant8_map(is_signed);
  const int64_t blocks = (n + kQuant8Block - 1) / kQuant8Block;
  // The codes of whole 64-lane groups come from the AVX-512 arithmetic; tails and other tiers are scalar.
  const bool vec = pick_tier(true, false, false) && vec_ok();
  (void)vec;
  parallel_for(blocks, 16, [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t lo = k * kQuant8Block, hi = std::min(n, lo + kQuant8Block);
      float mx = 0;
      for (int64_t i = lo; i < hi; ++i) mx = std::max(mx, std::fabs(x[i]));
      absmax[k] = mx;
      const float r = mx > 0 ? 1.0f / mx : 0.0f;
      int64_t i = lo;
#if LMF_X86_TIERS
      if (vec) {
        const int64_t len = (hi - lo) & ~int64_t{63};
        quantize_codes_avx512(codes + lo, x + lo, len, r, is_signed);
        i = lo + len;
      }
#endif
      for (; i < hi; ++i) codes[i] = quant8_nearest(q, x[i] * r);
    }
  });
}

void dequantize_blockwise_cpu(float* x, const uint8_t* codes, const float* absmax, int64_t n, bool is_signed) {
  const Quant8Map& q = quant8_map(is_signed);
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) x[i] = q.code[codes[i]] * absmax[i / kQuant8Block];
  });
}

}  // namespace lmf::kernels
