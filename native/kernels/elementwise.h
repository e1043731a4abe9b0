// Elementwise math over strided, broadcast operands, computed in fp32 and stored in the operands' dtype;
// plus the copy/cast, fill, arange and random fills that create tensors.
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "../runtime/cuda_runtime.h"
#include "strided.h"

namespace lmf::kernels {

#define LMF_UNARY_OPS(X) \
  X(neg) X(exp) X(log) X(sqrt) X(rsqrt) X(abs) X(tanh) X(sigmoid) X(relu) X(sin) X(cos) X(square) X(reciprocal) X(erf) X(sign)
#define LMF_BINARY_OPS(X) \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(gt) X(ge) X(lt) X(le) X(eq) X(ne)

enum class UnaryOp {
#define LMF_X(name) name,
  LMF_UNARY_OPS(LMF_X)
#undef LMF_X
};
enum class BinaryOp {
#define LMF_X(name) name,
  LMF_BINARY_OPS(LMF_X)
#undef LMF_X
};

// Operand 0 is the output, 1 the input.
void unary_forward_cpu(void* out, const void* a, const StridedLoop& loop, DType dtype, UnaryOp op);

// Operand 0 is the output, 1 is a, 2 is b. When b is null the scalar stands for b; `swap` computes
// op(b, a) instead (for scalar - tensor and the like).
struct BinaryParams {
  BinaryOp op = BinaryOp::add;
  DType dtype = DType::f32;
  double scalar = 0.0;
  bool swap = false;
};
void binary_forward_cpu(void* out, const void* a, const void* b, const StridedLoop& loop, const BinaryParams& p);

// Strided copy with a dtype conversion (operand 0 out, 1 in). Float to integer truncates toward zero
// and saturates at the integer type's range; NaN becomes 0.
void copy_cpu(void* out, DType out_dtype, const void* in, DType in_dtype, const StridedLoop& loop);

// out = cond != 0 ? a : b over four operands (0 out, 1 cond of any dtype, 2 a, 3 b; a, b and out share dtype).
void where_cpu(void* out, const void* cond, DType cond_dtype, const void* a, const void* b, DType dtype, const StridedLoop& loop);

void fill_cpu(void* out, DType dtype, int64_t n, double value);
void arange_cpu(void* out, DType dtype, int64_t n, double start, double step);
// Element i draws from Philox(seed, counter = offset + i): uniform in [low, high) or normal(mean, std).
void rand_uniform_cpu(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float low, float high);
void rand_normal_cpu(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

// CUDA twins (elementwise_cuda.cu): the same arguments on device pointers, plus the stream.
void unary_forward_cuda(void* out, const void* a, const StridedLoop& loop, DType dtype, UnaryOp op, cuda_stream stream);
void binary_forward_cuda(void* out, const void* a, const void* b, const StridedLoop& loop, const BinaryParams& p, cuda_stream stream);
void copy_cuda(void* out, DType out_dtype, const void* in, DType in_dtype, const StridedLoop& loop, cuda_stream stream);
void where_cuda(void* out, const void* cond, DType cond_dtype, const void* a, const void* b, DType dtype, const StridedLoop& loop,
                cuda_stream stream);
void fill_cuda(void* out, DType dtype, int64_t n, double value, cuda_stream stream);
void arange_cuda(void* out, DType dtype, int64_t n, double start, double step, cuda_stream stream);
void rand_uniform_cuda(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float low, float high, cuda_stream stream);
void rand_normal_cuda(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t offset, float mean, float std, cuda_stream stream);

}  // namespace lmf::kernels
