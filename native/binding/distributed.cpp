// Bindings of the collectives (ops/distributed.cpp). Blocking calls wait on the JS thread, bounded by the
// communicator's timeout; commAllReduce with async = true returns a ticket for commTest / commWait.
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

namespace {
// An async all-reduce's ticket (argument 0).
uint64_t ticket_arg(const Napi::CallbackInfo& info, const char* op) {
  const int64_t ticket = int_arg(info, 0, op, "ticket");
  LMF_CHECK(ticket >= 0, value, op, "ticket must be >= 0, got " << ticket);
  return static_cast<uint64_t>(ticket);
}
}  // namespace

// commInit(backend, timeoutMs) -> { backend, rank, worldSize, localRank, localSize }
LMF_BIND(commInit) {
  const coll::Info i = ops::comm_init(string_arg(info, 0, "initDistributed", "backend"), int_arg(info, 1, "initDistributed", "timeoutMs"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("backend", coll::backend_name(i.backend));
  o.Set("rank", i.rank);
  o.Set("worldSize", i.world);
  o.Set("localRank", i.local_rank);
  o.Set("localSize", i.local_size);
  return o;
} LMF_END

// commAllReduce(t, reduce, async) -> ticket (0 when already finished)
LMF_BIND(commAllReduce) {
  const bool async = bool_arg(info, 2, "allReduce", "async");
  const char* op = async ? "allReduceAsync" : "allReduce";
  return Napi::Number::New(info.Env(), static_cast<double>(ops::comm_all_reduce(tensor_arg(info, 0, op, "tensor"), string_arg(info, 1, op, "op"), async)));
} LMF_END

LMF_BIND(commReduceScatter) {
  ops::comm_reduce_scatter(tensor_arg(info, 0, "reduceScatter", "input"), tensor_arg(info, 1, "reduceScatter", "output"),
                           string_arg(info, 2, "reduceScatter", "op"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(commAllGather) {
  ops::comm_all_gather(tensor_arg(info, 0, "allGather", "input"), tensor_arg(info, 1, "allGather", "output"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(commBroadcast) {
  ops::comm_broadcast(tensor_arg(info, 0, "broadcast", "tensor"), int_arg(info, 1, "broadcast", "root"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(commBarrier) {
  ops::comm_barrier();
  return info.Env().Undefined();
} LMF_END

LMF_BIND(commTest) {
  return Napi::Boolean::New(info.Env(), ops::comm_test(ticket_arg(info, "test")));
} LMF_END

LMF_BIND(commWait) {
  ops::comm_wait(ticket_arg(info, "wait"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(commFinalize) {
  ops::comm_finalize();
  return info.Env().Undefined();
} LMF_END

}  // namespace lmf::binding
