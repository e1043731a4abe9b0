// The collective front: which engine this process joined, the identity engine (one process), and the
// NCCL engine's tickets and watchdog (NCCL queues on the CUDA stream; MPI bootstraps it and runs its
// barrier). The MPI engine keeps its own tickets (collective_mpi.cpp).
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "../core/error.h"
#include "collective.h"
#include "cuda_runtime.h"

namespace lmf::coll {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::identity: return "identity";
    case Backend::mpi: return "mpi";
    case Backend::nccl: return "nccl";
  }
  return "?";
}

const char* reduce_name(Reduce r) {
  switch (r) {
    case Reduce::sum: return "sum";
    case Reduce::avg: return "avg";
    case Reduce::max: return "max";
  }
  return "?";
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::all_reduce: return "all-reduce";
    case Kind::reduce_scatter: return "reduce-scatter";
    case Kind::all_gather: return "all-gather";
    case Kind::broadcast: return "broadcast";
    case Kind::barrier: return "barrier";
  }
  return "?";
}

namespace {

constexpr uint64_t kDone = 0;                       // the ticket of a collective that finished at once
constexpr uint64_t kNcclTicket = uint64_t(1) << 40;  // NCCL tickets (JS numbers hold them exactly); MPI counts from 1

struct NcclJob {
  void* event;
  std::chrono::steady_clock::time_point issued;
  int64_t number;
  Kind kind;
  const char* op;
  std::shared_ptr<void> keep;
};

struct State {
  bool joined = false;
  Info info;
  int64_t timeout_ms = 300000;
  // NCCL only
  std::unordered_map<uint64_t, NcclJob> nccl_jobs;
  uint64_t next_ticket = kNcclTicket;
  int64_t number = 0;
  std::string broken;
};

State& st() {
  static State* s = new State();  // never destroyed: finalize may run while the process exits
  return *s;
}

State& joined(const char* op) {
  State& s = st();
  LMF_CHECK(s.joined, value, op, "no communicator: call initDistributed() first");
  return s;
}

[[maybe_unused]] void share_bytes(void* bytes, int64_t n) {
  Request r;
  r.kind = Kind::broadcast;
  r.op = "initDistributed";
  r.recv = bytes;
  r.count = n;
  r.dtype = DType::u8;
  mpi::wait(mpi::submit(r));
}

// One process: the reduction of one rank is its own input.
void identity_run(const Request& r) {
  if (r.kind != Kind::reduce_scatter && r.kind != Kind::all_gather) return;
  const size_t bytes = static_cast<size_t>(r.count) * dtype_size(r.dtype);
  if (r.device == Device::cpu)
    std::memcpy(r.recv, r.send, bytes);
  else
    cuda_copy(r.recv, r.send, bytes, 2);
}

void nccl_fail(State& s, const std::string& why) {
  s.broken = why;
#ifdef LMF_WITH_CUDA
  nccl::abort();
#endif
}

}  // namespace

const Info* current() {
  State& s = st();
  return s.joined ? &s.info : nullptr;
}

Info init(Backend backend, int64_t timeout_ms) {
  State& s = st();
  LMF_CHECK(timeout_ms > 0, value, "initDistributed", "timeoutMs must be positive, got " << timeout_ms);
  if (s.joined) {
    LMF_CHECK(s.info.backend == backend, value, "initDistributed",
              "this process already joined a job with backend '" << backend_name(s.info.backend) << "', not '" << backend_name(backend)
                                                                  << "' (call finalize() first)");
    s.timeout_ms = timeout_ms;
    if (backend != Backend::identity) mpi::init(timeout_ms);  // updates the engine's timeout
    return s.info;
  }
  Info info;
  switch (backend) {
    case Backend::identity: break;
    case Backend::mpi: info = mpi::init(timeout_ms); break;
    case Backend::nccl:
#ifdef LMF_WITH_CUDA
      LMF_CHECK(cuda_available(), device, "initDistributed", "backend 'nccl' needs a CUDA device: " << cuda_unavailable_reason());
      info = mpi::init(timeout_ms);
      nccl::init(info, share_bytes);
      break;
#else
      LMF_THROW(device, "initDistributed",
                "backend 'nccl' needs the CUDA build of lmforge; this one is built without CUDA support (use backend 'mpi' for CPU "
                "tensors)");
#endif
  }
  info.backend = backend;
  s.info = info;
  s.timeout_ms = timeout_ms;
  s.joined = true;
  s.broken.clear();
  return info;
}

uint64_t submit(Request r) {
  State& s = joined(r.op);
  switch (s.info.backend) {
    case Backend::identity: identity_run(r); return kDone;
    case Backend::mpi: return mpi::submit(std::move(r));
    case Backend::nccl: break;
  }
#ifdef LMF_WITH_CUDA
  if (r.kind == Kind::barrier) {
    cuda_synchronize();  // a barrier orders the host: what was queued before it has run
    return mpi::submit(std::move(r));
  }
  LMF_CHECK(s.broken.empty(), internal, r.op, "rank " << s.info.rank << ": the communicator is unusable: " << s.broken);
  NcclJob job{nccl::issue(r), std::chrono::steady_clock::now(), ++s.number, r.kind, r.op, std::move(r.keep)};
  const uint64_t ticket = s.next_ticket++;
  s.nccl_jobs.emplace(ticket, std::move(job));
  return ticket;
#else
  LMF_THROW(device, r.op, "built without CUDA support");
#endif
}

namespace {
// Polls an NCCL job once; true when it has finished (the ticket is spent). Throws after the timeout.
bool nccl_poll(State& s, uint64_t ticket, const char* op) {
  auto it = s.nccl_jobs.find(ticket);
  LMF_CHECK(it != s.nccl_jobs.end(), value, op, "unknown collective ticket " << ticket << " (already waited for?)");
  NcclJob& j = it->second;
#ifdef LMF_WITH_CUDA
  bool finished = false;
  try {
    finished = nccl::done(j.event);
  } catch (const std::exception& e) {
    nccl_fail(s, e.what());
    s.nccl_jobs.erase(it);
    throw;
  }
  if (finished) {
    s.nccl_jobs.erase(it);
    return true;
  }
#endif
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - j.issued).count();
  if (waited < s.timeout_ms) return false;
  std::ostringstream why;
  why << "rank " << s.info.rank << " waited " << static_cast<double>(s.timeout_ms) / 1000 << " s for " << kind_name(j.kind) << " #"
      << j.number << " on the GPU and gave up (a peer rank did not reach it, or died); the NCCL communicator was aborted";
  const char* failed_op = j.op;
  nccl_fail(s, why.str());
  s.nccl_jobs.erase(it);  // j dangles from here
  LMF_THROW(internal, failed_op, why.str() << ". End the process (mpirun then ends the job)");
}
}  // namespace

bool test(uint64_t ticket) {
  if (ticket == kDone) return true;
  State& s = joined("test");
  if (ticket < kNcclTicket) return mpi::test(ticket);
  return nccl_poll(s, ticket, "test");
}

void wait(uint64_t ticket) {
  if (ticket == kDone) return;
  State& s = joined("wait");
  if (ticket < kNcclTicket) return mpi::wait(ticket);
  while (!nccl_poll(s, ticket, "wait")) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

void finalize() {
  State& s = st();
  if (!s.joined) return;
  s.joined = false;
#ifdef LMF_WITH_CUDA
  if (s.info.backend == Backend::nccl && s.broken.empty()) nccl::finalize();
#endif
  if (s.info.backend != Backend::identity) mpi::finalize();
}

}  // namespace lmf::coll
