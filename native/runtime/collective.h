// Collectives between the processes of a job (data-parallel training): one small interface over three
// engines. 'identity' is one process (world size 1, no library needed); 'mpi' is Open MPI, loaded at run
// time with dlopen (collective_mpi.cpp); 'nccl' is NCCL between GPUs, loaded the same way, its unique id
// broadcast over MPI (collective_nccl.cu, CUDA builds only). The ops layer (ops/distributed.cpp) validates
// tensors; this layer sees buffers.
//
// Every wait is bounded: a collective that does not complete within the timeout throws an error naming it,
// its number and what the peers report, and leaves the communicator unusable (later calls throw at once,
// finalize skips MPI_Finalize, which would hang on the missing peer). The library never exits: the caller
// ends the process, and mpirun then ends the job.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "../core/device.h"
#include "../core/dtype.h"

namespace lmf::coll {

enum class Backend { identity, mpi, nccl };
enum class Reduce { sum, avg, max };
enum class Kind { all_reduce, reduce_scatter, all_gather, broadcast, barrier };

const char* backend_name(Backend b);
const char* reduce_name(Reduce r);
// "all-reduce", "reduce-scatter", ... as messages name a collective.
const char* kind_name(Kind k);

struct Info {
  Backend backend = Backend::identity;
  int rank = 0, world = 1, local_rank = 0, local_size = 1;
};

// One collective's buffers. count is elements per rank: the whole buffer for all-reduce and broadcast
// (in place in recv), the output for reduce-scatter (send holds world * count), the input for all-gather
// (recv holds world * count).
struct Request {
  Kind kind = Kind::barrier;
  const char* op = "";  // the public op, for messages
  Reduce reduce = Reduce::sum;
  int root = 0;
  const void* send = nullptr;
  void* recv = nullptr;
  int64_t count = 0;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  std::shared_ptr<void> keep;  // holds the buffers' storage until the collective has finished with them
};

// Joins the job (once per process; a second call with the same backend returns the same Info). timeout_ms
// bounds every later wait.
Info init(Backend backend, int64_t timeout_ms);
// Starts a collective (collectives start in call order on every rank) and returns its ticket.
uint64_t submit(Request r);
// True once the collective has finished (the ticket is then spent); throws its error.
bool test(uint64_t ticket);
// Waits until the collective has finished, at most the timeout; throws its error.
void wait(uint64_t ticket);
// Waits for started collectives, then leaves the job. Without MPI_Finalize when the communicator broke.
void finalize();
// The job this process joined, or null before init and after finalize.
const Info* current();

// ---- engines, called by collective.cpp only ----

namespace mpi {
Info init(int64_t timeout_ms);
uint64_t submit(Request r);
bool test(uint64_t ticket);
void wait(uint64_t ticket);
void finalize();
}  // namespace mpi

namespace nccl {
// Creates the NCCL communicator on the GPU of this local rank; rank 0's unique id reaches the others
// through `share` (an MPI broadcast of its bytes).
void init(const Info& world, void (*share)(void* bytes, int64_t n));
// Queues a collective on the current stream and returns an event recorded after it.
void* issue(const Request& r);
// True when the event has passed; throws NCCL's asynchronous error.
bool done(void* event);
// After a timeout: aborts the communicator so that its kernels stop (NCCL's ncclCommAbort).
void abort();
void finalize();
}  // namespace nccl

}  // namespace lmf::coll
