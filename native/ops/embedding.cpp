#include "../kernels/embedding.h"

#include <mutex>
#include <vector>

#include "../kernels/index_fault.h"
#include "checks.h"
#include "dispatch.h"
#include "ops.h"

namespace lmf::ops {

void throw_index_fault(uint64_t key, const char* op, const char* what, const char* where, int64_t bound, const char* note) {
  LMF_THROW(value, op, what << " " << kernels::index_fault_value(key) << " at " << where << " " << kernels::index_fault_position(key)
                            << " is outside [0, " << bound << ")" << note);
}

namespace {

// The fault words of CUDA launches since the last report: one device word per launch, in a block
// allocated once (never freed, so that no destructor runs after the CUDA runtime has shut down), and
// on the host what each launch checked, to name it. A kernel cannot throw, and reading its word right
// after the launch would wait for the device at every step; instead the words are read where the host
// waits anyway (report_cuda_index_faults), or when every slot is taken.
class CudaIndexFaults {
 public:
  uint64_t* slot(const char* op, const char* what, const char* where, int64_t bound) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!words_) {
      words_ = static_cast<uint64_t*>(cuda_alloc(kSlots * sizeof(uint64_t)));
      clear(kSlots);
    }
    if (pending_.size() == kSlots) report_locked();
    pending_.push_back({op, what, where, bound});
    return words_ + (pending_.size() - 1);
  }

  void report() {
    std::lock_guard<std::mutex> lock(mu_);
    report_locked();
  }

 private:
  static constexpr size_t kSlots = 256;
  struct Launch {
    const char* op;
    const char* what;
    const char* where;
    int64_t bound;
  };

  // Waits for the device (a read), then throws the first fault of the earliest faulty launch.
  void report_locked() {
    if (pending_.empty()) return;
    std::vector<uint64_t> got(pending_.size());
    cuda_copy(got.data(), words_, got.size() * sizeof(uint64_t), 1);
    const std::vector<Launch> launches = std::move(pending_);
    pending_.clear();
    clear(launches.size());
    for (size_t i = 0; i < launches.size(); ++i)
      if (got[i] != kernels::kNoIndexFault)
        throw_index_fault(got[i], launches[i].op, launches[i].what, launches[i].where, launches[i].bound,
                          " (found on CUDA by an earlier call, reported at the next synchronisation)");
  }

  // Queued on the stream like the kernels, so the next launch sees a clean word.
  void clear(size_t n) {
    static const std::vector<uint64_t> none(kSlots, kernels::kNoIndexFault);
    cuda_copy(words_, none.data(), n * sizeof(uint64_t), 0);
  }

  std::mutex mu_;
  uint64_t* words_ = nullptr;
  std::vector<Launch> pending_;
};

CudaIndexFaults& cuda_faults() {
  static CudaIndexFaults* f = new CudaIndexFaults();  // never destroyed: see the class comment
  return *f;
}

}  // namespace

uint64_t* cuda_index_fault_slot(const char* op, const char* what, const char* where, int64_t bound) {
  return cuda_faults().slot(op, what, where, bound);
}

void report_cuda_index_faults() { cuda_faults().report(); }

Tensor embedding(const Tensor& weight, const Tensor& index) {
  const char* op = "embedding";
  check_same_device(weight, index, op);
  LMF_CHECK(weight.ndim() == 2, shape, op, "weight must have shape [V, D], got " << shape_str(weight.shape));
  LMF_CHECK(index.dtype == DType::i32, dtype, op, "indices must be int32, got " << dtype_name(index.dtype));
  const Tensor w = contiguous(weight), idx = contiguous(index);
  const int64_t V = w.shape[0], D = w.shape[1], N = idx.numel();
  Shape out_shape = index.shape;
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, w.dtype, w.device(), op);
  // The kernels check the indices while they gather (kernels/index_fault.h).
  if (out.device() == Device::cuda) {
    LMF_CUDA_TWIN(op, kernels::embedding_forward_cuda(out.raw(), cuda_index_fault_slot(op, "index", "position", V), w.raw(),
                                                      idx.data<int32_t>(), N, V, D, w.dtype, cuda_current_stream()));
  } else {
    uint64_t fault = kernels::kNoIndexFault;
    kernels::embedding_forward_cpu(out.raw(), &fault, w.raw(), idx.data<int32_t>(), N, V, D, w.dtype);
    if (fault != kernels::kNoIndexFault) throw_index_fault(fault, op, "index", "position", V);
  }
  return out;
}

Tensor embedding_backward(const Tensor& grad_out, const Tensor& index, int64_t num_embeddings) {
  const char* op = "embedding backward";
  check_same_device(grad_out, index, op);
  check_float(grad_out, op, "gradient");
  LMF_CHECK(index.dtype == DType::i32, dtype, op, "indices must be int32, got " << dtype_name(index.dtype));
  LMF_CHECK(grad_out.ndim() == index.ndim() + 1, shape, op,
            "gradient " << shape_str(grad_out.shape) << " does not match indices " << shape_str(index.shape));
  for (int d = 0; d < index.ndim(); ++d)
    LMF_CHECK(grad_out.shape[d] == index.shape[d], shape, op,
              "gradient " << shape_str(grad_out.shape) << " does not match indices " << shape_str(index.shape));
  LMF_CHECK(num_embeddings >= 0, value, op, "number of embeddings must be non-negative, got " << num_embeddings);
  const Tensor g = contiguous(grad_out), idx = contiguous(index);
  const int64_t N = idx.numel(), D = g.shape.back(), V = num_embeddings;
  const DType acc = g.dtype == DType::f64 ? DType::f64 : DType::f32;
  Tensor dw = full({V, D}, acc, 0.0, g.device());
  if (g.device() == Device::cuda) {
    LMF_CUDA_TWIN(op, kernels::embedding_backward_cuda(dw.raw(), cuda_index_fault_slot(op, "index", "position", V), acc, g.raw(), g.dtype,
                                                       idx.data<int32_t>(), N, V, D, cuda_current_stream()));
  } else {
    uint64_t fault = kernels::kNoIndexFault;
    kernels::embedding_backward_cpu(dw.raw(), &fault, acc, g.raw(), g.dtype, idx.data<int32_t>(), N, V, D);
    if (fault != kernels::kNoIndexFault) throw_index_fault(fault, op, "index", "position", V);
  }
  return astype(dw, g.dtype);
}

}  // namespace lmf::ops
