// The NCCL engine (CUDA builds): libnccl.so.2 loaded at run time with dlopen, as cuBLASLt is, so neither
// the build nor a user without NCCL needs it. The declarations below are the subset of nccl.h this file
// calls, with the enum values of the public header (stable since NCCL 2.10, the first with ncclAvg).
// Rank 0's unique id reaches the others over MPI (collective.cpp passes the broadcast). Collectives queue on
// the runtime's stream of the current device, so they order with the kernels around them; an event after
// each one lets the front poll it against the timeout. Not yet run on a GPU (docs/GPU_CHECK.md).
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <string>

#include "../core/error.h"
#include "collective.h"
#include "cuda_runtime.h"

namespace lmf::coll::nccl {
namespace {

using Result = int;  // ncclResult_t: 0 success
using Comm = void*;  // ncclComm_t
struct UniqueId {
  char internal[128];
};
enum DataType { kInt32 = 2, kFloat16 = 6, kFloat32 = 7, kFloat64 = 8, kBfloat16 = 9 };
enum RedOp { kSum = 0, kMax = 2, kAvg = 4 };

struct Lib {
  Result (*GetVersion)(int*);
  Result (*GetUniqueId)(UniqueId*);
  Result (*CommInitRank)(Comm*, int, UniqueId, int);
  Result (*AllReduce)(const void*, void*, size_t, int, int, Comm, cudaStream_t);
  Result (*ReduceScatter)(const void*, void*, size_t, int, int, Comm, cudaStream_t);
  Result (*AllGather)(const void*, void*, size_t, int, Comm, cudaStream_t);
  Result (*Broadcast)(const void*, void*, size_t, int, int, Comm, cudaStream_t);
  Result (*CommGetAsyncError)(Comm, Result*);
  Result (*CommAbort)(Comm);
  Result (*CommDestroy)(Comm);
  const char* (*GetErrorString)(Result);
};

const Lib& load() {
  static Lib lib;
  static std::string error;
  static bool loaded = false;
  if (!loaded) {
    loaded = true;
    void* h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      error = std::string("cannot load libnccl.so.2 (") + (e ? e : "dlopen failed") +
              "): install NCCL (NVIDIA's libnccl2 package, or pip's nvidia-nccl-cu12 with its folder on LD_LIBRARY_PATH)";
    } else {
      std::string missing;
      auto fn = [&](auto& f, const char* name) {
        f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(dlsym(h, name));
        if (!f) missing += std::string(missing.empty() ? "" : ", ") + name;
      };
      fn(lib.GetVersion, "ncclGetVersion");
      fn(lib.GetUniqueId, "ncclGetUniqueId");
      fn(lib.CommInitRank, "ncclCommInitRank");
      fn(lib.AllReduce, "ncclAllReduce");
      fn(lib.ReduceScatter, "ncclReduceScatter");
      fn(lib.AllGather, "ncclAllGather");
      fn(lib.Broadcast, "ncclBroadcast");
      fn(lib.CommGetAsyncError, "ncclCommGetAsyncError");
      fn(lib.CommAbort, "ncclCommAbort");
      fn(lib.CommDestroy, "ncclCommDestroy");
      fn(lib.GetErrorString, "ncclGetErrorString");
      int version = 0;
      if (!missing.empty())
        error = "libnccl.so.2 lacks " + missing;
      else if (lib.GetVersion(&version) != 0 || version < 21000)
        error = "NCCL " + std::to_string(version) + " is older than 2.10 (lmforge needs ncclAvg)";
    }
  }
  LMF_CHECK(error.empty(), internal, "initDistributed", error);
  return lib;
}

Comm g_comm = nullptr;

void check(Result rc, const char* op, const char* what) {
  LMF_CHECK(rc == 0, internal, op, what << " failed: " << load().GetErrorString(rc));
}

int nccl_dtype(DType t) {
  switch (t) {
    case DType::f32: return kFloat32;
    case DType::f64: return kFloat64;
    case DType::i32: return kInt32;
    case DType::bf16: return kBfloat16;
    case DType::f16: return kFloat16;
    default: break;
  }
  LMF_THROW(dtype, "nccl", "no NCCL type for " << dtype_name(t));
}

}  // namespace

void init(const Info& world, void (*share)(void* bytes, int64_t n)) {
  const Lib& L = load();
  const int count = cuda_device_count();
  LMF_CHECK(world.local_size <= count, device, "initDistributed",
            "backend 'nccl' needs one GPU per rank of a machine: " << world.local_size << " local ranks, " << count
                                                                    << " GPU(s) (NCCL refuses two ranks on one GPU)");
  // Every CUDA tensor of this process lives on this rank's GPU: create them after initDistributed.
  LMF_CHECK(cudaSetDevice(world.local_rank) == cudaSuccess, device, "initDistributed", "cannot select GPU " << world.local_rank);
  UniqueId id{};
  if (world.rank == 0) check(L.GetUniqueId(&id), "initDistributed", "ncclGetUniqueId");
  share(&id, sizeof id);
  check(L.CommInitRank(&g_comm, world.world, id, world.rank), "initDistributed", "ncclCommInitRank");
}

void* issue(const Request& r) {
  const Lib& L = load();
  LMF_CHECK(g_comm != nullptr, value, r.op, "the NCCL communicator is not initialised");
  cudaStream_t stream = cuda_current_stream();
  const int dt = nccl_dtype(r.dtype);
  const int op = r.reduce == Reduce::max ? kMax : r.reduce == Reduce::avg ? kAvg : kSum;
  const size_t n = static_cast<size_t>(r.count);
  switch (r.kind) {
    case Kind::all_reduce: check(L.AllReduce(r.recv, r.recv, n, dt, op, g_comm, stream), r.op, "ncclAllReduce"); break;
    case Kind::reduce_scatter: check(L.ReduceScatter(r.send, r.recv, n, dt, op, g_comm, stream), r.op, "ncclReduceScatter"); break;
    case Kind::all_gather: check(L.AllGather(r.send, r.recv, n, dt, g_comm, stream), r.op, "ncclAllGather"); break;
    case Kind::broadcast: check(L.Broadcast(r.recv, r.recv, n, dt, r.root, g_comm, stream), r.op, "ncclBroadcast"); break;
    case Kind::barrier: LMF_THROW(internal, r.op, "barriers run over MPI");
  }
  cudaEvent_t ev = nullptr;
  LMF_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) == cudaSuccess && cudaEventRecord(ev, stream) == cudaSuccess, internal,
            r.op, "cannot record a CUDA event after " << kind_name(r.kind));
  return ev;
}

bool done(void* event) {
  const cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (e == cudaSuccess) {
    cudaEventDestroy(static_cast<cudaEvent_t>(event));
    return true;
  }
  LMF_CHECK(e == cudaErrorNotReady, internal, "wait", "CUDA error while waiting for a collective: " << cudaGetErrorString(e));
  Result async = 0;
  if (g_comm) load().CommGetAsyncError(g_comm, &async);
  LMF_CHECK(async == 0, internal, "wait", "NCCL failed: " << load().GetErrorString(async));
  return false;
}

void abort() {
  if (g_comm) load().CommAbort(g_comm);
  g_comm = nullptr;
}

void finalize() {
  if (!g_comm) return;
  cuda_synchronize();
  check(load().CommDestroy(g_comm), "finalize", "ncclCommDestroy");
  g_comm = nullptr;
}

}  // namespace lmf::coll::nccl
