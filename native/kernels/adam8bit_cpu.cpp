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
// Gather-free lookups for 16 lanes (the gathers made the 8-bit step ~6x slower than fp32 AdamW).
// The nearest code is the number of midpoints strictly below x (ties go to the lower code, NaN to the code
// of 0), exactly what quant8_nearest computes; here it is found by an 8-round branch-free binary search,
// i += s when x > mid[i + s - 1] for s = 128..1. In round s, i is a multiple of 2s, so only 256 / 2s
// midpoints can be asked for: rounds 64..8 read a table of at most 16 floats with one vpermps, round 4 one
// of 32 with one vpermi2ps, rounds 2 and 1 tables of 64 and 128 with two and four vpermi2ps plus blends.
// Dequantisation reads the 256 codes with eight vpermi2ps and seven blends. All tables stay in L1.
struct alignas(64) SearchMap {
  float small[4][16];  // rounds s = 64, 32, 16, 8: mid[s - 1 + 2s t]
  float r4[32], r2[64], r1[128];
  float code[256];
  float mid127;
  uint32_t zero;
};

void build_search(const Quant8Map& q, SearchMap& t) {
  std::memset(&t, 0, sizeof t);
  for (int r = 0; r < 4; ++r) {
    const int st = 64 >> r;
    for (int k = 0; k < 128 / st; ++k) t.small[r][k] = q.mid[st - 1 + 2 * st * k];
  }
  for (int k = 0; k < 32; ++k) t.r4[k] = q.mid[3 + 8 * k];
  for (int k = 0; k < 64; ++k) t.r2[k] = q.mid[1 + 4 * k];
  for (int k = 0; k < 128; ++k) t.r1[k] = q.mid[2 * k];
  std::memcpy(t.code, q.code, sizeof t.code);
  t.mid127 = q.mid[127];
  t.zero = q.zero;
}

struct SearchMaps {
  SearchMap s, u;
  SearchMaps() {
    build_search(maps().s, s);
    build_search(maps().u, u);
  }
};

const SearchMaps& search_maps() {
  static const SearchMaps m;
  return m;
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

LMF_TARGET_AVX512 LMF_Q8_INLINE __m512 dequant16(const SearchMap& t, __m512i k) { return lookup32k<8>(t.code, k); }

// One search round: i += s where x > m.
LMF_TARGET_AVX512 LMF_Q8_INLINE __m512i search_step(__m512i i, __m512 x, __m512 m, int s) {
  return _mm512_mask_add_epi32(i, _mm512_cmp_ps_mask(x, m, _CMP_GT_OQ), i, _mm512_set1_epi32(s));
}

LMF_TARGET_AVX512 LMF_Q8_INLINE __m512i nearest16_index(const SearchMap& t, __m512 x) {
  __m512i i = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(x, _mm512_set1_ps(t.mid127), _CMP_GT_OQ), _mm512_set1_epi32(128));
  i = search_step(i, x, _mm512_permutexvar_ps(_mm512_srli_epi32(i, 7), _mm512_load_ps(t.small[0])), 64);
  i = search_step(i, x, _mm512_permutexvar_ps(_mm512_srli_epi32(i, 6), _mm512_load_ps(t.small[1])), 32);
  i = search_step(i, x, _mm512_permutexvar_ps(_mm512_srli_epi32(i, 5), _mm512_load_ps(t.small[2])), 16);
  i = search_step(i, x, _mm512_permutexvar_ps(_mm512_srli_epi32(i, 4), _mm512_load_ps(t.small[3])), 8);
  i = search_step(i, x, lookup32k<1>(t.r4, _mm512_srli_epi32(i, 3)), 4);
  i = search_step(i, x, lookup32k<2>(t.r2, _mm512_srli_epi32(i, 2)), 2);
  i = search_step(i, x, lookup32k<4>(t.r1, _mm512_srli_epi32(i, 1)), 1);
  return _mm512_mask_mov_epi32(i, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), _mm512_set1_epi32(static_cast<int>(t.zero)));
}

LMF_TARGET_AVX512 LMF_Q8_INLINE __m128i nearest16(const SearchMap& t, __m512 x) { return _mm512_cvtepi32_epi8(nearest16_index(t, x)); }

// quant8_keep_sign for 16 lanes: the code of 0 becomes zero - 1 where m < 0.
LMF_TARGET_AVX512 LMF_Q8_INLINE __m128i keep_sign16(const SearchMap& t, __m512i i, __m512 m) {
  const __m512i z = _mm512_set1_epi32(static_cast<int>(t.zero));
  const __mmask16 k = _mm512_cmpeq_epi32_mask(i, z) & _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_cvtepi32_epi8(_mm512_mask_sub_epi32(i, k, i, _mm512_set1_epi32(1)));
}

template <bool GB, bool W16>
LMF_TARGET_AVX512 void adam8_block_avx512(const Adam8Slot& s, int64_t b, const SearchMap& qs, const SearchMap& qu) {
  alignas(64) float m[kQuant8Block], v[kQuant8Block];
  const int64_t blk = b / kQuant8Block;
  const avx512::AdamVec k = avx512::adam_vec(s.adam);
  const __m512 A1 = _mm512_set1_ps(s.a1[blk]), A2 = _mm512_set1_ps(s.a2[blk]);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  __m512 mx1 = _mm512_setzero_ps(), mx2 = _mm512_setzero_ps();
  float* w = s.w + b;
  uint8_t* c1 = s.c1 + b;
  uint8_t* c2 = s.c2 + b;
  for (int i = 0; i < kQuant8Block; i += 16) {
    const __m512i k1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c1 + i)));
    const __m512i k2 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c2 + i)));
    __m512 mi = _mm512_mul_ps(dequant16(qs, k1), A1);
    __m512 vi = _mm512_mul_ps(dequant16(qu, k2), A2);
    const __m512 wi = _mm512_loadu_ps(w + i);
    __m512 g = GB ? simd::bf16x16_load(static_cast<const uint16_t*>(s.g) + b + i) : _mm512_loadu_ps(static_cast<const float*>(s.g) + b + i);
    g = _mm512_fmadd_ps(k.l2, wi, g);
    avx512::moments(g, mi, vi, k);
    _mm512_store_ps(m + i, mi);
    _mm512_store_ps(v + i, vi);
    mx1 = _mm512_max_ps(mx1, _mm512_andnot_ps(sign, mi));
    mx2 = _mm512_max_ps(mx2, vi);
  }
  for (int i = 0; i < kQuant8Block; i += 16) {
    const __m512 wi = avx512::apply(_mm512_loadu_ps(w + i), _mm512_load_ps(m + i), _mm512_load_ps(v + i), k);
    _mm512_storeu_ps(w + i, wi);
    if (W16) simd::bf16x16_store(s.w16 + b + i, wi);
  }
  const float a1 = _mm512_reduce_max_ps(mx1), a2 = _mm512_reduce_max_ps(mx2);
  s.a1[blk] = a1;
  s.a2[blk] = a2;
  const __m512 r1 = _mm512_set1_ps(a1 > 0 ? 1.0f / a1 : 0.0f), r2 = _mm512_set1_ps(a2 > 0 ? 1.0f / a2 : 0.0f);
  for (int i = 0; i < kQuant8Block; i += 16) {
    const __m512 mi = _mm512_load_ps(m + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(c1 + i), keep_sign16(qs, nearest16_index(qs, _mm512_mul_ps(mi, r1)), mi));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(c2 + i), nearest16(qu, _mm512_mul_ps(_mm512_load_ps(v + i), r2)));
  }
}

// Codes of n (a multiple of 16) values x * r, the same as quant8_nearest(q, x[i] * r) lane by lane.
LMF_TARGET_AVX512 void quantize_codes_avx512(uint8_t* codes, const float* x, int64_t n, float r, bool is_signed) {
  const SearchMap& t = is_signed ? search_maps().s : search_maps().u;
  const __m512 rv = _mm512_set1_ps(r);
  for (int64_t i = 0; i < n; i += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), nearest16(t, _mm512_mul_ps(_mm512_loadu_ps(x + i), rv)));
}

// ---- AVX-512 VBMI: 64 codes per step with byte permutes ----
// Dequantisation: byte j of the 256 codes is a 256-byte table (4 zmm); two vpermi2b and a blend on the
// index's top bit give byte j of 64 codes at once, and four byte planes unpack into 64 floats (22 ops per
// 64 codes instead of 60 for the float permutes above).
// Quantisation: the nearest code is the number of search midpoints strictly below x (ties low). A key of
// 16 bits orders non-negative floats: key(x) = bits(x) >> 12 less the bits of 2^-24 (exponent and 11
// mantissa bits), clamped to [0, 0xff00]; its resolution (2^-11) is finer than the closest midpoints (0.7%
// apart), so no two midpoints share a key, which build_bytes checks. The key's high byte h picks a bucket
// (an eighth of an octave); F[h] counts the midpoints of lower buckets, and a binary search of at most
// 4 rounds over the bucket's own midpoints (at most 9, checked) counts those with a lower key. Last, the
// one midpoint that may share x's key is compared on the float's low 16 bits. All of it on 64 lanes of
// bytes: lookups are vpermi2b, compares are byte compares into masks.
// The signed map is symmetric but for 1.0 (mid[126 - j] == -mid[127 + j]): it searches |x| among its 128
// positive midpoints (c of them below |x|) and gives 127 + c for x >= 0, 127 - min(c', 127) for x < 0,
// where c' counts the midpoints <= |x| (x below a negative midpoint m means |x| above -m; at a tie
// x == m the midpoint is not below x).
constexpr uint32_t kKeyBase = 103u << 11;  // bits(2^-24) >> 12
constexpr uint32_t kKeyMax = 0xff00u;      // above every midpoint's key, below the padding's 0xffff

inline uint32_t search_key(float a) {
  uint32_t u;
  std::memcpy(&u, &a, 4);
  const uint32_t k = u >> 12;
  return k < kKeyBase ? 0u : std::min(k - kKeyBase, kKeyMax);
}

struct alignas(64) ByteMap {
  uint8_t code[4][256];                // byte j of code[k]
  uint8_t f[256], w[256];              // per key high byte h: midpoints in lower buckets, in bucket h
  uint8_t kl[256], b1[256], b0[256];   // midpoint i's key low byte, its float's bytes 1 and 0
  int rounds;                          // binary-search rounds that cover the largest bucket
  bool ok;                             // the properties above hold (else the AVX-512 path runs)
};

void build_bytes(const Quant8Map& q, bool is_signed, ByteMap& t) {
  std::memset(&t, 0, sizeof t);
  for (int k = 0; k < 256; ++k) {
    uint32_t u;
    std::memcpy(&u, &q.code[k], 4);
    for (int j = 0; j < 4; ++j) t.code[j][k] = static_cast<uint8_t>(u >> (8 * j));
  }
  // The midpoints searched: all 255 for the unsigned map, the 128 positive ones for the signed map.
  const int first = is_signed ? 127 : 0, count = is_signed ? 128 : 255;
  bool ok = q.mid[first] > 0 && (!is_signed || q.zero == 127);
  uint32_t prev = 0;
  int bucket[256] = {};
  for (int i = 0; i < 256; ++i) {
    uint32_t key = 0xffffu, u = 0;
    if (i < count) {
      const float m = q.mid[first + i];
      std::memcpy(&u, &m, 4);
      key = search_key(m);
      ok = ok && key > prev && key < kKeyMax;  // distinct, none clamped
      if (is_signed && i < 127) ok = ok && q.mid[126 - i] == -m;
      prev = key;
      ++bucket[key >> 8];
    }
    t.kl[i] = static_cast<uint8_t>(key);
    t.b1[i] = static_cast<uint8_t>(u >> 8);
    t.b0[i] = static_cast<uint8_t>(u);
  }
  int below = 0, widest = 0;
  for (int h = 0; h < 256; ++h) {
    t.f[h] = static_cast<uint8_t>(below);
    t.w[h] = static_cast<uint8_t>(bucket[h]);
    below += bucket[h];
    widest = std::max(widest, bucket[h]);
  }
  while ((1 << t.rounds) - 1 < widest) ++t.rounds;
  t.ok = ok && t.rounds <= 4;
}

struct ByteMaps {
  ByteMap s, u;
  ByteMaps() {
    build_bytes(maps().s, true, s);
    build_bytes(maps().u, false, u);
  }
};

const ByteMaps& byte_maps() {
  static const ByteMaps m;
  return m;
}

bool g_vbmi_off = false;

bool use_vbmi() {
  return !g_vbmi_off && cpu_features().avx512vbmi && byte_maps().s.ok && byte_maps().u.ok;
}

// 64 bytes of a 256-byte table at 64 byte indices; hi: the indices' top bits. With half, indices below 128
// only (one vpermi2b, which costs two cycles here, instead of two and a blend).
LMF_TARGET_AVX512VBMI LMF_Q8_INLINE __m512i lookup256(const uint8_t* t, __m512i idx, __mmask64 hi, bool half = false) {
  const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(t), idx, _mm512_load_si512(t + 64));
  if (half) return lo;
  const __m512i up = _mm512_permutex2var_epi8(_mm512_load_si512(t + 128), idx, _mm512_load_si512(t + 192));
  return _mm512_mask_blend_epi8(hi, lo, up);
}

// The values of 64 codes as four vectors of 16 floats, in order. The unpacks interleave within 128-bit
// lanes: plane position 16L + 4q + r ends up as lane 4L + r of vector q, so the codes are first permuted
// so that position holds code 16q + 4L + r.
LMF_TARGET_AVX512VBMI LMF_Q8_INLINE void dequant64(const ByteMap& t, __m512i codes, __m512 out[4]) {
  alignas(64) static const uint8_t perm[64] = {
      0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51, 4, 5, 6, 7, 20, 21, 22, 23, 36, 37, 38, 39, 52, 53, 54, 55,
      8, 9, 10, 11, 24, 25, 26, 27, 40, 41, 42, 43, 56, 57, 58, 59, 12, 13, 14, 15, 28, 29, 30, 31, 44, 45, 46, 47, 60, 61, 62, 63};
  const __m512i idx = _mm512_permutexvar_epi8(_mm512_load_si512(perm), codes);
  const __mmask64 hi = _mm512_movepi8_mask(idx);
  const __m512i p0 = lookup256(t.code[0], idx, hi), p1 = lookup256(t.code[1], idx, hi);
  const __m512i p2 = lookup256(t.code[2], idx, hi), p3 = lookup256(t.code[3], idx, hi);
  const __m512i lo01 = _mm512_unpacklo_epi8(p0, p1), hi01 = _mm512_unpackhi_epi8(p0, p1);
  const __m512i lo23 = _mm512_unpacklo_epi8(p2, p3), hi23 = _mm512_unpackhi_epi8(p2, p3);
  out[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(lo01, lo23));
  out[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(lo01, lo23));
  out[2] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(hi01, hi23));
  out[3] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(hi01, hi23));
}

// Bytes 0 (lo) and 1 (hi) of each of 64 dwords (four vectors, in order) as two byte vectors.
LMF_TARGET_AVX512VBMI LMF_Q8_INLINE void bytes01(const __m512i d[4], __m512i& lo, __m512i& hi) {
  alignas(64) static const uint8_t sel[64] = {
      0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 96, 100, 104, 108, 112, 116, 120, 124,
      1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61, 65, 69, 73, 77, 81, 85, 89, 93, 97, 101, 105, 109, 113, 117, 121, 125};
  const __m512i s = _mm512_load_si512(sel);
  const __m512i ab = _mm512_permutex2var_epi8(d[0], s, d[1]), cd = _mm512_permutex2var_epi8(d[2], s, d[3]);
  lo = _mm512_shuffle_i64x2(ab, cd, 0x44);
  hi = _mm512_shuffle_i64x2(ab, cd, 0xee);
}

LMF_TARGET_AVX512VBMI LMF_Q8_INLINE __mmask64 mask64(__mmask16 a, __mmask16 b, __mmask16 c, __mmask16 d) {
  return _mm512_kunpackd(_mm512_kunpackw(d, c), _mm512_kunpackw(b, a));
}

// Nearest codes of 64 floats x (four vectors, in order), exactly quant8_nearest's; with m (the moment that
// x scales), the first moment's sign rule too: it looks at m's sign, since m * r may underflow to -0.
LMF_TARGET_AVX512VBMI LMF_Q8_INLINE __m512i nearest64(const ByteMap& t, bool is_signed, const __m512 x[4], const __m512* m = nullptr) {
  const __m512i base = _mm512_set1_epi32(static_cast<int>(kKeyBase)), kmax = _mm512_set1_epi32(static_cast<int>(kKeyMax));
  __m512i key[4], bits[4];
  __mmask16 neg[4], nan[4];
  for (int q = 0; q < 4; ++q) {
    const __m512 a = is_signed ? _mm512_abs_ps(x[q]) : x[q];
    bits[q] = _mm512_castps_si512(a);
    // Tiny values give a negative key, clamped to 0; so do negative ones (-0.0 included) under the
    // unsigned map, by the arithmetic shift, which is right: no midpoint lies below them.
    key[q] = _mm512_min_epi32(_mm512_max_epi32(_mm512_sub_epi32(_mm512_srai_epi32(bits[q], 12), base), _mm512_setzero_si512()), kmax);
    neg[q] = _mm512_cmp_ps_mask(x[q], _mm512_setzero_ps(), _CMP_LT_OQ);
    nan[q] = _mm512_cmp_ps_mask(x[q], x[q], _CMP_UNORD_Q);
  }
  __m512i KL, KH, B0, B1;
  bytes01(key, KL, KH);
  bytes01(bits, B0, B1);
  const __mmask64 khi = _mm512_movepi8_mask(KH);
  const __m512i F = lookup256(t.f, KH, khi), W = lookup256(t.w, KH, khi);
  // Bucket h holds midpoints F .. F + W - 1 (so an index F + j with j < W never passes 254, and never 127
  // for the signed map's 128: half tables do).
  const bool half = is_signed;
  __m512i o = _mm512_setzero_si512();
  for (int s = 1 << (t.rounds - 1); s >= 1; s >>= 1) {
    const __m512i j = _mm512_add_epi8(o, _mm512_set1_epi8(static_cast<char>(s - 1)));
    const __m512i idx = _mm512_add_epi8(F, j);
    const __mmask64 in = _mm512_cmplt_epu8_mask(j, W);
    const __mmask64 below = _mm512_mask_cmplt_epu8_mask(in, lookup256(t.kl, idx, _mm512_movepi8_mask(idx), half), KL);
    o = _mm512_mask_add_epi8(o, below, o, _mm512_set1_epi8(static_cast<char>(s)));
  }
  __m512i c = _mm512_add_epi8(F, o);
  // The midpoint at c may share x's key: then the low 16 bits decide (x == m counts for c' only).
  const __mmask64 hi = _mm512_movepi8_mask(c);
  const __mmask64 same = _mm512_mask_cmpeq_epi8_mask(_mm512_cmplt_epu8_mask(o, W), lookup256(t.kl, c, hi, half), KL);
  const __m512i m1 = lookup256(t.b1, c, hi, half), m0 = lookup256(t.b0, c, hi, half);
  const __mmask64 eq1 = _mm512_cmpeq_epi8_mask(B1, m1);
  const __mmask64 gt = _mm512_cmpgt_epu8_mask(B1, m1) | (eq1 & _mm512_cmpgt_epu8_mask(B0, m0));
  const __mmask64 negs = mask64(neg[0], neg[1], neg[2], neg[3]), nans = mask64(nan[0], nan[1], nan[2], nan[3]);
  const __mmask64 ge = gt | (eq1 & _mm512_cmpeq_epi8_mask(B0, m0));
  c = _mm512_mask_add_epi8(c, same & (is_signed ? (gt | (negs & ge)) : gt), c, _mm512_set1_epi8(1));
  if (!is_signed) return _mm512_mask_mov_epi8(c, nans, _mm512_setzero_si512());
  const __m512i z = _mm512_set1_epi8(127);
  __m512i r = _mm512_mask_mov_epi8(_mm512_add_epi8(z, c), negs, _mm512_sub_epi8(z, _mm512_min_epu8(c, z)));
  r = _mm512_mask_mov_epi8(r, nans, z);
  if (!m) return r;
  const __m512 zero = _mm512_setzero_ps();
  const __mmask64 mneg = mask64(_mm512_cmp_ps_mask(m[0], zero, _CMP_LT_OQ), _mm512_cmp_ps_mask(m[1], zero, _CMP_LT_OQ),
                                _mm512_cmp_ps_mask(m[2], zero, _CMP_LT_OQ), _mm512_cmp_ps_mask(m[3], zero, _CMP_LT_OQ));
  return _mm512_mask_sub_epi8(r, _mm512_cmpeq_epi8_mask(r, z) & mneg, r, _mm512_set1_epi8(1));
}

template <bool GB, bool W16>
LMF_TARGET_AVX512VBMI void adam8_block_vbmi(const Adam8Slot& s, int64_t b, const ByteMap& qs, const ByteMap& qu) {
  alignas(64) float m[kQuant8Block], v[kQuant8Block];
  const int64_t blk = b / kQuant8Block;
  const avx512::AdamVec k = avx512::adam_vec(s.adam);
  const __m512 A1 = _mm512_set1_ps(s.a1[blk]), A2 = _mm512_set1_ps(s.a2[blk]);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  __m512 mx1 = _mm512_setzero_ps(), mx2 = _mm512_setzero_ps();
  float* w = s.w + b;
  uint8_t* c1 = s.c1 + b;
  uint8_t* c2 = s.c2 + b;
  for (int i0 = 0; i0 < kQuant8Block; i0 += 64) {
    __m512 m4[4], v4[4];
    dequant64(qs, _mm512_loadu_si512(c1 + i0), m4);
    dequant64(qu, _mm512_loadu_si512(c2 + i0), v4);
    for (int q = 0; q < 4; ++q) {
      const int i = i0 + 16 * q;
      __m512 mi = _mm512_mul_ps(m4[q], A1), vi = _mm512_mul_ps(v4[q], A2);
      const __m512 wi = _mm512_loadu_ps(w + i);
      __m512 g = GB ? simd::bf16x16_load(static_cast<const uint16_t*>(s.g) + b + i) : _mm512_loadu_ps(static_cast<const float*>(s.g) + b + i);
      g = _mm512_fmadd_ps(k.l2, wi, g);
      avx512::moments(g, mi, vi, k);
      _mm512_store_ps(m + i, mi);
      _mm512_store_ps(v + i, vi);
      mx1 = _mm512_max_ps(mx1, _mm512_andnot_ps(sign, mi));
      mx2 = _mm512_max_ps(mx2, vi);
      // The weight update needs only these lanes' moments: done here, not in a second pass over the block.
      const __m512 wn = avx512::apply(wi, mi, vi, k);
      _mm512_storeu_ps(w + i, wn);
      if (W16) simd::bf16x16_store(s.w16 + b + i, wn);
    }
  }
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
    _mm512_storeu_si512(c1 + i0, nearest64(qs, true, x, mi));
    for (int q = 0; q < 4; ++q) x[q] = _mm512_mul_ps(_mm512_load_ps(v + i0 + 16 * q), r2);
    _mm512_storeu_si512(c2 + i0, nearest64(qu, false, x));
  }
}

// Codes of n (a multiple of 64) values x * r, the same as quant8_nearest(q, x[i] * r) lane by lane.
LMF_TARGET_AVX512VBMI void quantize_codes_vbmi(uint8_t* codes, const float* x, int64_t n, float r, bool is_signed) {
  const ByteMap& t = is_signed ? byte_maps().s : byte_maps().u;
  const __m512 rv = _mm512_set1_ps(r);
  for (int64_t i = 0; i < n; i += 64) {
    __m512 v[4];
    for (int q = 0; q < 4; ++q) v[q] = _mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * q), rv);
    _mm512_storeu_si512(codes + i, nearest64(t, is_signed, v));
  }
}

LMF_TARGET_AVX512VBMI void adam8_vbmi(const Adam8Slot& s, int64_t b, int64_t e) {
  const ByteMap& qs = byte_maps().s;
  const ByteMap& qu = byte_maps().u;
  for (int64_t x = b; x < e; x += kQuant8Block) {
    const int64_t y = std::min(e, x + kQuant8Block);
    if (y - x < kQuant8Block) {
      adam8_range(s, x, y);
      continue;
    }
    if (s.g_bf16) {
      if (s.w16) adam8_block_vbmi<true, true>(s, x, qs, qu); else adam8_block_vbmi<true, false>(s, x, qs, qu);
    } else {
      if (s.w16) adam8_block_vbmi<false, true>(s, x, qs, qu); else adam8_block_vbmi<false, false>(s, x, qs, qu);
    }
  }
}

LMF_TARGET_AVX512 void adam8_avx512(const Adam8Slot& s, int64_t b, int64_t e) {
  const SearchMap& qs = search_maps().s;
  const SearchMap& qu = search_maps().u;
  for (int64_t x = b; x < e; x += kQuant8Block) {
    const int64_t y = std::min(e, x + kQuant8Block);
    if (y - x < kQuant8Block) {
      adam8_range(s, x, y);
      continue;
    }
    if (s.g_bf16) {
      if (s.w16) adam8_block_avx512<true, true>(s, x, qs, qu); else adam8_block_avx512<true, false>(s, x, qs, qu);
    } else {
      if (s.w16) adam8_block_avx512<false, true>(s, x, qs, qu); else adam8_block_avx512<false, false>(s, x, qs, qu);
    }
  }
}
#else
constexpr Adam8Fn adam8_avx512 = adam8_portable, adam8_avx2 = adam8_portable, adam8_vbmi = adam8_portable;  // never picked
constexpr bool use_vbmi() { return false; }
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
  (void)search_maps();
  (void)byte_maps();
#endif
  const Adam8Fn fn = pick_tier<Adam8Fn>(use_vbmi() ? adam8_vbmi : adam8_avx512, adam8_avx2, adam8_portable);
  parallel_for(static_cast<int64_t>(chunks.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t c = b; c < e; ++c) fn(slots[chunks[c].slot], chunks[c].begin, chunks[c].end);
  });
}

void quantize_blockwise_cpu(uint8_t* codes, float* absmax, const float* x, int64_t n, bool is_signed) {
  const Quant8Map& q = quant8_map(is_signed);
  const int64_t blocks = (n + kQuant8Block - 1) / kQuant8Block;
  // The codes of whole 64-lane groups come from the VBMI search, then whole 16-lane groups from the AVX-512
  // one; tails and other tiers are scalar.
  const bool vec = pick_tier(true, false, false), vbmi = vec && use_vbmi();
#if LMF_X86_TIERS
  if (vec) (void)search_maps();
#endif
  (void)vec;
  (void)vbmi;
  parallel_for(blocks, 16, [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t lo = k * kQuant8Block, hi = std::min(n, lo + kQuant8Block);
      float mx = 0;
      for (int64_t i = lo; i < hi; ++i) mx = std::max(mx, std::fabs(x[i]));
      absmax[k] = mx;
      const float r = mx > 0 ? 1.0f / mx : 0.0f;
      int64_t i = lo;
#if LMF_X86_TIERS
      if (vbmi) {
        const int64_t len = (hi - lo) & ~int64_t{63};
        quantize_codes_vbmi(codes + lo, x + lo, len, r, is_signed);
        i = lo + len;
      }
      if (vec) {
        const int64_t len = (hi - i) & ~int64_t{15};
        quantize_codes_avx512(codes + i, x + i, len, r, is_signed);
        i += len;
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
