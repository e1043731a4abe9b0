// CUDA twin of norm.h. Forward and dx: one block per row (each thread keeps to its own columns, so the
// residual sum it writes is the value it reads back). dw/db: each chunk of 128 rows writes its partial
// column sums, then one pass adds the chunks in order in double, so the result does not depend on
// scheduling (the CPU twin's rule). The chunks are walked by a grid-stride loop over gridDim.y
// (cuda_launch.cuh's norm_partial_grid), which holds at most 65535 blocks.
#include "cuda_common.cuh"
#include "cuda_launch.cuh"
#include "norm.h"

namespace lmf::kernels {
namespace {

constexpr int kNormThreads = 256;

template <class T, bool RMS>
__global__ void norm_fwd_kernel(T* y, T* sum, cu::acc_t<T>* mean, cu::acc_t<T>* rstd, const T* x, const T* r, const T* w, const T* b,
                                int64_t D, double eps) {
  using C = cu::acc_t<T>;
  __shared__ C shared[32];
  const int64_t row = blockIdx.x;
  const T* s = x + row * D;
  if (r) {
    T* so = sum + row * D;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) cu::st(so, i, C(cu::ld(s, i)) + C(cu::ld(r + row * D, i)));
    s = so;
  }
  C m = 0;
  if (!RMS) {
    C t = 0;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) t += cu::ld(s, i);
    m = cu::block_sum<C>(t, shared) / C(D);
  }
  C q = 0;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const C c = C(cu::ld(s, i)) - m;
    q += c * c;
  }
  q = cu::block_sum<C>(q, shared);
  const C rs = C(1) / sqrt(q / C(D) + C(eps));
  if (threadIdx.x == 0) {
    if (!RMS) mean[row] = m;
    rstd[row] = rs;
  }
  T* yr = y + row * D;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    C v = (C(cu::ld(s, i)) - m) * rs * C(cu::ld(w, i));
    if (b) v += C(cu::ld(b, i));
    cu::st(yr, i, v);
  }
}

template <class T, bool RMS>
__global__ void norm_dx_kernel(T* dx, const T* dy, const T* dsum, const T* s, const T* w, const cu::acc_t<T>* mean,
                               const cu::acc_t<T>* rstd, int64_t D) {
  using C = cu::acc_t<T>;
  __shared__ C shared[32];
  const int64_t row = blockIdx.x;
  const T* sr = s + row * D;
  const T* g = dy + row * D;
  const C m = RMS ? C(0) : mean[row], rs = rstd[row];
  C a1 = 0, a2 = 0;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const C xh = (C(cu::ld(sr, i)) - m) * rs;
    const C gw = C(cu::ld(g, i)) * C(cu::ld(w, i));
    a1 += gw * xh;
    a2 += gw;
  }
  const C c1 = cu::block_sum<C>(a1, shared) / C(D);
  const C c2 = RMS ? C(0) : cu::block_sum<C>(a2, shared) / C(D);
  T* d = dx + row * D;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const C xh = (C(cu::ld(sr, i)) - m) * rs;
    C v = rs * (C(cu::ld(g, i)) * C(cu::ld(w, i)) - c2 - xh * c1);
    if (dsum) v += C(cu::ld(dsum, row * D + i));
    cu::st(d, i, v);
  }
}

// Partial column sums of dy * xhat and dy over one chunk of rows: pw/pb are [chunks, D].
template <class T, bool RMS>
__global__ void norm_dwdb_partial(cu::acc_t<T>* pw, cu::acc_t<T>* pb, const T* dy, const T* s, const cu::acc_t<T>* mean,
                                  const cu::acc_t<T>* rstd, int64_t rows, int64_t chunks, int64_t D) {
  using C = cu::acc_t<T>;
  const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j >= D) return;
  for (int64_t c = blockIdx.y; c < chunks; c += gridDim.y) {
    int64_t r0, r1;
    launch::norm_chunk_rows(c, rows, r0, r1);
    C aw = 0, ab = 0;
    for (int64_t row = r0; row < r1; ++row) {
      const C gy = cu::ld(dy, row * D + j);
      const C xh = (C(cu::ld(s, row * D + j)) - (RMS ? C(0) : mean[row])) * rstd[row];
      aw += gy * xh;
      ab += gy;
    }
    pw[c * D + j] = aw;
    pb[c * D + j] = ab;
  }
}

template <class T>
__global__ void norm_dwdb_finish(T* dw, T* db, const cu::acc_t<T>* pw, const cu::acc_t<T>* pb, int64_t chunks, int64_t D) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D; j += int64_t(gridDim.x) * blockDim.x) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += pw[c * D + j];
      sb += pb[c * D + j];
    }
    cu::st(dw, j, sw);
    if (db) cu::st(db, j, sb);
  }
}

}  // namespace

void norm_forward_cuda(void* y, void* sum, void* mean, void* rstd, const void* x, const void* r, const void* w, const void* b, DType dtype,
                       const NormParams& p, cuda_stream stream) {
  if (p.rows == 0) return;
  LMF_CHECK(p.rows <= INT32_MAX, value, p.rms ? "rmsNorm" : "layerNorm", "too many rows for one CUDA grid: " << p.rows);
  cu::dispatch_float(dtype, p.rms ? "rmsNorm" : "layerNorm", [&](auto tag) {
    using T = decltype(tag);
    using C = cu::acc_t<T>;
    auto args = [&](auto kernel) {
      kernel<<<static_cast<unsigned>(p.rows), kNormThreads, 0, stream>>>(static_cast<T*>(y), static_cast<T*>(sum), static_cast<C*>(mean),
                                                                        static_cast<C*>(rstd), static_cast<const T*>(x), static_cast<const T*>(r),
                                                                        static_cast<const T*>(w), static_cast<const T*>(b), p.D, p.eps);
    };
    if (p.rms) args(norm_fwd_kernel<T, true>);
    else args(norm_fwd_kernel<T, false>);
  });
  LMF_CUDA_LAUNCHED(p.rms ? "rmsNorm" : "layerNorm");
}

void norm_backward_cuda(void* dx, void* dw, void* db, const void* dy, const void* dsum, const void* s, const void* w, const void* mean,
                        const void* rstd, DType dtype, const NormParams& p, cuda_stream stream) {
  const char* op = p.rms ? "rmsNorm backward" : "layerNorm backward";
  LMF_CHECK(p.rows <= INT32_MAX, value, op, "too many rows for one CUDA grid: " << p.rows);
  cu::dispatch_float(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using C = cu::acc_t<T>;
    const launch::NormPartialGrid pg = launch::norm_partial_grid(p.rows, p.D);
    const int64_t chunks = pg.chunks;
    if (p.rows > 0) {
      auto dx_args = [&](auto kernel) {
        kernel<<<static_cast<unsigned>(p.rows), kNormThreads, 0, stream>>>(static_cast<T*>(dx), static_cast<const T*>(dy),
                                                                          static_cast<const T*>(dsum), static_cast<const T*>(s),
                                                                          static_cast<const T*>(w), static_cast<const C*>(mean),
                                                                          static_cast<const C*>(rstd), p.D);
      };
      if (p.rms) dx_args(norm_dx_kernel<T, true>);
      else dx_args(norm_dx_kernel<T, false>);
    }
    cu::Scratch part(static_cast<size_t>(2 * (chunks > 0 ? chunks : 1) * p.D) * sizeof(C));
    C* pw = part.as<C>();
    C* pb = pw + (chunks > 0 ? chunks : 1) * p.D;
    if (chunks > 0) {
      auto part_args = [&](auto kernel) {
        kernel<<<dim3(pg.x, pg.y), launch::kNormColThreads, 0, stream>>>(pw, pb, static_cast<const T*>(dy), static_cast<const T*>(s),
                                                                         static_cast<const C*>(mean), static_cast<const C*>(rstd), p.rows,
                                                                         chunks, p.D);
      };
      if (p.rms) part_args(norm_dwdb_partial<T, true>);
      else part_args(norm_dwdb_partial<T, false>);
    }
    norm_dwdb_finish<T><<<cu::grid_for(p.D), cu::kThreads, 0, stream>>>(static_cast<T*>(dw), static_cast<T*>(db), pw, pb, chunks, p.D);
  });
  LMF_CUDA_LAUNCHED(op);
}

}  // namespace lmf::kernels
