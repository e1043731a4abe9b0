// A tensor is a view (shape, strides, offset, all in elements) over a shared, aligned storage buffer.
// Views share the storage; it is freed when the last view goes.
#pragma once
#include <cstdint>
#include <memory>

#include "device.h"
#include "dtype.h"
#include "shape.h"

namespace lmf {

class Storage {
 public:
  // Allocates `bytes` on `device` (64-byte aligned on the CPU). Throws OutOfMemoryError when it cannot.
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

struct Tensor {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::f32;
  Shape shape, strides;
  int64_t offset = 0;

  // A new contiguous tensor with uninitialised contents.
  static Tensor empty(const Shape& shape, DType dtype, Device device, const char* op);

  Device device() const { return storage->device(); }
  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t numel() const { return numel_of(shape); }
  int64_t size(int d) const { return shape[d]; }
  bool is_contiguous() const;
  size_t elem_size() const { return dtype_size(dtype); }
  // Address of element 0 of the view.
  void* raw() const { return static_cast<char*>(storage->data()) + offset * static_cast<int64_t>(elem_size()); }
  template <typename T>
  T* data() const { return static_cast<T*>(raw()); }
};

}  // namespace lmf
