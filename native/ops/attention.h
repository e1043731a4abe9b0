// The attention op: validation, allocation and dispatch for the fused (flash-style) attention kernels.
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace lmf::ops {

struct AttentionOptions {
  bool causal = true;
  double scale = 1.0;
  std::vector<double> slopes;       // empty: no ALiBi; else one slope per query head
  const Tensor* doc_ids = nullptr;  // int32 [B, Tk], or null
};

struct AttentionResult {
  Tensor out, lse;  // out [B, H, Tq, D] in q's dtype; lse [B, H, Tq] float32 (float64 for float64)
};

// q [B, H, Tq, D], k and v [B, Hkv, Tk, D]; see native/kernels/attention.h for the definition.
AttentionResult attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o);

struct AttentionGrads {
  Tensor dq, dk, dv;
};

AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                  const Tensor& lse, const AttentionOptions& o);

}  // namespace lmf::ops
