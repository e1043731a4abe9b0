// The op layer: validates dtype, shape and device, allocates outputs and calls the kernel twins.
// Every function throws lmf::Error naming the op (as the user knows it) and the offending values.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "../kernels/elementwise.h"
#include "../kernels/reduce.h"

namespace lmf::ops {

// creation
Tensor full(const Shape& shape, DType dtype, double value, Device device);
Tensor arange(double start, double stop, double step, DType dtype, Device device);
Tensor rand_uniform(const Shape& shape, DType dtype, uint64_t seed, uint64_t offset, double low, double high, Device device);
Tensor rand_normal(const Shape& shape, DType dtype, uint64_t seed, uint64_t offset, double mean, double std, Device device);
// Copies `bytes` of host data laid out contiguously in `dtype` into a new tensor.
Tensor from_host(const void* data, size_t bytes, const Shape& shape, DType dtype, Device device);
// Copies the tensor's elements in row-major order into dst (numel * dtype size bytes).
void to_host(const Tensor& t, void* dst);

// views and copies
Tensor reshape(const Tensor& t, Shape shape);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t d0, int64_t d1);
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step);
Tensor expand(const Tensor& t, const Shape& shape);
Tensor contiguous(const Tensor& t);
Tensor astype(const Tensor& t, DType dtype);
Tensor to_device(const Tensor& t, Device device);
// Copies src into dst elementwise (broadcasting src, converting dtype). A src that shares memory with dst
// is read through a temporary; a dst whose elements overlap (an expanded view) is refused.
void copy_into(const Tensor& dst, const Tensor& src);
// True when two elements of t share an address (a stride 0 over a dimension of size > 1).
bool has_internal_overlap(const Tensor& t);
// True when a and b may share memory: the same storage and intersecting byte ranges.
bool may_overlap(const Tensor& a, const Tensor& b);
// An operand of an op that updates several tensors in place; `what` names it in errors.
struct InPlaceArg {
  const Tensor* t;
  bool written;
  std::string what;
};
// Throws ValueError when an operand that is written may share memory with another operand (operands
// that are only read may share): a fused pass would update that memory twice or read what it wrote.
void check_no_alias(const std::vector<InPlaceArg>& args, const char* op);

// math
Tensor unary(const Tensor& t, kernels::UnaryOp op);
Tensor binary(const Tensor& a, const Tensor& b, kernels::BinaryOp op);
Tensor binary_scalar(const Tensor& a, double s, kernels::BinaryOp op, bool scalar_first);
// cond ? a : b with broadcasting; cond may have any dtype (nonzero is true).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor reduce(const Tensor& t, std::vector<int64_t> dims, bool keepdim, kernels::ReduceOp op);
// a @ b with NumPy matmul semantics (1-d operands promoted, batch dims broadcast); bias over the last
// dim and residual of the output's shape are fused into the epilogue.
Tensor matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor* residual);
Tensor softmax(const Tensor& t, int64_t dim, bool log);
Tensor embedding(const Tensor& weight, const Tensor& index);
// dWeight [V, D] from dOut [..., D]: rows scattered and summed (duplicates add), accumulated in fp32
// (fp64 for float64) and returned in dOut's dtype.
Tensor embedding_backward(const Tensor& grad_out, const Tensor& index, int64_t num_embeddings);
// Per-row losses [N] (reduction "none"), or their mean over non-ignored rows / sum as a 0-d tensor,
// in the logits' dtype; also each row's log-sum-exp (float32, float64 for float64 logits) for the
// backward pass and the number of non-ignored rows.
struct CrossEntropyResult {
  Tensor loss, lse;
  int64_t valid = 0;
};
// z_loss adds z_loss * lse^2 to each non-ignored row's loss (PaLM's z-loss; 0 = off).
CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, const std::string& reduction,
                                 double z_loss = 0.0);
// dlogits [N, V] = (softmax(logits) - onehot(target)) * row_grad[row] (0 for ignored rows), from the
// saved log-sum-exp; row_grad is [N] in lse's dtype.
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& row_grad, int64_t ignore_index,
                              double z_loss = 0.0);

const char* unary_name(kernels::UnaryOp op);
const char* binary_name(kernels::BinaryOp op);
const char* reduce_name(kernels::ReduceOp op);

}  // namespace lmf::ops
