// cuBLASLt through dlopen. The declarations below are the subset of cublasLt.h this file calls, with the
// enum values of the public header (stable across CUDA 12 and 13); the toolkit's cublasLt.h is not needed
// at build time, so the addon builds where only nvcc and cudart are installed.
//
// Mapping a row-major GEMM onto column-major cuBLASLt: row-major C[M, N] is the column-major matrix
// C^T (N x M), and C^T = B^T A^T. So cuBLASLt's "A" is our B (N x K after its op) and its "B" is our A
// (K x M); the bias broadcast over our rows is cuBLASLt's per-row bias of D (length N), which is what the
// BIAS epilogue adds. The residual is cuBLASLt's C with beta = 1 (D = alpha A B + C, out of place).
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <library_types.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "../core/error.h"
#include "../kernels/cuda_common.cuh"
#include "cublaslt.h"

namespace lmf {
namespace {

using Status = int;  // cublasStatus_t
constexpr Status kSuccess = 0, kNotSupported = 15;
using Handle = void*;
using Desc = void*;
using Layout = void*;
using Pref = void*;
struct Algo {
  uint64_t data[8];
};
struct Heuristic {
  Algo algo;
  size_t workspace;
  Status state;
  float waves;
  int reserved[4];
};
// cublasComputeType_t
constexpr int kCompute32F = 68, kCompute64F = 70;
// cublasLtMatmulDescAttributes_t
constexpr int kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7, kDescBiasPointer = 8;
// cublasLtMatrixLayoutAttribute_t
constexpr int kLayoutBatchCount = 5, kLayoutBatchStride = 6;
// cublasLtMatmulPreferenceAttributes_t
constexpr int kPrefMaxWorkspace = 1, kPrefAlignA = 5, kPrefAlignB = 6, kPrefAlignC = 7, kPrefAlignD = 8;
// cublasLtEpilogue_t
constexpr int kEpilogueDefault = 1, kEpilogueBias = 4;
constexpr int kOpN = 0, kOpT = 1;

struct Api {
  Status (*create)(Handle*);
  Status (*desc_create)(Desc*, int, int);
  Status (*desc_destroy)(Desc);
  Status (*desc_set)(Desc, int, const void*, size_t);
  Status (*layout_create)(Layout*, int, uint64_t, uint64_t, int64_t);
  Status (*layout_destroy)(Layout);
  Status (*layout_set)(Layout, int, const void*, size_t);
  Status (*pref_create)(Pref*);
  Status (*pref_destroy)(Pref);
  Status (*pref_set)(Pref, int, const void*, size_t);
  Status (*heuristic)(Handle, Desc, Layout, Layout, Layout, Layout, Pref, int, Heuristic*, int*);
  Status (*matmul)(Handle, Desc, const void*, const void*, Layout, const void*, Layout, const void*, const void*, Layout, void*,
                   Layout, const Algo*, void*, size_t, cudaStream_t);
  const char* (*status_name)(Status);
};

struct Loaded {
  bool ok = false;
  std::string why;
  Api api{};
};

template <class F>
bool sym(void* lib, const char* name, F& f, std::string& why) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  if (!f) why = std::string("libcublasLt has no symbol ") + name;
  return f != nullptr;
}

const Loaded& loaded() {
  static const Loaded L = [] {
    Loaded r;
    const char* env = std::getenv("LMF_CUBLASLT");
    if (env && std::strcmp(env, "0") == 0) {
      r.why = "LMF_CUBLASLT=0 turned cuBLASLt off";
      return r;
    }
    void* lib = nullptr;
    for (const char* name : {"libcublasLt.so.13", "libcublasLt.so.12"}) {
      lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
    }
    if (!lib) {
      const char* e = dlerror();
      r.why = std::string("libcublasLt.so.13 / .so.12 not found (") + (e ? e : "dlopen failed") +
              "); install the CUDA toolkit's cuBLAS or put it on LD_LIBRARY_PATH";
      return r;
    }
    Api& a = r.api;
    bool ok = sym(lib, "cublasLtCreate", a.create, r.why) && sym(lib, "cublasLtMatmulDescCreate", a.desc_create, r.why) &&
              sym(lib, "cublasLtMatmulDescDestroy", a.desc_destroy, r.why) &&
              sym(lib, "cublasLtMatmulDescSetAttribute", a.desc_set, r.why) &&
              sym(lib, "cublasLtMatrixLayoutCreate", a.layout_create, r.why) &&
              sym(lib, "cublasLtMatrixLayoutDestroy", a.layout_destroy, r.why) &&
              sym(lib, "cublasLtMatrixLayoutSetAttribute", a.layout_set, r.why) &&
              sym(lib, "cublasLtMatmulPreferenceCreate", a.pref_create, r.why) &&
              sym(lib, "cublasLtMatmulPreferenceDestroy", a.pref_destroy, r.why) &&
              sym(lib, "cublasLtMatmulPreferenceSetAttribute", a.pref_set, r.why) &&
              sym(lib, "cublasLtMatmulAlgoGetHeuristic", a.heuristic, r.why) && sym(lib, "cublasLtMatmul", a.matmul, r.why) &&
              sym(lib, "cublasLtGetStatusName", a.status_name, r.why);
    r.ok = ok;
    return r;
  }();
  return L;
}

// One handle and one workspace per device, made on first use and kept for the process.
constexpr size_t kWorkspace = size_t(32) << 20;
struct PerDevice {
  Handle handle = nullptr;
  void* workspace = nullptr;
};
std::mutex g_mu;
std::vector<PerDevice> g_dev;

void check(Status s, const char* what) {
  if (s == kSuccess) return;
  const char* name = loaded().api.status_name ? loaded().api.status_name(s) : "?";
  LMF_THROW(internal, "matmul", "cuBLASLt " << what << " failed: " << name << " (status " << s << ")");
}

PerDevice& device_state() {
  int d = 0;
  LMF_CUDA_CHECK(cudaGetDevice(&d), "matmul");
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_dev.size() <= static_cast<size_t>(d)) g_dev.resize(static_cast<size_t>(d) + 1);
  PerDevice& s = g_dev[static_cast<size_t>(d)];
  if (!s.handle) {
    check(loaded().api.create(&s.handle), "cublasLtCreate");
    LMF_CUDA_CHECK(cudaMalloc(&s.workspace, kWorkspace), "matmul");
  }
  return s;
}

// A strided operand X (R x C), element (i, j) at i * si + j * sj, as a column-major cuBLASLt layout,
// possibly transposed: rows/cols/ld of the stored matrix and the op to apply. False when the strides
// are not a column-major matrix or its transpose (the caller then uses the fallback kernel).
struct Mat {
  uint64_t rows = 0, cols = 0;
  int64_t ld = 0;
  int op = kOpN;
};
bool describe(int64_t R, int64_t C, int64_t si, int64_t sj, Mat& m) {
  if ((si == 1 || R == 1) && (C == 1 || sj >= R)) {
    m = Mat{static_cast<uint64_t>(R), static_cast<uint64_t>(C), C == 1 ? R : sj, kOpN};
    return m.ld >= 1;
  }
  if ((sj == 1 || C == 1) && (R == 1 || si >= C)) {
    m = Mat{static_cast<uint64_t>(C), static_cast<uint64_t>(R), R == 1 ? C : si, kOpT};
    return m.ld >= 1;
  }
  return false;
}

// The largest power of two (at most 256) dividing the address. cuBLASLt assumes 256-byte aligned
// operands unless told otherwise, and views at an offset (slices) are not.
uint32_t alignment(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && a % al != 0) al >>= 1;
  return al;
}

int cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::f16: return CUDA_R_16F;
    case DType::f64: return CUDA_R_64F;
    default: return -1;
  }
}

// Owns the descriptors of one call.
struct Call {
  const Api& a;
  Desc desc = nullptr;
  Layout la = nullptr, lb = nullptr, lc = nullptr, ld = nullptr;
  Pref pref = nullptr;
  explicit Call(const Api& api) : a(api) {}
  ~Call() {
    if (pref) a.pref_destroy(pref);
    for (Layout l : {la, lb, lc, ld})
      if (l) a.layout_destroy(l);
    if (desc) a.desc_destroy(desc);
  }
};

Layout make_layout(const Api& a, int type, const Mat& m, int64_t batch, int64_t bstride) {
  Layout l = nullptr;
  check(a.layout_create(&l, type, m.rows, m.cols, m.ld), "MatrixLayoutCreate");
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    check(a.layout_set(l, kLayoutBatchCount, &count, sizeof count), "MatrixLayoutSetAttribute");
    check(a.layout_set(l, kLayoutBatchStride, &bstride, sizeof bstride), "MatrixLayoutSetAttribute");
  }
  return l;
}

// What the last GEMM of this thread ran on (cuda_last_gemm_engine); set by every cublaslt_gemm call, so
// that a test can assert that a bf16/fp16 GEMM went through cuBLASLt rather than silently falling back.
thread_local std::string g_last_engine;

bool decline(const std::string& why) {
  g_last_engine = "fallback kernel (" + why + ")";
  return false;
}

}  // namespace

std::string cuda_last_gemm_engine() { return g_last_engine; }

bool cublaslt_available(std::string* why) {
  const Loaded& L = loaded();
  if (why) *why = L.why;
  return L.ok;
}

std::string cuda_gemm_engine() {
  std::string why;
  if (cublaslt_available(&why)) return "cublasLt";
  return "fallback kernel (" + why + ")";
}

bool cublaslt_gemm(const kernels::GemmParams& p, cuda_stream stream) {
  const Loaded& L = loaded();
  if (!L.ok) return decline(L.why);
  const int type = cuda_type(p.dtype);
  if (type < 0 || p.batch > INT32_MAX) return decline("no cuBLASLt type for this dtype, or a batch above 2^31");
  if (p.beta != 0.0f && p.residual) return decline("beta and a residual both add into C");  // the fallback kernel does both
  // cuBLASLt "A" = our B as (N x K): element (n, k) = b[k*rs_b + n*cs_b]; "B" = our A as (K x M).
  Mat ma, mb;
  if (!describe(p.N, p.K, p.cs_b, p.rs_b, ma) || !describe(p.K, p.M, p.cs_a, p.rs_a, mb))
    return decline("operand strides that are not a (transposed) column-major matrix");
  const Mat mc{static_cast<uint64_t>(p.N), static_cast<uint64_t>(p.M), p.M == 1 ? p.N : p.rs_c, kOpN};
  if (mc.ld < p.N) return decline("output rows overlap");
  Mat mr = mc;
  if (p.residual) {
    mr.ld = p.M == 1 ? p.N : p.rs_r;
    if (mr.ld < p.N) return decline("residual rows overlap");
  }

  const Api& a = L.api;
  PerDevice& dev = device_state();
  Call c(a);
  const bool f64 = p.dtype == DType::f64;
  check(a.desc_create(&c.desc, f64 ? kCompute64F : kCompute32F, f64 ? CUDA_R_64F : CUDA_R_32F), "MatmulDescCreate");
  const int32_t ta = ma.op, tb = mb.op;
  check(a.desc_set(c.desc, kDescTransA, &ta, sizeof ta), "MatmulDescSetAttribute(TRANSA)");
  check(a.desc_set(c.desc, kDescTransB, &tb, sizeof tb), "MatmulDescSetAttribute(TRANSB)");
  const int32_t epi = p.bias ? kEpilogueBias : kEpilogueDefault;
  check(a.desc_set(c.desc, kDescEpilogue, &epi, sizeof epi), "MatmulDescSetAttribute(EPILOGUE)");
  if (p.bias) check(a.desc_set(c.desc, kDescBiasPointer, &p.bias, sizeof p.bias), "MatmulDescSetAttribute(BIAS_POINTER)");

  c.la = make_layout(a, type, ma, p.batch, p.bs_b);
  c.lb = make_layout(a, type, mb, p.batch, p.bs_a);
  c.ld = make_layout(a, type, mc, p.batch, p.bs_c);
  c.lc = p.residual ? make_layout(a, type, mr, p.batch, p.bs_r) : make_layout(a, type, mc, p.batch, p.bs_c);
  check(a.pref_create(&c.pref), "MatmulPreferenceCreate");
  const uint64_t ws = kWorkspace;
  check(a.pref_set(c.pref, kPrefMaxWorkspace, &ws, sizeof ws), "MatmulPreferenceSetAttribute");
  const void* C = p.residual ? p.residual : p.c;
  const uint32_t al_a = alignment(p.b), al_b = alignment(p.a), al_c = alignment(C), al_d = alignment(p.c);
  check(a.pref_set(c.pref, kPrefAlignA, &al_a, sizeof al_a), "MatmulPreferenceSetAttribute(MIN_ALIGNMENT_A)");
  check(a.pref_set(c.pref, kPrefAlignB, &al_b, sizeof al_b), "MatmulPreferenceSetAttribute(MIN_ALIGNMENT_B)");
  check(a.pref_set(c.pref, kPrefAlignC, &al_c, sizeof al_c), "MatmulPreferenceSetAttribute(MIN_ALIGNMENT_C)");
  check(a.pref_set(c.pref, kPrefAlignD, &al_d, sizeof al_d), "MatmulPreferenceSetAttribute(MIN_ALIGNMENT_D)");
  if (p.bias && alignment(p.bias) < 16) return decline("a bias not 16-byte aligned");  // no preference describes the bias
  Heuristic h{};
  int found = 0;
  // No algorithm (or a layout it refuses, such as a batch stride it cannot take): the fallback kernel.
  const Status hs = a.heuristic(dev.handle, c.desc, c.la, c.lb, c.lc, c.ld, c.pref, 1, &h, &found);
  if (hs != kSuccess || found == 0) return decline("no cuBLASLt algorithm for this shape and layout");

  const float alpha_f = p.alpha, beta_f = p.residual ? 1.0f : p.beta;
  const double alpha_d = p.alpha, beta_d = beta_f;
  const void* alpha = f64 ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta = f64 ? static_cast<const void*>(&beta_d) : &beta_f;
  const Status ms = a.matmul(dev.handle, c.desc, alpha, p.b, c.la, p.a, c.lb, beta, C, c.lc, p.c, c.ld, &h.algo, dev.workspace,
                             kWorkspace, stream);
  if (ms == kNotSupported) return decline("cublasLtMatmul reported NOT_SUPPORTED");
  check(ms, "cublasLtMatmul");
  LMF_CUDA_LAUNCHED("matmul");
  g_last_engine = "cublasLt";
  return true;
}

}  // namespace lmf
