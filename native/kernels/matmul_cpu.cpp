// CPU GEMM driver (Goto/BLIS style): for each thread's rectangle of C, loop jc (NC columns) -> pc (KC of
// K) -> ic (MC rows), pack the B panel (KC x NC) and the A block (MC x KC) into micro-panels, and run
// the tier's MR x NR micro-kernel over them. The epilogue (beta for non-fp32 C, bias, residual, rounding
// to the dtype) runs on each C tile right after its last K block, while the tile is still in L1.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "../core/error.h"
#include "../runtime/thread_pool.h"
#include "matmul.h"
#include "matmul_ukernels.h"
#include "simd.h"

namespace lmf::kernels {
namespace {

using gemm::Elem;
using gemm::KernelSet;

// Growable 64-byte-aligned scratch, one set per thread: pool threads are persistent, so the buffers are
// allocated once and reused by every later call.
struct Buffer {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> ptr;
  size_t size = 0;
  void* get(size_t bytes) {
    if (bytes > size) {
      bytes = (bytes + 4095) & ~size_t(4095);
      void* p = std::aligned_alloc(64, bytes);
      LMF_CHECK(p != nullptr, memory, "matmul", "cannot allocate " << bytes << " bytes of packing scratch");
      ptr.reset(p);
      size = bytes;
    }
    return ptr.get();
  }
};

struct Scratch {
  Buffer a, b, acc;
  alignas(64) float tile[32 * 32];  // one MR x NR tile, for edges and non-fp32 outputs
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

KernelSet select_kernels(DType dt) {
  KernelSet ks;
  const gemm::KernelsFn fill =
      pick_tier<gemm::KernelsFn>(gemm::kernels_avx512, gemm::kernels_avx2, gemm::kernels_neon, gemm::kernels_portable);
  fill(dt, ks);
  return ks;
}

int dtype_index(DType dt) { return dt == DType::f32 ? 0 : dt == DType::bf16 ? 1 : 2; }

// Splits n into the fewest blocks of at most `block`, of equal size rounded up to a multiple of `unit`:
// avoids a thin last block that would run the micro-kernel at low reuse.
int64_t balanced_block(int64_t n, int64_t block, int64_t unit) {
  const int64_t nb = (n + block - 1) / block;
  const int64_t per = (n + nb - 1) / nb;
  return std::min(block, (per + unit - 1) / unit * unit);
}

struct Operands {
  const char* a;
  const char* b;
  char* c;
  const char* r;  // residual rows for this batch element, or null
};

// Adds beta * C_old (non-fp32 C only; fp32 C got beta inside the kernel), bias and residual to an
// fp32 tile and writes it to C in the dtype.
template <DType D>
void epilogue(const KernelSet& ks, const GemmParams& p, const Operands& o, int64_t row, int64_t col, int64_t mr,
              int64_t nr, const float* src, int64_t lds) {
  using T = typename Elem<D>::T;
  if (D == DType::f32 && !p.bias && !o.r) return;
  const T* bias = p.bias ? static_cast<const T*>(p.bias) + col : nullptr;
  const float beta = D == DType::f32 ? 0.0f : p.beta;
  const gemm::EpilogueFn fn = ks.epilogue[dtype_index(D)];
  for (int64_t i = 0; i < mr; ++i) {
    T* c = reinterpret_cast<T*>(o.c) + (row + i) * p.rs_c + col;
    const T* res = o.r ? reinterpret_cast<const T*>(o.r) + (row + i) * p.rs_r + col : nullptr;
    fn(c, src + i * lds, nr, beta, bias, res);
  }
}

// C = beta * C + bias + residual, for K == 0.
template <DType D>
void empty_k(const GemmParams& p, const Operands& o, int64_t m0, int64_t m1) {
  using T = typename Elem<D>::T;
  const T* bias = static_cast<const T*>(p.bias);
  for (int64_t i = m0; i < m1; ++i) {
    T* c = reinterpret_cast<T*>(o.c) + i * p.rs_c;
    const T* res = o.r ? reinterpret_cast<const T*>(o.r) + i * p.rs_r : nullptr;
    for (int64_t j = 0; j < p.N; ++j) {
      float v = p.beta != 0.0f ? p.beta * Elem<D>::load(c[j]) : 0.0f;
      if (bias) v += Elem<D>::load(bias[j]);
      if (res) v += Elem<D>::load(res[j]);
      c[j] = Elem<D>::store(v);
    }
  }
}

// One thread's rectangle [m0, m1) x [n0, n1) of one batch element's C.
template <DType D>
void gemm_rect_core(const KernelSet& ks, const GemmParams& p, const Operands& o, int64_t m0, int64_t m1,
                    int64_t n0, int64_t n1) {
  const int64_t esz = static_cast<int64_t>(dtype_size(D));
  const int MR = ks.mr, NR = ks.nr;
  const int64_t kunit = ks.dot ? 2 : 1;
  const int64_t KC = balanced_block(p.K, ks.kc, ks.dot ? 2 * ks.pair_align : 8);
  const int64_t MC = balanced_block(m1 - m0, ks.mc, MR);
  const int64_t NC = balanced_block(n1 - n0, ks.nc, NR);
  // Packed k units per panel: pairs for dot kernels, padded to the kernel's block (its packers zero-fill).
  auto units_of = [&](int64_t kc) { return ((kc + kunit - 1) / kunit + ks.pair_align - 1) / ks.pair_align * ks.pair_align; };
  const int64_t kc_units_max = units_of(KC);
  Scratch& s = scratch();
  char* bp = static_cast<char*>(s.b.get(sizeof(float) * kc_units_max * ((NC + NR - 1) / NR * NR)));
  char* ap = static_cast<char*>(s.a.get(sizeof(float) * kc_units_max * ((MC + MR - 1) / MR * MR)));
  const bool multi_k = p.K > KC;
  const bool f32 = D == DType::f32;
  // Non-fp32 C accumulates across K blocks in an fp32 copy of this thread's rows of the NC panel.
  const int64_t ld_acc = (NC + NR - 1) / NR * NR;
  float* acc = (!f32 && multi_k) ? static_cast<float*>(s.acc.get(sizeof(float) * (m1 - m0) * ld_acc)) : nullptr;
  float* tile = s.tile;
  const gemm::PackFn pack_a = ks.pack_a[dtype_index(D)], pack_b = ks.pack_b[dtype_index(D)];

  for (int64_t jc = n0; jc < n1; jc += NC) {
    const int64_t nc = std::min(NC, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const int64_t units = units_of(kc);
      const bool first = pc == 0, last = pc + kc == p.K;
      pack_b(bp, o.b + (pc * p.rs_b + jc * p.cs_b) * esz, p.cs_b, p.rs_b, nc, kc);
      for (int64_t ic = m0; ic < m1; ic += MC) {
        const int64_t mc = std::min(MC, m1 - ic);
        pack_a(ap, o.a + (ic * p.rs_a + pc * p.cs_a) * esz, p.rs_a, p.cs_a, mc, kc);
        auto micro_tile = [&](int64_t ir, int64_t jr) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const char* bpanel = bp + sizeof(float) * units * jr;
          const int64_t mr = std::min<int64_t>(MR, mc - ir);
          const char* apanel = ap + sizeof(float) * units * ir;
          const int64_t row = ic + ir, col = jc + jr;
          float* dst;
          int64_t ldd;
          if (f32) {
            dst = reinterpret_cast<float*>(o.c) + row * p.rs_c + col;
            ldd = p.rs_c;
          } else if (multi_k) {
            dst = acc + (row - m0) * ld_acc + jr;
            ldd = ld_acc;
          } else {
            dst = tile;
            ldd = NR;
          }
          const float beta_k = first ? (f32 ? p.beta : 0.0f) : 1.0f;
          if (dst == tile || (mr == MR && nr == NR)) {
            ks.ukernel(units, apanel, bpanel, dst, ldd, p.alpha, dst == tile ? 0.0f : beta_k);
          } else {
            ks.ukernel(units, apanel, bpanel, tile, NR, p.alpha, 0.0f);
            for (int64_t i = 0; i < mr; ++i) {
              float* d = dst + i * ldd;
              const float* t = tile + i * NR;
              if (beta_k == 0.0f) {
                for (int64_t j = 0; j < nr; ++j) d[j] = t[j];
              } else {
                for (int64_t j = 0; j < nr; ++j) d[j] = t[j] + beta_k * d[j];
              }
            }
          }
          if (last) epilogue<D>(ks, p, o, row, col, mr, nr, dst, ldd);
        };
        // Columns outer keeps a B micro-panel in L1 across the A panels. Rows outer (ks.rows_outer) writes C
        // a row band at a time: with columns outer, one column band of C is MC rows at C's row stride, which
        // for strides that are multiples of 4 KB fall into a few L2 sets and evict the packed A and B
        // (AMX measured 2x slower at N = 2048 bf16 with page-aligned C than with C 16 bytes off).
        if (ks.rows_outer) {
          for (int64_t ir = 0; ir < mc; ir += MR)
            for (int64_t jr = 0; jr < nc; jr += NR) micro_tile(ir, jr);
        } else {
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < mc; ir += MR) micro_tile(ir, jr);
        }
      }
    }
  }
}

template <DType D>
void gemm_rect(const KernelSet& ks, const GemmParams& p, const Operands& o, int64_t m0, int64_t m1, int64_t n0,
               int64_t n1) {
  if (p.K == 0) {
    empty_k<D>(p, o, m0, m1);
    return;
  }
  // A non-fp32 C split over several K blocks accumulates in an fp32 workspace of rows x NC; taking the
  // rows a few MC blocks at a time bounds it (to 4 * 448 * 4096 floats with AVX-512) at the price of
  // packing B once per chunk, which is amortised over 4 * MC rows.
  const int64_t rows = D != DType::f32 && p.K > ks.kc ? 4 * ks.mc : m1 - m0;
  for (int64_t r = m0; r < m1; r += rows) gemm_rect_core<D>(ks, p, o, r, std::min(m1, r + rows), n0, n1);
}

Operands operands(const GemmParams& p, int64_t b) {
  const int64_t esz = static_cast<int64_t>(dtype_size(p.dtype));
  Operands o;
  o.a = static_cast<const char*>(p.a) + b * p.bs_a * esz;
  o.b = static_cast<const char*>(p.b) + b * p.bs_b * esz;
  o.c = static_cast<char*>(p.c) + b * p.bs_c * esz;
  o.r = p.residual ? static_cast<const char*>(p.residual) + b * p.bs_r * esz : nullptr;
  return o;
}

template <DType D>
void run(const GemmParams& p) {
  const KernelSet ks = select_kernels(D);
  const int T = num_threads();
  const double work = static_cast<double>(p.M) * p.N * std::max<int64_t>(p.K, 1);
  // Below this a second thread costs more in wake-up than it saves.
  constexpr double kMinParallelWork = 64.0 * 64.0 * 64.0;

  if (p.batch >= T && T > 1 && (work < 256.0 * 256.0 * 256.0 || p.batch >= 4 * T)) {
    parallel_for(p.batch, 1, [&](int64_t b0, int64_t b1, int) {
      for (int64_t b = b0; b < b1; ++b) gemm_rect<D>(ks, p, operands(p, b), 0, p.M, 0, p.N);
    });
    return;
  }

  // Each thread computes its own rectangle of C with its own packed copies: no barriers, and the only
  // duplicated work is packing. Split M when duplicating the B panel (K x N per thread) costs less than
  // duplicating A blocks (M x K per NC panel), else split N; both on micro-tile boundaries.
  const int64_t tiles_m = (p.M + ks.mr - 1) / ks.mr, tiles_n = (p.N + ks.nr - 1) / ks.nr;
  int parts = (T > 1 && work >= kMinParallelWork) ? T : 1;
  const double nc_blocks = std::ceil(static_cast<double>(p.N) / ks.nc);
  const double cost_split_m = parts * static_cast<double>(p.N) + p.M * nc_blocks;
  const double cost_split_n = static_cast<double>(p.N) + parts * p.M * std::ceil(nc_blocks / parts);
  bool split_m = cost_split_m <= cost_split_n;
  if (split_m && tiles_m < parts) split_m = false;
  if (!split_m && tiles_n < parts) split_m = tiles_m >= tiles_n;
  parts = static_cast<int>(std::min<int64_t>(parts, split_m ? tiles_m : tiles_n));

  for (int64_t b = 0; b < p.batch; ++b) {
    const Operands o = operands(p, b);
    if (parts <= 1) {
      gemm_rect<D>(ks, p, o, 0, p.M, 0, p.N);
      continue;
    }
    parallel_for(parts, 1, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) {
        if (split_m) {
          const int64_t m0 = std::min(p.M, tiles_m * t / parts * ks.mr);
          const int64_t m1 = std::min(p.M, tiles_m * (t + 1) / parts * ks.mr);
          if (m0 < m1) gemm_rect<D>(ks, p, o, m0, m1, 0, p.N);
        } else {
          const int64_t n0 = std::min(p.N, tiles_n * t / parts * ks.nr);
          const int64_t n1 = std::min(p.N, tiles_n * (t + 1) / parts * ks.nr);
          if (n0 < n1) gemm_rect<D>(ks, p, o, 0, p.M, n0, n1);
        }
      }
    });
  }
}

}  // namespace

void matmul_forward_cpu(const GemmParams& p_in) {
  if (p_in.batch <= 0 || p_in.M <= 0 || p_in.N <= 0) return;
  // A batch over one shared B (a Linear on [batch, T, C] input) whose A, C and residual batches continue
  // each other's rows is one product of batch * M rows: B is packed once instead of once per batch
  // element (with AMX, packing a weight per 256-row element cost as much as the product), and each C
  // element still comes from the same k loop, so the result is bitwise the same.
  GemmParams p = p_in;
  if (p.batch > 1 && p.bs_b == 0 && p.bs_a == p.M * p.rs_a && p.bs_c == p.M * p.rs_c &&
      (!p.residual || p.bs_r == p.M * p.rs_r)) {
    p.M *= p.batch;
    p.batch = 1;
  }
  switch (p.dtype) {
    case DType::f32: return run<DType::f32>(p);
    case DType::bf16: return run<DType::bf16>(p);
    case DType::f16: return run<DType::f16>(p);
    default: LMF_THROW(dtype, "matmul", "unsupported dtype " << dtype_name(p.dtype) << " (expected float32, bfloat16 or float16)");
  }
}

const char* matmul_kernel_name(DType dtype) {
  if (!dtype_is_float(dtype)) return "none";
  return select_kernels(dtype).name;
}

}  // namespace lmf::kernels
