#include "tensor.h"

#include "../runtime/memory.h"

namespace lmf {

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = device_alloc(bytes, device);
}

Storage::~Storage() { device_free(data_, bytes_, device_); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, const char* op) {
  const int64_t n = checked_numel(shape, op);
  Tensor t;
  t.storage = std::make_shared<Storage>(static_cast<size_t>(n) * dtype_size(dtype), device);
  t.dtype = dtype;
  t.shape = shape;
  t.strides = contiguous_strides(shape);
  return t;
}

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != acc) return false;
    acc *= shape[i];
  }
  return true;
}

}  // namespace lmf
