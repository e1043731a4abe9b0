// The collective ops (runtime/collective.h): validation of the tensors, then one engine call. Every rank
// checks its own arguments before any communication, so a bad argument given on every rank fails on every
// rank at once instead of leaving the others waiting.
#include <utility>

#include "checks.h"
#include "ops.h"

namespace lmf::ops {

namespace {

const coll::Info& joined(const char* op) {
  const coll::Info* info = coll::current();
  LMF_CHECK(info != nullptr, value, op, "no communicator: call initDistributed() first");
  return *info;
}

void check_buffer(const Tensor& t, const coll::Info& info, const char* op, const char* what) {
  const bool nccl = info.backend == coll::Backend::nccl;
  const bool ok = t.dtype == DType::f32 || t.dtype == DType::f64 || t.dtype == DType::i32 ||
                  (nccl && (t.dtype == DType::bf16 || t.dtype == DType::f16));
  LMF_CHECK(ok, dtype, op,
            what << " must be float32, float64 or int32" << (nccl ? ", bfloat16 or float16" : "") << ", got " << dtype_name(t.dtype));
  if (info.backend == coll::Backend::mpi)
    LMF_CHECK(t.device() == Device::cpu, device, op,
              what << " is on cuda but backend 'mpi' takes CPU tensors (backend 'nccl' takes CUDA tensors)");
  if (nccl)
    LMF_CHECK(t.device() == Device::cuda, device, op, what << " is on cpu but backend 'nccl' takes CUDA tensors (move it with to('cuda'))");
  LMF_CHECK(t.is_contiguous(), value, op, what << " must be contiguous (call contiguous() first), got strides " << shape_str(t.strides));
}

coll::Reduce reduce_arg(const std::string& r, DType dtype, const char* op) {
  coll::Reduce out;
  if (r == "sum")
    out = coll::Reduce::sum;
  else if (r == "avg")
    out = coll::Reduce::avg;
  else if (r == "max")
    out = coll::Reduce::max;
  else
    LMF_THROW(value, op, "op must be 'sum', 'avg' or 'max', got '" << r << "'");
  LMF_CHECK(out != coll::Reduce::avg || dtype_is_float(dtype), dtype, op, "op 'avg' needs a float tensor, got " << dtype_name(dtype));
  return out;
}

coll::Request request(coll::Kind kind, const char* op, const Tensor& t) {
  coll::Request r;
  r.kind = kind;
  r.op = op;
  r.recv = t.raw();
  r.count = t.numel();
  r.dtype = t.dtype;
  r.device = t.device();
  r.keep = t.storage;
  return r;
}

// reduce-scatter and all-gather: two tensors of one dtype and device, `big` = worldSize × `small` elements.
coll::Request scatter_gather(coll::Kind kind, const char* op, const Tensor& input, const Tensor& output) {
  const coll::Info& info = joined(op);
  check_buffer(input, info, op, "input");
  check_buffer(output, info, op, "output");
  check_same_dtype(input, output, op);
  check_same_device(input, output, op);
  const bool scatter = kind == coll::Kind::reduce_scatter;
  const Tensor& big = scatter ? input : output;
  const Tensor& small = scatter ? output : input;
  LMF_CHECK(big.numel() == small.numel() * info.world, shape, op,
            (scatter ? "input" : "output") << " must have worldSize (" << info.world << ") x " << small.numel() << " = "
                                           << small.numel() * info.world << " elements (the " << (scatter ? "output" : "input") << "'s "
                                           << small.numel() << " per rank), got " << big.numel());
  LMF_CHECK(!may_overlap(input, output), value, op, "input and output share memory");
  coll::Request r = request(kind, op, output);
  r.send = input.raw();
  r.count = small.numel();
  r.keep = std::make_shared<std::pair<std::shared_ptr<Storage>, std::shared_ptr<Storage>>>(input.storage, output.storage);
  return r;
}

}  // namespace

coll::Info comm_init(const std::string& backend, int64_t timeout_ms) {
  coll::Backend b;
  if (backend == "identity")
    b = coll::Backend::identity;
  else if (backend == "mpi")
    b = coll::Backend::mpi;
  else if (backend == "nccl")
    b = coll::Backend::nccl;
  else
    LMF_THROW(value, "initDistributed", "backend must be 'identity', 'mpi' or 'nccl', got '" << backend << "'");
  return coll::init(b, timeout_ms);
}

uint64_t comm_all_reduce(const Tensor& t, const std::string& reduce, bool async) {
  const char* op = async ? "allReduceAsync" : "allReduce";
  check_buffer(t, joined(op), op, "tensor");
  coll::Request r = request(coll::Kind::all_reduce, op, t);
  r.reduce = reduce_arg(reduce, t.dtype, op);
  const uint64_t ticket = coll::submit(std::move(r));
  if (!async) coll::wait(ticket);
  return ticket;
}

void comm_reduce_scatter(const Tensor& input, const Tensor& output, const std::string& reduce) {
  coll::Request r = scatter_gather(coll::Kind::reduce_scatter, "reduceScatter", input, output);
  r.reduce = reduce_arg(reduce, input.dtype, "reduceScatter");
  coll::wait(coll::submit(std::move(r)));
}

void comm_all_gather(const Tensor& input, const Tensor& output) {
  coll::wait(coll::submit(scatter_gather(coll::Kind::all_gather, "allGather", input, output)));
}

void comm_broadcast(const Tensor& t, int64_t root) {
  const coll::Info& info = joined("broadcast");
  check_buffer(t, info, "broadcast", "tensor");
  LMF_CHECK(root >= 0 && root < info.world, value, "broadcast", "root must be in [0, " << info.world << "), got " << root);
  coll::Request r = request(coll::Kind::broadcast, "broadcast", t);
  r.root = static_cast<int>(root);
  coll::wait(coll::submit(std::move(r)));
}

void comm_barrier() {
  joined("barrier");
  coll::Request r;
  r.op = "barrier";
  coll::wait(coll::submit(std::move(r)));
}

bool comm_test(uint64_t ticket) { return coll::test(ticket); }
void comm_wait(uint64_t ticket) { coll::wait(ticket); }
void comm_finalize() { coll::finalize(); }

}  // namespace lmf::ops
