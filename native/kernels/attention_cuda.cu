// CUDA twin of attention (attention.h): the FlashAttention-2-style forward on tensor cores for bf16/fp16
// with D = 64 or 128, simple warp-per-row kernels for everything else (float32, other D, unaligned data),
// the backward's preprocess (rowsum(dO * O), dq accumulator reset) and the entry points. The tensor-core
// backward lives in attention_bwd_cuda.cu.
//
// Forward (Dao, "FlashAttention-2", 2023, section 3.1): a block of 4 warps owns 64 query rows (16 per warp);
// it walks 64-key tiles of K and V through shared memory (cp.async; the next K tile streams in while P V of
// the current one runs), computes S = Q K^T with mma.sync, applies scale, ALiBi and the masks, keeps the
// running row max m and sum l in registers (log2 domain: exp2 is one instruction), rescales the fp32 output
// accumulator and adds P V, where P is reused from the S accumulators as the A operand without a trip
// through shared memory. It writes O / l and lse = m + log(l). Causal blocks stop at the diagonal, and are
// launched heaviest first so the tail of the grid is short.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "attention.h"
#include "attention_cuda.cuh"

namespace lmf::kernels {
namespace attn_cuda {
namespace {

constexpr int kThreads = 128;

// ---------------------------------------------------------------------------------------------------------
// Tensor-core forward.
template <int D>
constexpr int fwd_smem_bytes() {
  return 3 * 64 * (D + 8) * 2 + 2 * 64 * 4;
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) fwd_tc(T* __restrict__ out, float* __restrict__ lse, const T* __restrict__ q,
                                                    const T* __restrict__ k, const T* __restrict__ v, const Dev p) {
  constexpr int BR = 64, BC = 64, SD = D + 8, KD = D / 16, NS = BC / 8, NO = D / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem);
  T* sK = sQ + BR * SD;
  T* sV = sK + BC * SD;
  int* sDoc = reinterpret_cast<int*>(sV + BC * SD);  // [2][BC], double-buffered with the K tile

  // Grid (B*H, query blocks): blocks start in linear order, x fastest, so every head's heaviest (causal:
  // last) query block goes first and the short ones fill the tail.
  const int qb = p.causal ? gridDim.y - 1 - blockIdx.y : blockIdx.y;
  const int bh = blockIdx.x, b = bh / p.H, h = bh % p.H, hk = h / p.G;
  const int i0 = qb * BR;
  const T* qg = q + static_cast<int64_t>(bh) * p.Tq * D;
  const T* kg = k + static_cast<int64_t>(b * p.Hkv + hk) * p.Tk * D;
  const T* vg = v + static_cast<int64_t>(b * p.Hkv + hk) * p.Tk * D;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int mi = lane >> 3, lr = lane & 7;  // ldmatrix: which 8x8 matrix this lane addresses, and its row

  // Keys [0, kend) can be visible to some row of this block.
  const int kend = p.causal ? min(p.Tk, p.off + i0 + BR) : p.Tk;
  const int ntiles = (kend + BC - 1) / BC;

  load_tile<T, BR, D, SD>(sQ, qg, i0, p.Tq);
  load_tile<T, BC, D, SD>(sK, kg, 0, p.Tk);
  if (p.docs)
    for (int c = tid; c < BC; c += kThreads) sDoc[c] = c < p.Tk ? p.docs[static_cast<int64_t>(b) * p.Tk + c] : 0;
  cp_async_commit();

  // The two rows of this thread: r[0] = warp*16 + g, r[1] = r[0] + 8 (within the block).
  int pos[2], doc[2];
  float slope = p.alibi ? p.slope_log2[h] : 0.0f;
  for (int u = 0; u < 2; ++u) {
    const int i = i0 + warp * 16 + g + 8 * u;
    pos[u] = p.off + min(i, p.Tq - 1);
    doc[u] = p.docs ? p.docs[static_cast<int64_t>(b) * p.Tk + pos[u]] : 0;
  }

  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  float o[NO][4];
#pragma unroll
  for (int n = 0; n < NO; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

  cp_async_wait<0>();
  __syncthreads();
  uint32_t qf[KD][4];
#pragma unroll
  for (int kk = 0; kk < KD; ++kk)
    ldsm_x4(qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3],
            smem_addr(sQ + (warp * 16 + lr + (mi & 1) * 8) * SD + kk * 16 + (mi >> 1) * 8));

  for (int jt = 0; jt < ntiles; ++jt) {
    const int j0 = jt * BC;
    load_tile<T, BC, D, SD>(sV, vg, j0, p.Tk);
    cp_async_commit();
    cp_async_wait<1>();  // this tile's K (and docs) have landed; V may still be in flight
    __syncthreads();

    float s[NS][4];
#pragma unroll
    for (int n = 0; n < NS; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < KD; ++kk) {
#pragma unroll
      for (int np = 0; np < NS / 2; ++np) {
        uint32_t b0, b1, b2, b3;
        ldsm_x4(b0, b1, b2, b3, smem_addr(sK + (np * 16 + (mi >> 1) * 8 + lr) * SD + kk * 16 + (mi & 1) * 8));
        mma16816<T>(s[2 * np], qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3], b0, b1);
        mma16816<T>(s[2 * np + 1], qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3], b2, b3);
      }
    }

    // Scale, bias, mask (only tiles that reach past the block's first position, the end of the keys, or
    // carry documents need the per-element test).
    const bool need_mask = j0 + BC > p.Tk || (p.causal && j0 + BC - 1 > p.off + i0) || p.docs != nullptr;
    const int* dk = sDoc + (jt & 1) * BC;
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < NS; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int u = c >> 1, jl = n * 8 + 2 * t + (c & 1), j = j0 + jl;
        float x = s[n][c] * p.scale_log2;
        if (p.alibi) x -= slope * static_cast<float>(pos[u] - j);  // exact distance, one rounding: as attention_tiles.inc
        if (need_mask && !visible(p, pos[u], j, doc[u], p.docs ? dk[jl] : 0)) x = -INFINITY;
        s[n][c] = x;
        mx[u] = fmaxf(mx[u], x);
      }
    }
    float alpha[2], mu[2];
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      mx[u] = fmaxf(mx[u], __shfl_xor_sync(0xffffffffu, mx[u], 1));
      mx[u] = fmaxf(mx[u], __shfl_xor_sync(0xffffffffu, mx[u], 2));
      const float mn = fmaxf(m[u], mx[u]);
      mu[u] = mn == -INFINITY ? 0.0f : mn;  // a row with nothing visible yet: exp2(-inf - 0) = 0, no NaN
      alpha[u] = fast_exp2(m[u] - mu[u]);
      m[u] = mn;
      l[u] *= alpha[u];
    }
#pragma unroll
    for (int n = 0; n < NS; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const float e = fast_exp2(s[n][c] - mu[c >> 1]);
        s[n][c] = e;
        l[c >> 1] += e;  // this thread's partial row sum; the 4 lanes of a row are added at the end
      }
    }
#pragma unroll
    for (int n = 0; n < NO; ++n) {
      o[n][0] *= alpha[0];
      o[n][1] *= alpha[0];
      o[n][2] *= alpha[1];
      o[n][3] *= alpha[1];
    }

    __syncthreads();  // every warp is done with sK and this tile's docs
    if (jt + 1 < ntiles) {
      load_tile<T, BC, D, SD>(sK, kg, j0 + BC, p.Tk);
      if (p.docs) {
        int* nd = sDoc + ((jt + 1) & 1) * BC;
        for (int c = tid; c < BC; c += kThreads) {
          const int j = j0 + BC + c;
          nd[c] = j < p.Tk ? p.docs[static_cast<int64_t>(b) * p.Tk + j] : 0;
        }
      }
    }
    cp_async_commit();
    cp_async_wait<1>();  // V of this tile has landed
    __syncthreads();

#pragma unroll
    for (int kk = 0; kk < BC / 16; ++kk) {
      const uint32_t a0 = Elem<T>::pack(s[2 * kk][0], s[2 * kk][1]), a1 = Elem<T>::pack(s[2 * kk][2], s[2 * kk][3]);
      const uint32_t a2 = Elem<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]), a3 = Elem<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b0, b1, b2, b3;
        ldsm_x4_t(b0, b1, b2, b3, smem_addr(sV + (kk * 16 + (mi & 1) * 8 + lr) * SD + dp * 16 + (mi >> 1) * 8));
        mma16816<T>(o[2 * dp], a0, a1, a2, a3, b0, b1);
        mma16816<T>(o[2 * dp + 1], a0, a1, a2, a3, b2, b3);
      }
    }
    __syncthreads();  // every warp is done with sV before the next tile overwrites it
  }

#pragma unroll
  for (int u = 0; u < 2; ++u) {
    l[u] += __shfl_xor_sync(0xffffffffu, l[u], 1);
    l[u] += __shfl_xor_sync(0xffffffffu, l[u], 2);
  }
#pragma unroll
  for (int u = 0; u < 2; ++u) {
    const int i = i0 + warp * 16 + g + 8 * u;
    if (i >= p.Tq) continue;
    const float inv = l[u] > 0.0f ? 1.0f / l[u] : 0.0f;
    T* orow = out + (static_cast<int64_t>(bh) * p.Tq + i) * D;
#pragma unroll
    for (int n = 0; n < NO; ++n) {
      const uint32_t packed = Elem<T>::pack(o[n][2 * u] * inv, o[n][2 * u + 1] * inv);
      *reinterpret_cast<uint32_t*>(orow + n * 8 + 2 * t) = packed;
    }
    if (t == 0) lse[static_cast<int64_t>(bh) * p.Tq + i] = l[u] > 0.0f ? m[u] * kLn2 + logf(l[u]) : INFINITY;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Simple kernels: one warp per query row (forward, dq) or key row (dk, dv); lanes split D (at most 8 values
// each). Slow but exact in structure; they serve float32, odd head dims and unaligned data.
constexpr int kMaxPerLane = static_cast<int>(kAttentionCudaMaxD / 32);

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Score in natural units of query row (pos, h) with key j, or -inf when masked.
__device__ __forceinline__ float score_nat(const Dev& p, float dot, int h, int pos, int j, int dq, int dk) {
  if (!visible(p, pos, j, dq, dk)) return -INFINITY;
  float s = dot * p.scale;
  if (p.alibi) s -= p.slope_log2[h] * kLn2 * static_cast<float>(pos - j);
  return s;
}

template <typename T>
__global__ void fwd_simple(T* out, float* lse, const T* q, const T* k, const T* v, const Dev p) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= static_cast<int64_t>(p.B) * p.H * p.Tq) return;
  const int i = static_cast<int>(row % p.Tq), bh = static_cast<int>(row / p.Tq), b = bh / p.H, h = bh % p.H;
  const int pos = p.off + i, D = p.D;
  const int64_t kvb = static_cast<int64_t>(b * p.Hkv + h / p.G) * p.Tk;
  const int dq = p.docs ? p.docs[static_cast<int64_t>(b) * p.Tk + pos] : 0;
  float qv[kMaxPerLane], o[kMaxPerLane];
#pragma unroll
  for (int u = 0; u < kMaxPerLane; ++u) {
    const int x = lane + 32 * u;
    qv[u] = x < D ? Elem<T>::load(q, row * D + x) : 0.0f;
    o[u] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  const int kend = p.causal ? pos + 1 : p.Tk;
  for (int j = 0; j < kend; ++j) {
    float dot = 0.0f;
#pragma unroll
    for (int u = 0; u < kMaxPerLane; ++u) {
      const int x = lane + 32 * u;
      if (x < D) dot += qv[u] * Elem<T>::load(k, (kvb + j) * D + x);
    }
    dot = warp_sum(dot);
    const float s = score_nat(p, dot, h, pos, j, dq, p.docs ? p.docs[static_cast<int64_t>(b) * p.Tk + j] : 0);
    if (s == -INFINITY) continue;
    if (s > m) {
      const float a = expf(m - s);
      l *= a;
#pragma unroll
      for (int u = 0; u < kMaxPerLane; ++u) o[u] *= a;
      m = s;
    }
    const float e = expf(s - m);
    l += e;
#pragma unroll
    for (int u = 0; u < kMaxPerLane; ++u) {
      const int x = lane + 32 * u;
      if (x < D) o[u] += e * Elem<T>::load(v, (kvb + j) * D + x);
    }
  }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int u = 0; u < kMaxPerLane; ++u) {
    const int x = lane + 32 * u;
    if (x < D) Elem<T>::store(out, row * D + x, o[u] * inv);
  }
  if (lane == 0) lse[row] = l > 0.0f ? m + logf(l) : INFINITY;
}

template <typename T>
__global__ void bwd_simple_dq(T* dqo, const T* dout, const T* q, const T* k, const T* v, const float* lse, const float* di,
                              const Dev p) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= static_cast<int64_t>(p.B) * p.H * p.Tq) return;
  const int i = static_cast<int>(row % p.Tq), bh = static_cast<int>(row / p.Tq), b = bh / p.H, h = bh % p.H;
  const int pos = p.off + i, D = p.D;
  const int64_t kvb = static_cast<int64_t>(b * p.Hkv + h / p.G) * p.Tk;
  const int dq = p.docs ? p.docs[static_cast<int64_t>(b) * p.Tk + pos] : 0;
  float qv[kMaxPerLane], gv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int u = 0; u < kMaxPerLane; ++u) {
    const int x = lane + 32 * u;
    qv[u] = x < D ? Elem<T>::load(q, row * D + x) : 0.0f;
    gv[u] = x < D ? Elem<T>::load(dout, row * D + x) : 0.0f;
    acc[u] = 0.0f;
  }
  const float L = lse[row], Di = di[row];
  const int kend = p.causal ? pos + 1 : p.Tk;
  for (int j = 0; j < kend; ++j) {
    float dot = 0.0f, dpv = 0.0f;
#pragma unroll
    for (int u = 0; u < kMaxPerLane; ++u) {
      const int x = lane + 32 * u;
      if (x < D) {
        dot += qv[u] * Elem<T>::load(k, (kvb + j) * D + x);
        dpv += gv[u] * Elem<T>::load(v, (kvb + j) * D + x);
      }
    }
    dot = warp_sum(dot);
    dpv = warp_sum(dpv);
    const float s = score_nat(p, dot, h, pos, j, dq, p.docs ? p.docs[static_cast<int64_t>(b) * p.Tk + j] : 0);
    if (s == -INFINITY) continue;
    const float ds = expf(s - L) * (dpv - Di) * p.scale;
#pragma unroll
    for (int u = 0; u < kMaxPerLane; ++u) {
      const int x = lane + 32 * u;
      if (x < D) acc[u] += ds * Elem<T>::load(k, (kvb + j) * D + x);
    }
  }
#pragma unroll
  for (int u = 0; u < kMaxPerLane; ++u) {
    const int x = lane + 32 * u;
    if (x < D) Elem<T>::store(dqo, row * D + x, acc[u]);
  }
}

template <typename T>
__global__ void bwd_simple_dkv(T* dko, T* dvo, const T* dout, const T* q, const T* k, const T* v, const float* lse,
                               const float* di, const Dev p) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= static_cast<int64_t>(p.B) * p.Hkv * p.Tk) return;
  const int j = static_cast<int>(row % p.Tk), bk = static_cast<int>(row / p.Tk), b = bk / p.Hkv, hk = bk % p.Hkv;
  const int D = p.D;
  const int dk = p.docs ? p.docs[static_cast<int64_t>(b) * p.Tk + j] : 0;
  float kv[kMaxPerLane], vv[kMaxPerLane], ak[kMaxPerLane], av[kMaxPerLane];
#pragma unroll
  for (int u = 0; u < kMaxPerLane; ++u) {
    const int x = lane + 32 * u;
    kv[u] = x < D ? Elem<T>::load(k, row * D + x) : 0.0f;
    vv[u] = x < D ? Elem<T>::load(v, row * D + x) : 0.0f;
    ak[u] = av[u] = 0.0f;
  }
  // Queries at positions >= j (causal) are the rows i >= j - off.
  const int istart = p.causal ? max(0, j - p.off) : 0;
  for (int h = hk * p.G; h < (hk + 1) * p.G; ++h) {
    for (int i = istart; i < p.Tq; ++i) {
      const int pos = p.off + i;
      const int64_t qr = static_cast<int64_t>(b * p.H + h) * p.Tq + i;
      float dot = 0.0f, dpv = 0.0f;
#pragma unroll
      for (int u = 0; u < kMaxPerLane; ++u) {
        const int x = lane + 32 * u;
        if (x < D) {
          dot += kv[u] * Elem<T>::load(q, qr * D + x);
          dpv += vv[u] * Elem<T>::load(dout, qr * D + x);
        }
      }
      dot = warp_sum(dot);
      dpv = warp_sum(dpv);
      const float s = score_nat(p, dot, h, pos, j, p.docs ? p.docs[static_cast<int64_t>(b) * p.Tk + pos] : 0, dk);
      if (s == -INFINITY) continue;
      const float pr = expf(s - lse[qr]);
      const float ds = pr * (dpv - di[qr]) * p.scale;
#pragma unroll
      for (int u = 0; u < kMaxPerLane; ++u) {
        const int x = lane + 32 * u;
        if (x < D) {
          av[u] += pr * Elem<T>::load(dout, qr * D + x);
          ak[u] += ds * Elem<T>::load(q, qr * D + x);
        }
      }
    }
  }
#pragma unroll
  for (int u = 0; u < kMaxPerLane; ++u) {
    const int x = lane + 32 * u;
    if (x < D) {
      Elem<T>::store(dko, row * D + x, ak[u]);
      Elem<T>::store(dvo, row * D + x, av[u]);
    }
  }
}

// di[r] = sum_x dO[r, x] * O[r, x] in fp32 (one warp per row); zeroes the dq accumulator when given.
template <typename T>
__global__ void bwd_pre(float* di, float* dq_acc, const T* dout, const T* out, int64_t rows, int D) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  float s = 0.0f;
  for (int x = lane; x < D; x += 32) {
    s += Elem<T>::load(dout, row * D + x) * Elem<T>::load(out, row * D + x);
    if (dq_acc) dq_acc[row * D + x] = 0.0f;
  }
  s = warp_sum(s);
  if (lane == 0) di[row] = s;
}

template <typename T>
__global__ void dq_convert(T* dq, const float* acc, int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    Elem<T>::store(dq, i, acc[i]);
}

// ---------------------------------------------------------------------------------------------------------
Dev make_dev(const AttentionParams& a) {
  Dev d{};
  d.B = static_cast<int>(a.B);
  d.H = static_cast<int>(a.H);
  d.Hkv = static_cast<int>(a.Hkv);
  d.Tq = static_cast<int>(a.Tq);
  d.Tk = static_cast<int>(a.Tk);
  d.D = static_cast<int>(a.D);
  d.G = static_cast<int>(a.H / a.Hkv);
  d.off = static_cast<int>(a.Tk - a.Tq);
  d.causal = a.causal ? 1 : 0;
  d.scale = static_cast<float>(a.scale);
  d.scale_log2 = static_cast<float>(a.scale * 1.4426950408889634);
  d.docs = a.doc_ids;
  d.alibi = a.slopes ? 1 : 0;
  if (a.slopes)
    for (int64_t h = 0; h < a.H; ++h) d.slope_log2[h] = static_cast<float>(a.slopes[h] * 1.4426950408889634);
  return d;
}

void check_params(const AttentionParams& a) {
  const char* op = "attention";
  LMF_CHECK(a.dtype == DType::f32 || a.dtype == DType::bf16 || a.dtype == DType::f16, dtype, op,
            "no CUDA kernel for " << dtype_name(a.dtype) << " (use float32, bfloat16 or float16 on cuda)");
  LMF_CHECK(a.D <= kAttentionCudaMaxD, shape, op,
            "head dim " << a.D << " is too large for the CUDA kernels (at most " << kAttentionCudaMaxD << ")");
  LMF_CHECK(!a.slopes || a.H <= kAttentionCudaMaxSlopes, value, op,
            "ALiBi on CUDA supports at most " << kAttentionCudaMaxSlopes << " query heads, got " << a.H);
  const int64_t big = std::numeric_limits<int>::max();
  LMF_CHECK(a.Tk < big && a.B * a.H * a.Tq < big && a.B * a.Hkv * a.Tk < big && (a.Tk + 63) / 64 <= 65535, shape, op,
            "attention of this size is too large for the CUDA kernels (rows must fit in int32, at most 65535 tiles of 64 keys)");
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// The kernels the last forward and backward of this thread ran (attention_cuda_last_kernel), so that a test
// can tell that an unaligned input really took the simple kernels.
thread_local const char* g_last_kernel[2] = {"", ""};

bool tensor_core_ok(const AttentionParams& a) { return (a.dtype == DType::bf16 || a.dtype == DType::f16) && (a.D == 64 || a.D == 128); }

template <typename T, int D>
void launch_fwd_tc(void* out, void* lse, const void* q, const void* k, const void* v, const Dev& d, cudaStream_t st) {
  constexpr int smem = fwd_smem_bytes<D>();
  allow_dynamic_smem(reinterpret_cast<const void*>(&fwd_tc<T, D>), smem, "the tensor-core forward kernel");
  const dim3 grid(d.B * d.H, (d.Tq + 63) / 64);
  fwd_tc<T, D><<<grid, kThreads, smem, st>>>(static_cast<T*>(out), static_cast<float*>(lse), static_cast<const T*>(q),
                                               static_cast<const T*>(k), static_cast<const T*>(v), d);
  check_launch("forward kernel launch");
}

template <typename T>
void launch_fwd_simple(void* out, void* lse, const void* q, const void* k, const void* v, const Dev& d, cudaStream_t st) {
  const int64_t rows = static_cast<int64_t>(d.B) * d.H * d.Tq;
  const int wpb = 4;
  fwd_simple<T><<<static_cast<unsigned>((rows + wpb - 1) / wpb), 32 * wpb, 0, st>>>(
      static_cast<T*>(out), static_cast<float*>(lse), static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), d);
  check_launch("forward kernel launch");
}

template <typename T>
void forward_typed(void* out, void* lse, const void* q, const void* k, const void* v, const AttentionParams& a, const Dev& d,
                   cudaStream_t st) {
  if constexpr (!std::is_same<T, float>::value) {
    if (tensor_core_ok(a) && aligned16(out) && aligned16(q) && aligned16(k) && aligned16(v)) {
      g_last_kernel[0] = "tensor-core";
      if (a.D == 64) return launch_fwd_tc<T, 64>(out, lse, q, k, v, d, st);
      return launch_fwd_tc<T, 128>(out, lse, q, k, v, d, st);
    }
  }
  g_last_kernel[0] = "simple";
  launch_fwd_simple<T>(out, lse, q, k, v, d, st);
}

template <typename T>
void backward_typed(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v, const void* out,
                    const float* lse, float* ws, const AttentionParams& a, const Dev& d, cudaStream_t st) {
  const int64_t rows = static_cast<int64_t>(d.B) * d.H * d.Tq;
  bool tc = false;
  if constexpr (!std::is_same<T, float>::value)
    tc = tensor_core_ok(a) && aligned16(dq) && aligned16(dk) && aligned16(dv) && aligned16(dout) && aligned16(q) &&
         aligned16(k) && aligned16(v);
  float* di = ws;
  float* acc = ws + rows;
  const int wpb = 4;
  const unsigned nb = static_cast<unsigned>((rows + wpb - 1) / wpb);
  if (rows == 0) tc = false;  // no queries: the simple dk/dv kernel writes the zeros
  g_last_kernel[1] = tc ? "tensor-core" : "simple";
  if (rows > 0) {
    bwd_pre<T><<<nb, 32 * wpb, 0, st>>>(di, tc ? acc : nullptr, static_cast<const T*>(dout), static_cast<const T*>(out), rows, d.D);
    check_launch("backward preprocess launch");
  }
  if (tc) {
    backward_tc(dq, dk, dv, dout, q, k, v, lse, di, acc, d, a.dtype, st);
    const int64_t n = rows * d.D;
    const unsigned cb = static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 65535LL * 16));
    dq_convert<T><<<cb, 256, 0, st>>>(static_cast<T*>(dq), acc, n);
    check_launch("dq conversion launch");
    return;
  }
  if (rows > 0) {
    bwd_simple_dq<T><<<nb, 32 * wpb, 0, st>>>(static_cast<T*>(dq), static_cast<const T*>(dout), static_cast<const T*>(q),
                                              static_cast<const T*>(k), static_cast<const T*>(v), lse, di, d);
    check_launch("backward dq launch");
  }
  const int64_t krows = static_cast<int64_t>(d.B) * d.Hkv * d.Tk;
  bwd_simple_dkv<T><<<static_cast<unsigned>((krows + wpb - 1) / wpb), 32 * wpb, 0, st>>>(
      static_cast<T*>(dk), static_cast<T*>(dv), static_cast<const T*>(dout), static_cast<const T*>(q), static_cast<const T*>(k),
      static_cast<const T*>(v), lse, di, d);
  check_launch("backward dk/dv launch");
}

}  // namespace
}  // namespace attn_cuda

using namespace attn_cuda;

int64_t attention_backward_workspace_cuda(const AttentionParams& p) {
  const int64_t rows = p.B * p.H * p.Tq;
  return rows + rows * p.D;
}

void attention_forward_cuda(void* out, void* lse, const void* q, const void* k, const void* v, const AttentionParams& p,
                            cuda_stream stream) {
  check_params(p);
  if (p.B * p.H * p.Tq == 0) return;
  const Dev d = make_dev(p);
  switch (p.dtype) {
    case DType::f32: return forward_typed<float>(out, lse, q, k, v, p, d, stream);
    case DType::bf16: return forward_typed<__nv_bfloat16>(out, lse, q, k, v, p, d, stream);
    default: return forward_typed<__half>(out, lse, q, k, v, p, d, stream);
  }
}

void attention_backward_cuda(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                             const void* out, const void* lse, float* workspace, const AttentionParams& p, cuda_stream stream) {
  check_params(p);
  if (p.B * p.Hkv * p.Tk == 0) return;
  const Dev d = make_dev(p);
  const float* l = static_cast<const float*>(lse);
  switch (p.dtype) {
    case DType::f32: return backward_typed<float>(dq, dk, dv, dout, q, k, v, out, l, workspace, p, d, stream);
    case DType::bf16: return backward_typed<__nv_bfloat16>(dq, dk, dv, dout, q, k, v, out, l, workspace, p, d, stream);
    default: return backward_typed<__half>(dq, dk, dv, dout, q, k, v, out, l, workspace, p, d, stream);
  }
}

const char* attention_cuda_kernel_name(const AttentionParams& p) { return tensor_core_ok(p) ? "tensor-core" : "simple"; }

const char* attention_cuda_last_kernel(bool backward) { return g_last_kernel[backward ? 1 : 0]; }

}  // namespace lmf::kernels
