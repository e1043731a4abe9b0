// Tensor-core backward of the CUDA attention twin (bf16/fp16, D = 64 or 128); see attention_cuda.cu for the
// forward and the preprocess that computes di = rowsum(dO * O) and zeroes the fp32 dq accumulator.
//
// FlashAttention-2's backward (Dao 2023, Algorithm 2), arranged by key tile: a block of 4 warps owns 64 keys
// of one key/value head (16 per warp) and keeps their dK and dV in fp32 registers; it walks every query head
// of its group (grouped-query attention then needs no atomics for dK, dV) and every query tile that can see
// these keys (causal blocks start at the diagonal). Per tile it recomputes, transposed so that keys are the
// MMA rows and the registers of one product feed the next as the A operand:
//   S^T = K Q^T,  P^T = exp2(S^T * scale*log2e - bias - lse*log2e)   (P from the saved log-sum-exp, no T x T buffer)
//   dV += P^T dO,  dP^T = V dO^T,  dS^T = P^T o (dP^T - di) * scale,  dK += dS^T Q
// and dQ += dS K, which needs every warp's dS: dS goes through shared memory and each warp adds a quarter
// of dQ's columns into the fp32 accumulator with atomics (so dq's last bits depend on the order of blocks).
#include <cmath>

#include "attention.h"
#include "attention_cuda.cuh"

namespace lmf::kernels::attn_cuda {
namespace {

template <int D, int BR>
constexpr int bwd_smem_bytes() {
  return (2 * 64 * (D + 8) + 4 * BR * (D + 8) + BR * (64 + 8)) * 2 + (6 * BR + 64) * 4;
}

template <typename T, int D, int BR>
__global__ void __launch_bounds__(128) bwd_tc(T* __restrict__ dk, T* __restrict__ dv, const T* __restrict__ dout,
                                              const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                              const float* __restrict__ lse, const float* __restrict__ di,
                                              float* __restrict__ dq_acc, const Dev p) {
  constexpr int BC = 64, SD = D + 8, SS = BC + 8, KD = D / 16, NQ = BR / 8, NO = D / 8, NW = D / 32;
  extern __shared__ __align__(16) unsigned char smem[];
  T* sK = reinterpret_cast<T*>(smem);
  T* sV = sK + BC * SD;
  // Query-side tiles are double-buffered: the next (head, query tile)'s Q, dO and row terms stream in
  // while this one is computed.
  T* sQb = sV + BC * SD;       // [2][BR][SD]
  T* sdOb = sQb + 2 * BR * SD;  // [2][BR][SD]
  T* sdS = sdOb + 2 * BR * SD;  // [BR queries][BC keys]
  float* sLb = reinterpret_cast<float*>(sdS + BR * SS);  // [2][BR] lse * log2(e); +inf for rows past Tq
  float* sDib = sLb + 2 * BR;                            // [2][BR]
  int* sDocQb = reinterpret_cast<int*>(sDib + 2 * BR);   // [2][BR]
  int* sDocK = sDocQb + 2 * BR;

  // Grid (B*Hkv, key blocks): x fastest, so the key blocks with the most causal work (small j0) start first.
  const int j0 = blockIdx.y * BC, bk = blockIdx.x, b = bk / p.Hkv, hk = bk % p.Hkv;
  const T* kg = k + static_cast<int64_t>(bk) * p.Tk * D;
  const T* vg = v + static_cast<int64_t>(bk) * p.Tk * D;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int mi = lane >> 3, lr = lane & 7;

  load_tile<T, BC, D, SD>(sK, kg, j0, p.Tk);
  load_tile<T, BC, D, SD>(sV, vg, j0, p.Tk);
  cp_async_commit();
  for (int c = tid; c < BC; c += blockDim.x) {
    const int j = j0 + c;
    sDocK[c] = p.docs && j < p.Tk ? p.docs[static_cast<int64_t>(b) * p.Tk + j] : 0;
  }

  float dka[NO][4], dva[NO][4];
#pragma unroll
  for (int n = 0; n < NO; ++n)
#pragma unroll
    for (int c = 0; c < 4; ++c) dka[n][c] = dva[n][c] = 0.0f;

  // Query rows i see key j (causal) when off + i >= j.
  const int istart = p.causal ? max(0, j0 - p.off) / BR * BR : 0;
  // Work items: (query head of the group, query tile), flattened so that prefetching crosses heads.
  const int per_h = p.Tq > istart ? (p.Tq - istart + BR - 1) / BR : 0, ntiles = p.G * per_h;
  auto issue = [&](int it) {
    const int buf = it & 1, bh = b * p.H + hk * p.G + it / per_h, i0 = istart + (it % per_h) * BR;
    load_tile<T, BR, D, SD>(sQb + buf * BR * SD, q + static_cast<int64_t>(bh) * p.Tq * D, i0, p.Tq);
    load_tile<T, BR, D, SD>(sdOb + buf * BR * SD, dout + static_cast<int64_t>(bh) * p.Tq * D, i0, p.Tq);
    for (int c = tid; c < BR; c += blockDim.x) {
      const int i = i0 + c;
      const bool ok = i < p.Tq;
      sLb[buf * BR + c] = ok ? lse[static_cast<int64_t>(bh) * p.Tq + i] * kLog2e : INFINITY;
      sDib[buf * BR + c] = ok ? di[static_cast<int64_t>(bh) * p.Tq + i] : 0.0f;
      sDocQb[buf * BR + c] = p.docs && ok ? p.docs[static_cast<int64_t>(b) * p.Tk + p.off + i] : 0;
    }
  };
  if (ntiles > 0) issue(0);
  cp_async_commit();
  {
    for (int it = 0; it < ntiles; ++it) {
      if (it + 1 < ntiles) issue(it + 1);  // into the other buffer, free since the last iteration's final barrier
      cp_async_commit();
      cp_async_wait<1>();  // everything but the prefetch just issued has landed
      __syncthreads();
      const int buf = it & 1, h = hk * p.G + it / per_h, bh = b * p.H + h, i0 = istart + (it % per_h) * BR;
      const T* sQ = sQb + buf * BR * SD;
      const T* sdO = sdOb + buf * BR * SD;
      const float* sL = sLb + buf * BR;
      const float* sDi = sDib + buf * BR;
      const int* sDocQ = sDocQb + buf * BR;
      const float slope = p.alibi ? p.slope_log2[h] : 0.0f;

      // S^T (this warp's 16 keys x BR queries) and dP^T = V dO^T.
      float s[NQ][4], dp[NQ][4];
#pragma unroll
      for (int n = 0; n < NQ; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) s[n][c] = dp[n][c] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < KD; ++kk) {
        uint32_t ka0, ka1, ka2, ka3, va0, va1, va2, va3;
        const int arow = warp * 16 + lr + (mi & 1) * 8, acol = kk * 16 + (mi >> 1) * 8;
        ldsm_x4(ka0, ka1, ka2, ka3, smem_addr(sK + arow * SD + acol));
        ldsm_x4(va0, va1, va2, va3, smem_addr(sV + arow * SD + acol));
#pragma unroll
        for (int np = 0; np < NQ / 2; ++np) {
          const int brow = np * 16 + (mi >> 1) * 8 + lr, bcol = kk * 16 + (mi & 1) * 8;
          uint32_t b0, b1, b2, b3;
          ldsm_x4(b0, b1, b2, b3, smem_addr(sQ + brow * SD + bcol));
          mma16816<T>(s[2 * np], ka0, ka1, ka2, ka3, b0, b1);
          mma16816<T>(s[2 * np + 1], ka0, ka1, ka2, ka3, b2, b3);
          ldsm_x4(b0, b1, b2, b3, smem_addr(sdO + brow * SD + bcol));
          mma16816<T>(dp[2 * np], va0, va1, va2, va3, b0, b1);
          mma16816<T>(dp[2 * np + 1], va0, va1, va2, va3, b2, b3);
        }
      }

      // P^T from the saved lse; dS^T = P^T (dP^T - di) * scale.
#pragma unroll
      for (int n = 0; n < NQ; ++n) {
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int jl = warp * 16 + g + 8 * (c >> 1), j = j0 + jl;
          const int il = n * 8 + 2 * t + (c & 1), i = i0 + il, pos = p.off + i;
          float x = s[n][c] * p.scale_log2;
          if (p.alibi) x -= slope * static_cast<float>(pos - j);
          if (i >= p.Tq || !visible(p, pos, j, sDocQ[il], sDocK[jl])) x = -INFINITY;
          const float pr = fast_exp2(x - sL[il]);
          s[n][c] = pr;
          dp[n][c] = pr * (dp[n][c] - sDi[il]) * p.scale;
        }
      }

      // dV += P^T dO and dK += dS^T Q (queries are the reduction dimension: B operands by ldmatrix.trans).
#pragma unroll
      for (int kk = 0; kk < BR / 16; ++kk) {
        const uint32_t p0 = Elem<T>::pack(s[2 * kk][0], s[2 * kk][1]), p1 = Elem<T>::pack(s[2 * kk][2], s[2 * kk][3]);
        const uint32_t p2 = Elem<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]), p3 = Elem<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
        const uint32_t d0 = Elem<T>::pack(dp[2 * kk][0], dp[2 * kk][1]), d1 = Elem<T>::pack(dp[2 * kk][2], dp[2 * kk][3]);
        const uint32_t d2 = Elem<T>::pack(dp[2 * kk + 1][0], dp[2 * kk + 1][1]), d3 = Elem<T>::pack(dp[2 * kk + 1][2], dp[2 * kk + 1][3]);
#pragma unroll
        for (int dd = 0; dd < D / 16; ++dd) {
          const int brow = kk * 16 + (mi & 1) * 8 + lr, bcol = dd * 16 + (mi >> 1) * 8;
          uint32_t b0, b1, b2, b3;
          ldsm_x4_t(b0, b1, b2, b3, smem_addr(sdO + brow * SD + bcol));
          mma16816<T>(dva[2 * dd], p0, p1, p2, p3, b0, b1);
          mma16816<T>(dva[2 * dd + 1], p0, p1, p2, p3, b2, b3);
          ldsm_x4_t(b0, b1, b2, b3, smem_addr(sQ + brow * SD + bcol));
          mma16816<T>(dka[2 * dd], d0, d1, d2, d3, b0, b1);
          mma16816<T>(dka[2 * dd + 1], d0, d1, d2, d3, b2, b3);
        }
      }

      // dS (queries x keys) into shared memory for dQ.
#pragma unroll
      for (int n = 0; n < NQ; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int jl = warp * 16 + g + 8 * (c >> 1), il = n * 8 + 2 * t + (c & 1);
          Elem<T>::store(sdS, il * SS + jl, dp[n][c]);
        }
      __syncthreads();

      // dQ[i0 + .., warp's quarter of the columns] += dS K.
#pragma unroll
      for (int mt = 0; mt < BR / 16; ++mt) {
        float acc[NW][4];
#pragma unroll
        for (int n = 0; n < NW; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk) {
          uint32_t a0, a1, a2, a3;
          ldsm_x4(a0, a1, a2, a3, smem_addr(sdS + (mt * 16 + lr + (mi & 1) * 8) * SS + kk * 16 + (mi >> 1) * 8));
#pragma unroll
          for (int dd = 0; dd < NW / 2; ++dd) {
            uint32_t b0, b1, b2, b3;
            ldsm_x4_t(b0, b1, b2, b3,
                      smem_addr(sK + (kk * 16 + (mi & 1) * 8 + lr) * SD + warp * (D / 4) + dd * 16 + (mi >> 1) * 8));
            mma16816<T>(acc[2 * dd], a0, a1, a2, a3, b0, b1);
            mma16816<T>(acc[2 * dd + 1], a0, a1, a2, a3, b2, b3);
          }
        }
#pragma unroll
        for (int n = 0; n < NW; ++n)
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            const int i = i0 + mt * 16 + g + 8 * (c >> 1);
            if (i < p.Tq)
              atomicAdd(dq_acc + (static_cast<int64_t>(bh) * p.Tq + i) * D + warp * (D / 4) + n * 8 + 2 * t + (c & 1), acc[n][c]);
          }
      }
      __syncthreads();  // this buffer and sdS are overwritten by the next iterations
    }
  }

#pragma unroll
  for (int u = 0; u < 2; ++u) {
    const int j = j0 + warp * 16 + g + 8 * u;
    if (j >= p.Tk) continue;
    T* krow = dk + (static_cast<int64_t>(bk) * p.Tk + j) * D;
    T* vrow = dv + (static_cast<int64_t>(bk) * p.Tk + j) * D;
#pragma unroll
    for (int n = 0; n < NO; ++n) {
      *reinterpret_cast<uint32_t*>(krow + n * 8 + 2 * t) = Elem<T>::pack(dka[n][2 * u], dka[n][2 * u + 1]);
      *reinterpret_cast<uint32_t*>(vrow + n * 8 + 2 * t) = Elem<T>::pack(dva[n][2 * u], dva[n][2 * u + 1]);
    }
  }
}

template <typename T, int D, int BR>
void launch(void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v, const float* lse, const float* di,
            float* acc, const Dev& d, cudaStream_t st) {
  constexpr int smem = bwd_smem_bytes<D, BR>();
  allow_dynamic_smem(reinterpret_cast<const void*>(&bwd_tc<T, D, BR>), smem, "the tensor-core backward kernel");
  const dim3 grid(d.B * d.Hkv, (d.Tk + 63) / 64);
  bwd_tc<T, D, BR><<<grid, 128, smem, st>>>(static_cast<T*>(dk), static_cast<T*>(dv), static_cast<const T*>(dout),
                                             static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), lse, di,
                                             acc, d);
  check_launch("backward kernel launch");
}

template <typename T>
void dispatch_d(void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v, const float* lse,
                const float* di, float* acc, const Dev& d, cudaStream_t st) {
  // 64 queries per step at D = 64; 32 at D = 128 keeps dK, dV, S and dP in registers without spilling.
  if (d.D == 64) launch<T, 64, 64>(dk, dv, dout, q, k, v, lse, di, acc, d, st);
  else launch<T, 128, 32>(dk, dv, dout, q, k, v, lse, di, acc, d, st);
}

}  // namespace

void backward_tc(void* /*dq*/, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v, const float* lse,
                 const float* di, float* dq_acc, const Dev& d, DType dtype, cudaStream_t st) {
  if (dtype == DType::bf16) dispatch_d<__nv_bfloat16>(dk, dv, dout, q, k, v, lse, di, dq_acc, d, st);
  else dispatch_d<__half>(dk, dv, dout, q, k, v, lse, di, dq_acc, d, st);
}

}  // namespace lmf::kernels::attn_cuda
