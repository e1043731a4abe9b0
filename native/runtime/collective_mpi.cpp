// The MPI engine: Open MPI loaded at run time with dlopen, so that lmforge builds and runs where MPI is not
// installed. The declarations below are the subset of Open MPI 4's mpi.h this file calls; its handles are
// the addresses of global objects (ompi_mpi_comm_world, ompi_mpi_float, ...), found with dlsym. MPICH
// (integer handles) is recognised and refused with a message.
//
// One communication thread makes every MPI call (it calls MPI_Init_thread, so MPI's "main thread" rule
// holds). Collectives queue to it in call order, which is the order every rank issues them in; it issues
// each non-blocking (MPI_Iallreduce, ...) and polls MPI_Test, so a collective progresses while the caller
// computes (Open MPI progresses non-blocking collectives only inside MPI calls), and gives up after the
// timeout. Between polls it answers its peers' status queries on a second communicator: a rank that timed
// out asks every peer how many collectives it has started, so the error can say which rank did not come.
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "../core/error.h"
#include "collective.h"

namespace lmf::coll::mpi {
namespace {

// ---- Open MPI 4's ABI (mpi.h): handles are pointers to predefined global objects ----
using Comm = void*;
using Datatype = void*;
using Op = void*;
using MpiRequest = void*;
using Errhandler = void*;
struct Status {  // struct ompi_status_public_t
  int source, tag, error, cancelled;
  size_t ucount;
};
void* const kInPlace = reinterpret_cast<void*>(1);  // MPI_IN_PLACE
constexpr int kThreadFunneled = 1, kThreadSerialized = 2;
constexpr int kAnySource = -1;
constexpr int kTagQuery = 1, kTagReply = 2;  // on the control communicator

struct Lib {
  int (*Init_thread)(int*, char***, int, int*);
  int (*Finalize)();
  int (*Comm_rank)(Comm, int*);
  int (*Comm_size)(Comm, int*);
  int (*Comm_dup)(Comm, Comm*);
  int (*Comm_set_errhandler)(Comm, Errhandler);
  int (*Iallreduce)(const void*, void*, int, Datatype, Op, Comm, MpiRequest*);
  int (*Ireduce_scatter_block)(const void*, void*, int, Datatype, Op, Comm, MpiRequest*);
  int (*Iallgather)(const void*, int, Datatype, void*, int, Datatype, Comm, MpiRequest*);
  int (*Ibcast)(void*, int, Datatype, int, Comm, MpiRequest*);
  int (*Ibarrier)(Comm, MpiRequest*);
  int (*Isend)(const void*, int, Datatype, int, int, Comm, MpiRequest*);
  int (*Irecv)(void*, int, Datatype, int, int, Comm, MpiRequest*);
  int (*Test)(MpiRequest*, int*, Status*);
  int (*Cancel)(MpiRequest*);
  int (*Error_string)(int, char*, int*);
  Comm world;
  Datatype f32, f64, i32, i64, byte;
  Op sum, max;
  Errhandler errors_return;
};

std::string library_version(void* h) {
  using F = int (*)(char*, int*);
  auto f = reinterpret_cast<F>(dlsym(h, "MPI_Get_library_version"));
  if (!f) return "an MPI library";
  std::vector<char> buf(8192);  // MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI, 8192 in MPICH
  int len = 0;
  if (f(buf.data(), &len) != 0) return "an MPI library";
  std::string s(buf.data(), static_cast<size_t>(std::max(0, len)));
  return s.substr(0, s.find('\n'));
}

const Lib& load() {
  static Lib lib;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* override_path = std::getenv("LMF_LIBMPI");
    const char* names[] = {override_path, "libmpi.so.40", "libmpi.so", "libmpi.so.12"};
    void* h = nullptr;
    std::string tried;
    for (const char* n : names) {
      if (!n || !*n) continue;
      // RTLD_GLOBAL: Open MPI's plugins (dlopened by libmpi itself) resolve libmpi's symbols through it.
      h = dlopen(n, RTLD_NOW | RTLD_GLOBAL);
      if (h) break;
      const char* e = dlerror();
      tried += std::string(tried.empty() ? "" : "; ") + (e ? e : n);
    }
    if (!h) {
      error = "cannot load Open MPI's libmpi.so.40 (" + tried +
              "); install it with Debian's packages openmpi-bin and libopenmpi-dev (apt-get install openmpi-bin "
              "libopenmpi-dev), or set LMF_LIBMPI to its path";
      return;
    }
    if (!dlsym(h, "ompi_mpi_comm_world")) {
      error = "the MPI library found is " + library_version(h) +
              ", not Open MPI: lmforge's MPI backend supports Open MPI (Debian: openmpi-bin, libopenmpi-dev); set LMF_LIBMPI "
              "to Open MPI's libmpi.so.40 if both are installed";
      return;
    }
    std::string missing;
    auto sym = [&](const char* name) {
      void* p = dlsym(h, name);
      if (!p) missing += std::string(missing.empty() ? "" : ", ") + name;
      return p;
    };
    auto fn = [&](auto& f, const char* name) { f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(sym(name)); };
    fn(lib.Init_thread, "MPI_Init_thread");
    fn(lib.Finalize, "MPI_Finalize");
    fn(lib.Comm_rank, "MPI_Comm_rank");
    fn(lib.Comm_size, "MPI_Comm_size");
    fn(lib.Comm_dup, "MPI_Comm_dup");
    fn(lib.Comm_set_errhandler, "MPI_Comm_set_errhandler");
    fn(lib.Iallreduce, "MPI_Iallreduce");
    fn(lib.Ireduce_scatter_block, "MPI_Ireduce_scatter_block");
    fn(lib.Iallgather, "MPI_Iallgather");
    fn(lib.Ibcast, "MPI_Ibcast");
    fn(lib.Ibarrier, "MPI_Ibarrier");
    fn(lib.Isend, "MPI_Isend");
    fn(lib.Irecv, "MPI_Irecv");
    fn(lib.Test, "MPI_Test");
    fn(lib.Cancel, "MPI_Cancel");
    fn(lib.Error_string, "MPI_Error_string");
    lib.world = sym("ompi_mpi_comm_world");
    lib.f32 = sym("ompi_mpi_float");
    lib.f64 = sym("ompi_mpi_double");
    lib.i32 = sym("ompi_mpi_int");
    lib.i64 = sym("ompi_mpi_int64_t");
    lib.byte = sym("ompi_mpi_byte");
    lib.sum = sym("ompi_mpi_op_sum");
    lib.max = sym("ompi_mpi_op_max");
    lib.errors_return = sym("ompi_mpi_errors_return");
    if (!missing.empty()) error = library_version(h) + " lacks " + missing + " (lmforge needs Open MPI 3 or later)";
  });
  LMF_CHECK(error.empty(), internal, "initDistributed", error);
  return lib;
}

std::string mpi_error(const Lib& L, int rc) {
  char buf[512] = {0};
  int len = 0;
  if (L.Error_string(rc, buf, &len) != 0) return "MPI error " + std::to_string(rc);
  return std::string(buf, static_cast<size_t>(std::max(0, std::min(len, 511))));
}

using Clock = std::chrono::steady_clock;

std::string seconds(int64_t ms) {
  std::ostringstream s;
  s << static_cast<double>(ms) / 1000 << " s";
  return s.str();
}

struct Job {
  Request req;
  int64_t number = 0;  // the collective's number on this rank, from 1
  bool finalize = false;
  bool finished = false;
  std::exception_ptr error;
};

// What a peer answered to a status query: its counts, and the collective it is inside (kind -1: none).
struct PeerState {
  int64_t started = 0, completed = 0, inside = 0, kind = -1, count = 0;
};
constexpr int kStateWords = 5;

// The job; created by init, never destroyed: the communication thread may still run while the process exits.
struct World {
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::deque<std::shared_ptr<Job>> queue;
  std::unordered_map<uint64_t, std::shared_ptr<Job>> tickets;
  uint64_t next_ticket = 1;
  int64_t submitted = 0;
  std::string broken;  // why the communicator is unusable ("" while it is usable)
  bool ready = false, finalized = false, stop = false;
  std::exception_ptr init_error;
  Info info;
  std::atomic<int64_t> timeout_ms{300000};  // set again by a later initDistributed
  std::atomic<int64_t> beat{0};  // when the communication thread last ran (steady clock, ms)
  std::vector<std::shared_ptr<Job>> abandoned;  // timed-out jobs: MPI may still write their buffers

  // ---- the communication thread's own state ----
  Comm data = nullptr, ctrl = nullptr;
  MpiRequest query_req = nullptr;
  int64_t query_in = 0;
  struct Reply {
    MpiRequest req;
    PeerState payload;
  };
  std::deque<Reply> replies;
  int64_t started = 0, completed = 0;
  bool inside = false;
  Kind kind = Kind::barrier;  // of the collective started last
  int64_t count = 0;
};

World* g = nullptr;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

void check_rc(const Lib& L, int rc, const char* op, const std::string& what) {
  if (rc == 0) return;
  const std::string e = mpi_error(L, rc);
  // Open MPI's answer to ranks whose collectives differ in size or kind (the other rank may even finish).
  const char* hint = e.find("TRUNCATE") != std::string::npos ? " (the ranks passed different sizes or issued different collectives)" : "";
  LMF_THROW(internal, op, "rank " << g->info.rank << ": MPI failed in " << what << ": " << e << hint);
}

// Answers status queries from peers (a rank that timed out asks how far this one got) and retires sent
// replies. Called by the communication thread between polls and while idle.
void serve_queries(const Lib& L) {
  for (int k = 0; k < 16; ++k) {
    int flag = 0;
    Status st{};
    if (L.Test(&g->query_req, &flag, &st) != 0 || !flag) break;
    g->replies.push_back({nullptr, {g->started, g->completed, g->inside ? 1 : 0, g->inside ? static_cast<int64_t>(g->kind) : -1, g->count}});
    World::Reply& r = g->replies.back();
    L.Isend(&r.payload, kStateWords, L.i64, st.source, kTagReply, g->ctrl, &r.req);
    L.Irecv(&g->query_in, 1, L.i64, kAnySource, kTagQuery, g->ctrl, &g->query_req);
  }
  while (!g->replies.empty()) {
    int flag = 0;
    if (L.Test(&g->replies.front().req, &flag, nullptr) != 0 || !flag) break;
    g->replies.pop_front();
  }
}

// Asks every peer how far it got (waiting 1 to 5 s for answers) and says who did not come.
std::string peer_report(const Lib& L, const Job& j) {
  const int world = g->info.world, me = g->info.rank;
  // Never freed: a peer may answer after we gave up waiting, and MPI then writes into these buffers. This
  // runs once per process (the communicator is unusable afterwards).
  struct Exchange {
    std::vector<PeerState> state;
    std::vector<MpiRequest> recv, send;
    int64_t question;
  };
  auto* x = new Exchange{std::vector<PeerState>(static_cast<size_t>(world)), std::vector<MpiRequest>(static_cast<size_t>(world)),
                         std::vector<MpiRequest>(static_cast<size_t>(world)), j.number};
  std::vector<PeerState>& state = x->state;
  std::vector<MpiRequest>& recv = x->recv;
  std::vector<MpiRequest>& send = x->send;
  int64_t& question = x->question;
  std::vector<char> answered(static_cast<size_t>(world), 0);
  for (int p = 0; p < world; ++p) {
    if (p == me) continue;
    L.Irecv(&state[static_cast<size_t>(p)], kStateWords, L.i64, p, kTagReply, g->ctrl, &recv[static_cast<size_t>(p)]);
    L.Isend(&question, 1, L.i64, p, kTagQuery, g->ctrl, &send[static_cast<size_t>(p)]);
  }
  // Live peers answer within milliseconds; the wait allows for a loaded machine without doubling the timeout.
  const auto until = Clock::now() + std::chrono::milliseconds(std::min<int64_t>(5000, std::max<int64_t>(1000, g->timeout_ms)));
  int pending = world - 1;
  while (pending > 0 && Clock::now() < until) {
    for (int p = 0; p < world; ++p) {
      int flag = 0;
      if (p == me || answered[static_cast<size_t>(p)]) continue;
      if (L.Test(&recv[static_cast<size_t>(p)], &flag, nullptr) == 0 && flag) answered[static_cast<size_t>(p)] = 1, --pending;
    }
    serve_queries(L);  // a peer that timed out too is asking us at the same moment
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::ostringstream s;
  std::string sep;
  for (int p = 0; p < world; ++p) {
    if (p == me) continue;
    const PeerState& ps = state[static_cast<size_t>(p)];
    if (!answered[static_cast<size_t>(p)])
      s << sep << "rank " << p << " did not answer (dead, or its communication thread is stuck)";
    else if (ps.started < j.number)
      s << sep << "rank " << p << " did not reach it (it has started " << ps.started << " collective" << (ps.started == 1 ? "" : "s") << ")";
    else if (ps.inside && ps.started == j.number && ps.kind >= 0 &&
             (ps.kind != static_cast<int64_t>(j.req.kind) || (j.req.kind != Kind::barrier && ps.count != j.req.count)))
      // The same number but another collective: the ranks' programs issue different sequences.
      s << sep << "rank " << p << " is inside " << kind_name(static_cast<Kind>(ps.kind)) << " #" << ps.started << " ("
        << ps.count << " elements) instead: the ranks issue different collectives";
    else
      s << sep << "rank " << p << " reached it (" << (ps.inside ? "still inside its collective #" : "has finished collectives up to #")
        << (ps.inside ? ps.started : ps.completed) << ")";
    sep = "; ";
  }
  // Unanswered requests stay posted (cancelling a send to a dead peer can block); the job is over anyway.
  return s.str();
}

void run_job(const Lib& L, Job& j) {
  const Request& r = j.req;
  const int n = static_cast<int>(r.count);
  Datatype dt = r.dtype == DType::f32 ? L.f32 : r.dtype == DType::f64 ? L.f64 : r.dtype == DType::i32 ? L.i32 : L.byte;
  Op op = r.reduce == Reduce::max ? L.max : L.sum;
  MpiRequest req = nullptr;
  int rc = 0;
  switch (r.kind) {
    case Kind::all_reduce: rc = L.Iallreduce(kInPlace, r.recv, n, dt, op, g->data, &req); break;
    case Kind::reduce_scatter: rc = L.Ireduce_scatter_block(r.send, r.recv, n, dt, op, g->data, &req); break;
    case Kind::all_gather: rc = L.Iallgather(r.send, n, dt, r.recv, n, dt, g->data, &req); break;
    case Kind::broadcast: rc = L.Ibcast(r.recv, n, dt, r.root, g->data, &req); break;
    case Kind::barrier: rc = L.Ibarrier(g->data, &req); break;
  }
  std::ostringstream what;
  what << kind_name(r.kind) << " #" << j.number;
  if (r.kind != Kind::barrier) what << " (" << r.count << " " << dtype_name(r.dtype) << ")";
  check_rc(L, rc, r.op, what.str());
  ++g->started;
  g->inside = true;
  g->kind = r.kind;
  g->count = r.count;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(g->timeout_ms);
  for (int64_t polls = 0;; ++polls) {
    int flag = 0;
    check_rc(L, L.Test(&req, &flag, nullptr), r.op, what.str());
    if (flag) break;
    g->beat.store(now_ms());
    serve_queries(L);
    if (Clock::now() >= deadline)
      LMF_THROW(internal, r.op, "rank " << g->info.rank << " waited " << seconds(g->timeout_ms) << " for " << what.str()
                                         << " and gave up: " << peer_report(L, j)
                                         << ". The communicator is unusable now: end the process (mpirun then ends the job)");
    // Spin briefly (a collective between ranks of one machine often completes within microseconds), then
    // poll at most every 200 us so that the thread leaves the cores to the computation.
    if (polls < 64)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(200, 10 * (polls - 63))));
  }
  g->inside = false;
  ++g->completed;
  if (r.reduce == Reduce::avg && (r.kind == Kind::all_reduce || r.kind == Kind::reduce_scatter)) {
    const double inv = 1.0 / g->info.world;
    if (r.dtype == DType::f32)
      for (int64_t i = 0; i < r.count; ++i) static_cast<float*>(r.recv)[i] = static_cast<float>(static_cast<float*>(r.recv)[i] * inv);
    else if (r.dtype == DType::f64)
      for (int64_t i = 0; i < r.count; ++i) static_cast<double*>(r.recv)[i] *= inv;
  }
}

void start_mpi(const Lib& L) {
  int provided = 0;
  int rc = L.Init_thread(nullptr, nullptr, kThreadSerialized, &provided);
  LMF_CHECK(rc == 0, internal, "initDistributed", "MPI_Init_thread failed: error " << rc);
  LMF_CHECK(provided >= kThreadFunneled, internal, "initDistributed",
            "Open MPI provides thread level " << provided << ", lmforge needs MPI_THREAD_FUNNELED or higher");
  // Errors return codes (turned into exceptions) instead of aborting the process, MPI's default.
  L.Comm_set_errhandler(L.world, L.errors_return);
  check_rc(L, L.Comm_rank(L.world, &g->info.rank), "initDistributed", "MPI_Comm_rank");
  check_rc(L, L.Comm_size(L.world, &g->info.world), "initDistributed", "MPI_Comm_size");
  // Own communicators, so that collectives and status queries never match an application's messages.
  check_rc(L, L.Comm_dup(L.world, &g->data), "initDistributed", "MPI_Comm_dup");
  check_rc(L, L.Comm_dup(L.world, &g->ctrl), "initDistributed", "MPI_Comm_dup");
  check_rc(L, L.Irecv(&g->query_in, 1, L.i64, kAnySource, kTagQuery, g->ctrl, &g->query_req), "initDistributed", "MPI_Irecv");
}

void finish_mpi(const Lib& L) {
  L.Cancel(&g->query_req);
  int flag = 0;
  for (int k = 0; k < 1000 && !flag; ++k) L.Test(&g->query_req, &flag, nullptr);
  for (int k = 0; k < 10000 && !g->replies.empty(); ++k) serve_queries(L);
  const int rc = L.Finalize();
  LMF_CHECK(rc == 0, internal, "finalize", "MPI_Finalize failed: " << mpi_error(L, rc));
}

void thread_main(const Lib* L) {
  g->beat.store(now_ms());
  try {
    start_mpi(*L);
  } catch (...) {
    std::lock_guard<std::mutex> lock(g->mu);
    g->init_error = std::current_exception();
    g->ready = true;
    g->done_cv.notify_all();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(g->mu);
    g->ready = true;
  }
  g->done_cv.notify_all();
  for (;;) {
    std::shared_ptr<Job> job;
    bool broken = false;
    {
      std::unique_lock<std::mutex> lock(g->mu);
      if (g->queue.empty()) {
        if (g->stop) return;
        // Idle: wake every 2 ms to answer status queries (the caller's thread may be busy or asleep).
        g->work_cv.wait_for(lock, std::chrono::milliseconds(2));
      }
      if (!g->queue.empty()) {
        job = g->queue.front();
        g->queue.pop_front();
        broken = !g->broken.empty();
      }
    }
    g->beat.store(now_ms());
    if (!job) {
      serve_queries(*L);
      continue;
    }
    std::exception_ptr error;
    bool breaks = false;
    try {
      if (broken) LMF_THROW(internal, job->req.op, "the communicator is unusable: " << g->broken);
      if (job->finalize)
        finish_mpi(*L);
      else
        run_job(*L, *job);
    } catch (...) {
      error = std::current_exception();
      breaks = !broken;
    }
    std::lock_guard<std::mutex> lock(g->mu);
    if (breaks) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        g->broken = e.what();
      }
      if (g->inside) g->abandoned.push_back(job);
    }
    job->error = error;
    job->finished = true;
    const bool last = job->finalize;
    if (last) g->stop = true;
    // Dropped under the lock, while the ticket still holds the job: its buffers are then released on the
    // caller's thread, which reports allocations to V8.
    job.reset();
    g->done_cv.notify_all();
    if (last) return;
  }
}

// Waits on the caller's thread until `done` holds, bounded: the communication thread enforces the timeout
// of each collective; this guards against that thread itself being stuck inside an MPI call.
// limit_ms: how long the thread may stay silent (inside one MPI call); the collective timeout plus a margin
// by default.
template <typename Pred>
void wait_bounded(std::unique_lock<std::mutex>& lock, const char* op, const char* what, Pred done, int64_t limit_ms = -1) {
  if (limit_ms < 0) limit_ms = g->timeout_ms + 5000;
  while (!g->done_cv.wait_for(lock, std::chrono::milliseconds(50), done)) {
    const int64_t silent = now_ms() - g->beat.load();
    if (silent > limit_ms) {
      if (g->broken.empty())
        g->broken = std::string("the communication thread has been stuck inside MPI for ") + seconds(silent);
      LMF_THROW(internal, op, "rank " << g->info.rank << ": " << what << ": " << g->broken
                                      << ". The communicator is unusable now: end the process (mpirun then ends the job)");
    }
  }
}

}  // namespace

Info init(int64_t timeout_ms) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!size) size = std::getenv("PMI_SIZE");
  LMF_CHECK(size != nullptr, value, "initDistributed",
            "backend 'mpi' needs a process started by mpirun (for example mpirun -np 2 node train.js): OMPI_COMM_WORLD_SIZE is not "
            "set; use backend 'identity' (or 'auto') for one process");
  const Lib& L = load();
  if (!g) {
    g = new World();
    g->timeout_ms = timeout_ms;
    std::thread(thread_main, &L).detach();
  }
  std::unique_lock<std::mutex> lock(g->mu);
  LMF_CHECK(!g->finalized, value, "initDistributed", "MPI was finalized in this process and cannot be initialised again");
  // Starting MPI on many nodes can take longer than a collective's timeout.
  wait_bounded(lock, "initDistributed", "MPI_Init_thread", [] { return g->ready; }, std::max<int64_t>(timeout_ms, 120000));
  if (g->init_error) std::rethrow_exception(g->init_error);
  g->timeout_ms = timeout_ms;
  Info info = g->info;
  info.backend = Backend::mpi;
  const char* lr = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  const char* ls = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  info.local_rank = lr ? std::atoi(lr) : info.rank;
  info.local_size = ls ? std::atoi(ls) : info.world;
  return info;
}

uint64_t submit(Request r) {
  LMF_CHECK(g && g->ready && !g->init_error, value, r.op, "the MPI backend is not initialised (call initDistributed first)");
  LMF_CHECK(r.count <= INT_MAX, value, r.op, "MPI counts are 32-bit: " << r.count << " elements per rank is more than " << INT_MAX);
  std::lock_guard<std::mutex> lock(g->mu);
  LMF_CHECK(!g->finalized, value, r.op, "the communicator was finalized");
  LMF_CHECK(g->broken.empty(), internal, r.op, "rank " << g->info.rank << ": the communicator is unusable: " << g->broken);
  auto job = std::make_shared<Job>();
  job->req = std::move(r);
  job->number = ++g->submitted;
  const uint64_t ticket = g->next_ticket++;
  g->tickets.emplace(ticket, job);
  g->queue.push_back(job);
  g->work_cv.notify_one();
  return ticket;
}

namespace {
// The job of a ticket; a spent or unknown ticket is an error.
std::shared_ptr<Job> job_of(uint64_t ticket, const char* op) {
  LMF_CHECK(g != nullptr, value, op, "the MPI backend is not initialised");
  auto it = g->tickets.find(ticket);
  LMF_CHECK(it != g->tickets.end(), value, op, "unknown collective ticket " << ticket << " (already waited for?)");
  return it->second;
}

bool settle(uint64_t ticket, const std::shared_ptr<Job>& job) {
  if (!job->finished) return false;
  g->tickets.erase(ticket);
  if (job->error) std::rethrow_exception(job->error);
  return true;
}
}  // namespace

bool test(uint64_t ticket) {
  LMF_CHECK(g != nullptr, value, "test", "the MPI backend is not initialised");
  std::lock_guard<std::mutex> lock(g->mu);
  return settle(ticket, job_of(ticket, "test"));
}

void wait(uint64_t ticket) {
  LMF_CHECK(g != nullptr, value, "wait", "the MPI backend is not initialised");
  std::unique_lock<std::mutex> lock(g->mu);
  std::shared_ptr<Job> job = job_of(ticket, "wait");
  wait_bounded(lock, job->req.op, kind_name(job->req.kind), [&] { return job->finished; });
  settle(ticket, job);
}

void finalize() {
  if (!g || !g->ready || g->init_error) return;
  std::unique_lock<std::mutex> lock(g->mu);
  if (g->finalized) return;
  g->finalized = true;
  if (!g->broken.empty()) {
    // MPI_Finalize would wait for the peer that never came: leave it to the process's end.
    g->stop = true;
    g->work_cv.notify_one();
    return;
  }
  auto job = std::make_shared<Job>();
  job->req.op = "finalize";
  job->finalize = true;
  g->queue.push_back(job);
  g->work_cv.notify_one();
  wait_bounded(lock, "finalize", "MPI_Finalize", [&] { return job->finished; });
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace lmf::coll::mpi
