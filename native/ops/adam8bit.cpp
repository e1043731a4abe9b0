// The blockwise 8-bit quantisation of 8-bit Adam's state (kernels/adam8bit.h): the dynamic map, quantize and
// dequantize. The 8-bit Adam step itself shares Adam's validation and dispatch (adam_family_step in optim.cpp).
#include "../kernels/adam8bit.h"
#include "../runtime/cuda_runtime.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

Tensor quant8_map(bool is_signed) {
  Tensor t = Tensor::empty({256}, DType::f32, Device::cpu, "quant8Map");
  const kernels::Quant8Map& q = kernels::quant8_map(is_signed);
  for (int i = 0; i < 256; ++i) t.data<float>()[i] = q.code[i];
  return t;
}

std::vector<Tensor> quantize8(const Tensor& x, bool is_signed) {
  const char* op = "quantize8";
  const Device dev = x.device();
  check_contig(x, dev, op, "input");
  LMF_CHECK(x.dtype == DType::f32, dtype, op, "input must be float32, got " << dtype_name(x.dtype));
  const int64_t n = x.numel(), blocks = (n + kernels::kQuant8Block - 1) / kernels::kQuant8Block;
  Tensor codes = Tensor::empty(x.shape, DType::u8, dev, op);
  Tensor absmax = Tensor::empty({blocks}, DType::f32, dev, op);
  if (dev == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::quantize_blockwise_cuda(codes.data<uint8_t>(), absmax.data<float>(), x.data<float>(), n, is_signed,
                                                       cuda_current_stream()));
  else
    kernels::quantize_blockwise_cpu(codes.data<uint8_t>(), absmax.data<float>(), x.data<float>(), n, is_signed);
  return {codes, absmax};
}

Tensor dequantize8(const Tensor& codes, const Tensor& absmax, bool is_signed) {
  const char* op = "dequantize8";
  const Device dev = codes.device();
  check_contig(codes, dev, op, "codes");
  LMF_CHECK(codes.dtype == DType::u8, dtype, op, "codes must be uint8, got " << dtype_name(codes.dtype));
  const int64_t n = codes.numel(), blocks = (n + kernels::kQuant8Block - 1) / kernels::kQuant8Block;
  check_state(absmax, dev, DType::f32, blocks, op, "absmax");
  Tensor x = Tensor::empty(codes.shape, DType::f32, dev, op);
  if (dev == Device::cuda)
    LMF_CUDA_TWIN(op, kernels::dequantize_blockwise_cuda(x.data<float>(), codes.data<uint8_t>(), absmax.data<float>(), n, is_signed,
                                                         cuda_current_stream()));
  else
    kernels::dequantize_blockwise_cpu(x.data<float>(), codes.data<uint8_t>(), absmax.data<float>(), n, is_signed);
  return x;
}

}  // namespace lmf::ops
