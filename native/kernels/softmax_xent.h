// Softmax and log-softmax over the middle dimension of a contiguous [outer, n, inner] tensor, and the
// fused softmax cross-entropy over the rows of [N, V] logits.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"

namespace lmf::kernels {

void softmax_forward_cpu(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, bool log);

struct XentParams {
  int64_t N = 0, V = 0;
  int32_t ignore_index = -100;
  double z_loss = 0.0;  // coefficient of the z-loss term z * lse^2 (PaLM); 0 turns it off
};
// loss[i] = lse[i] - logits[i, target[i]] + z_loss * lse[i]^2 (0 where target == ignore_index) and lse[i]
// the row's log-sum-exp, both in double.
// Targets are checked while they are read (index_fault.h): a target outside [0, V), other than
// ignore_index, gets a NaN loss and lowers status[0] to its index_fault_key (row, target); status[1]
// counts the rows with a valid target (the mean's divisor). The caller sets status to {kNoIndexFault, 0}.
// fp32/bf16 rows: the max and the sum of exp(x - max) use 16 fp32 lanes (vectorised exp of activation.h,
// ~1.5 ulp), the lanes are added and the log taken in double. float64 rows stay in double throughout.
void xent_forward_cpu(double* loss, double* lse, uint64_t* status, const void* logits, DType dtype, const int32_t* target,
                      const XentParams& p);

// dlogits[i, j] = ((1 + 2 z lse[i]) exp(logits[i, j] - lse[i]) - [j == target[i]]) * row_grad[i], 0 on
// ignored rows (z = z_loss); NaN on the rows of a target out of range, which lowers *fault as above.
// dlogits has the logits' dtype, lse and row_grad are double.
void xent_backward_cpu(void* dlogits, uint64_t* fault, const void* logits, DType dtype, const int32_t* target, const double* lse,
                       const double* row_grad, const XentParams& p);

// CUDA twins (softmax_xent_cuda.cu): every pointer, loss/lse/status/fault/target/row_grad included, is on
// the device.
void softmax_forward_cuda(void* out, const void* in, DType dtype, int64_t outer, int64_t n, int64_t inner, bool log, cuda_stream stream);
void xent_forward_cuda(double* loss, double* lse, uint64_t* status, const void* logits, DType dtype, const int32_t* target,
                       const XentParams& p, cuda_stream stream);
void xent_backward_cuda(void* dlogits, uint64_t* fault, const void* logits, DType dtype, const int32_t* target, const double* lse,
                        const double* row_grad, const XentParams& p, cuda_stream stream);

}  // namespace lmf::kernels
