// Fused scaled-dot-product attention, flash-style (tiles of queries x keys with an online softmax; no
// Tq x Tk buffer), forward and backward.
//
// Shapes (one dtype): q [B, H, Tq, D]; k, v [B, Hkv, Tk, D] with H a multiple of Hkv
// (grouped-query: head h reads key/value head h / (H / Hkv)); out [B, H, Tq, D]; lse [B, H, Tq].
// Tq <= Tk: query i sits at absolute position Tk - Tq + i (the last Tq positions, as with a KV cache).
// Score of query i and key j: scale * <q_i, k_j> - slope_h * (pos_i - j) (ALiBi, when slopes are given),
// masked out when causal and j > pos_i, or when doc ids are given and doc[b, j] != doc[b, pos_i].
// lse is the natural log-sum-exp of each query's scores (float32; float64 for float64 data).
//
// dtypes: float32 and bfloat16 run the tiled SIMD kernels (fp32 accumulation); float64 runs a plain
// double-precision path (for gradcheck). The op (native/ops/attention.cpp) validated everything.
//
// Layout: every [B, heads, T, D] operand has unit stride over D and its own batch, head and row strides
// (AttentionStrides, in elements), so the CPU f32/bf16 kernels read q, k and v in place from a fused
// [B, T, (H + 2 Hkv) * D] projection and write out / dq, dk, dv in token-major layout without copies.
// The float64 path and the CUDA twin take contiguous operands only (the op copies for them and leaves
// the strides at their contiguous defaults, which those kernels ignore).
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

// Element strides of a [B, heads, T, D] operand over its batch, head and row (the D stride is 1).
struct AttentionStrides {
  int64_t b = 0, h = 0, t = 0;
  int64_t at(int64_t bi, int64_t hi, int64_t ti) const { return bi * b + hi * h + ti * t; }
};

// Contiguous [B, heads, T, D] strides.
inline AttentionStrides attention_contiguous_strides(int64_t heads, int64_t T, int64_t D) { return {heads * T * D, T * D, D}; }

struct AttentionParams {
  int64_t B = 0, H = 0, Hkv = 0, Tq = 0, Tk = 0, D = 0;
  // strided: q, k, v, out (forward output and backward input), dout, dq, dk, dv have the strides below,
  // honoured by the CPU f32/bf16 tiles. Not strided (the default): all contiguous, the strides ignored.
  bool strided = false;
  AttentionStrides sq, sk, sv, so, sg, sdq, sdk, sdv;
  DType dtype = DType::f32;
  double scale = 1.0;
  bool causal = true;
  const double* slopes = nullptr;    // H ALiBi slopes, or null
  const int32_t* doc_ids = nullptr;  // [B, Tk] document ids, or null
};

void attention_forward_cpu(void* out, void* lse, const void* q, const void* k, const void* v, const AttentionParams& p);

// Floats of scratch the backward needs (per-row terms and one fp32 dq accumulator per worker); the op
// allocates it as a tensor so memory() counts it.
int64_t attention_backward_workspace(const AttentionParams& p);

// dq, dk, dv from dout and the forward's q, k, v, out and lse; workspace holds
// attention_backward_workspace(p) floats. Deterministic for a fixed thread count.
void attention_backward_cpu(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                            const void* out, const void* lse, float* workspace, const AttentionParams& p);

// "avx512", "avx2" or "scalar": the tier the f32/bf16 kernels run on now (for benchmarks).
const char* attention_kernel_name();

// ---- CUDA twin (attention_cuda.cu, attention_bwd_cuda.cu) ----
// Same semantics and arguments; data pointers (and doc_ids) are device memory, slopes stay on the host and
// travel by value, so at most kAttentionCudaMaxSlopes heads may use ALiBi. bfloat16 and float16 with
// D = 64 or 128 and 16-byte-aligned rows run the tensor-core kernels (mma.sync m16n8k16, fp32 accumulation,
// flash-style online softmax); float32, other D (<= kAttentionCudaMaxD) and unaligned data run simple
// warp-per-row kernels. lse is float32 [B, H, Tq]. float64 has no CUDA kernel.
constexpr int kAttentionCudaMaxSlopes = 256;
constexpr int64_t kAttentionCudaMaxD = 256;
// Floats of device scratch the backward needs: an fp32 dq accumulator and the rows' rowsum(dO * O).
int64_t attention_backward_workspace_cuda(const AttentionParams& p);
void attention_forward_cuda(void* out, void* lse, const void* q, const void* k, const void* v, const AttentionParams& p,
                            cuda_stream stream);
void attention_backward_cuda(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                             const void* out, const void* lse, float* workspace, const AttentionParams& p, cuda_stream stream);
// "tensor-core" or "simple": the kernel attention_forward_cuda picks for p when the data is 16-byte aligned.
const char* attention_cuda_kernel_name(const AttentionParams& p);
// The kernels ("tensor-core" or "simple"; "" before any call) that the last attention_forward_cuda
// (backward = false) or attention_backward_cuda (true) of this thread ran: alignment included.
const char* attention_cuda_last_kernel(bool backward);

}  // namespace lmf::kernels
