// The CUDA runtime: device discovery that never aborts, one stream per device, a caching allocator,
// host/device copies and events. Every CUDA failure becomes an lmf::Error (a JS exception).
//
// Discovery: cudart is linked statically, so the binary loads on machines without a driver; the first
// query asks the driver (libcuda.so.1, loaded by cudart at run time) and any failure - no driver, a
// driver older than this runtime, no GPU - leaves cuda_available() false with the reason as text. The
// driver's CUDA version is compared with the runtime's (CUDART_VERSION) before any device is touched, so
// a driver too old for this build says so in those words rather than as an initialisation error.
//
// Allocator: cudaMalloc/cudaFree synchronize the device and cost tens of microseconds, far more than a
// small kernel, so released blocks are kept per device in size classes (the CPU allocator's classes:
// 512-byte steps below 1 MiB, eight classes per power of two above) and handed out again. Reuse needs no
// event because every kernel of a device runs on its one stream: a block freed after a kernel was queued
// is only written by kernels queued later. When cudaMalloc fails the cache is emptied and it is retried
// once; then the failure is an OutOfMemoryError. LMF_CUDA_NO_CACHE=1 turns the cache off: every block is
// a cudaMalloc of exactly the bytes asked for, freed when released, so that compute-sanitizer's memcheck
// (the GPU check runs it) sees where each buffer really ends.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/error.h"
#include "../kernels/cuda_common.cuh"
#include "cuda_runtime.h"

namespace lmf {
namespace cu {

[[noreturn]] void throw_cuda_error(int err, const char* op, const char* file, int line) {
  const cudaError_t e = static_cast<cudaError_t>(err);
  std::string msg = std::string("CUDA error ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
  if (e == cudaErrorMemoryAllocation) throw Error(ErrorKind::memory, op, "out of device memory (" + msg + ")", file, line);
  // A fault inside a kernel leaves the context unusable: say so rather than let later ops fail oddly.
  if (e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure || e == cudaErrorAssert || e == cudaErrorIllegalInstruction ||
      e == cudaErrorMisalignedAddress)
    msg += " (a kernel faulted; the CUDA context cannot be used any more in this process)";
  throw Error(ErrorKind::internal, op, msg, file, line);
}

}  // namespace cu

namespace {

struct Discovery {
  bool ok = false;
  int count = 0;
  int driver = 0;  // the driver's CUDA version (cudaDriverGetVersion), 0 without a driver
  std::string reason;
};

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

const Discovery& discover() {
  static const Discovery d = [] {
    Discovery r;
    int driver = 0;
    if (cudaDriverGetVersion(&driver) != cudaSuccess) {
      cudaGetLastError();
      driver = 0;
    }
    r.driver = driver;
    r.reason = cuda_version_problem(driver, CUDART_VERSION);
    if (!r.reason.empty()) return r;
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      if (e == cudaErrorInsufficientDriver) {
        r.reason = "the NVIDIA driver (CUDA " + version_text(driver) + ") is too old for this build's CUDA " + version_text(CUDART_VERSION) +
                   " runtime (update the driver)";
      } else if (e == cudaErrorNoDevice) {
        r.reason = "no CUDA device found";
      } else {
        r.reason = std::string("CUDA initialisation failed: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
      }
      return r;
    }
    if (n <= 0) {
      r.reason = "no CUDA device found";
      return r;
    }
    r.ok = true;
    r.count = n;
    return r;
  }();
  return d;
}

void require(const char* op) {
  const Discovery& d = discover();
  LMF_CHECK(d.ok, device, op, "CUDA is not available: " << d.reason);
}

constexpr size_t kSmallStep = 512;             // cudaMalloc aligns to 256 bytes; 512-byte classes below 1 MiB
constexpr size_t kLarge = size_t(1) << 20;

size_t size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < kLarge) return (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  size_t pow2 = kLarge;
  while (pow2 * 2 <= bytes) pow2 *= 2;
  const size_t step = pow2 / 8;
  return (bytes + step - 1) / step * step;
}

struct DeviceState {
  cudaStream_t stream = nullptr;
  std::multimap<size_t, void*> free_blocks;  // class size -> block
  size_t cached = 0;
};

struct Runtime {
  std::mutex mu;
  std::vector<DeviceState> dev;
  std::unordered_map<void*, int> owner;  // live block -> device
  size_t limit = SIZE_MAX;              // cache bound (setCacheLimit); unbounded by default, as PyTorch's
};
Runtime& rt() {
  static Runtime* r = new Runtime();  // never destroyed: tensors freed during process exit still find it
  return *r;
}

bool no_cache() {
  static const bool off = [] {
    const char* e = std::getenv("LMF_CUDA_NO_CACHE");
    return e && std::strcmp(e, "1") == 0;
  }();
  return off;
}

int current_device() {
  int d = 0;
  LMF_CUDA_CHECK(cudaGetDevice(&d), "cuda");
  return d;
}

DeviceState& state(int d) {
  Runtime& r = rt();
  if (r.dev.empty()) r.dev.resize(static_cast<size_t>(discover().count));
  return r.dev[static_cast<size_t>(d)];
}

// Frees cached blocks of every device until at most `to` bytes stay cached. Caller holds the lock.
void trim_locked(size_t to) {
  Runtime& r = rt();
  size_t total = 0;
  for (auto& s : r.dev) total += s.cached;
  for (size_t d = 0; d < r.dev.size() && total > to; ++d) {
    DeviceState& s = r.dev[d];
    while (total > to && !s.free_blocks.empty()) {
      auto it = std::prev(s.free_blocks.end());
      cudaFree(it->second);  // a failure here cannot be acted on; the block is dropped either way
      s.cached -= it->first;
      total -= it->first;
      s.free_blocks.erase(it);
    }
  }
}

}  // namespace

bool cuda_available() { return discover().ok; }
std::string cuda_unavailable_reason() { return discover().ok ? "" : discover().reason; }
std::string cuda_versions() {
  const int driver = discover().driver;
  if (driver <= 0) return "";
  std::string s = "CUDA driver " + version_text(driver) + ", runtime " + version_text(CUDART_VERSION);
  if (driver < CUDART_VERSION && cuda_version_problem(driver, CUDART_VERSION).empty())
    s += " (the driver is older than the runtime: compatible within CUDA " + std::to_string(driver / 1000) +
         ", but PTX from this build cannot be JIT-compiled by it)";
  return s;
}
int cuda_device_count() { return discover().count; }

cuda_stream cuda_current_stream() {
  require("cuda");
  const int d = current_device();
  Runtime& r = rt();
  std::lock_guard<std::mutex> lk(r.mu);
  DeviceState& s = state(d);
  // Non-blocking: it does not serialise with the legacy default stream that other libraries may use.
  if (!s.stream) LMF_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cuda");
  return s.stream;
}

void* cuda_alloc(size_t bytes) {
  require("alloc");
  const int d = current_device();
  const size_t cls = no_cache() ? (bytes ? bytes : 1) : size_class(bytes);
  Runtime& r = rt();
  std::lock_guard<std::mutex> lk(r.mu);
  DeviceState& s = state(d);
  void* p = nullptr;
  auto it = s.free_blocks.find(cls);
  if (it != s.free_blocks.end()) {
    p = it->second;
    s.free_blocks.erase(it);
    s.cached -= cls;
  } else {
    cudaError_t e = cudaMalloc(&p, cls);
    if (e == cudaErrorMemoryAllocation) {  // memory may sit in the cache: give it back and retry
      cudaGetLastError();
      trim_locked(0);
      e = cudaMalloc(&p, cls);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      LMF_THROW(memory, "alloc", "out of memory: cannot allocate " << bytes << " bytes on the cuda device (" << free_b
                                 << " of " << total_b << " bytes free; " << cudaGetErrorString(e) << ")");
    }
  }
  r.owner[p] = d;
  return p;
}

void cuda_free(void* p, size_t bytes) {
  if (!p) return;
  Runtime& r = rt();
  std::lock_guard<std::mutex> lk(r.mu);
  auto o = r.owner.find(p);
  if (o == r.owner.end()) return;  // not ours: nothing to do (never free twice)
  const int d = o->second;
  r.owner.erase(o);
  const size_t cls = size_class(bytes);
  DeviceState& s = state(d);
  size_t total = 0;
  for (auto& x : r.dev) total += x.cached;
  if (!no_cache() && total + cls <= r.limit) {
    s.free_blocks.emplace(cls, p);
    s.cached += cls;
  } else {
    cudaFree(p);
  }
}

void cuda_copy(void* dst, const void* src, size_t bytes, int kind) {
  if (bytes == 0) return;
  cudaStream_t st = cuda_current_stream();
  const cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice : kind == 1 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
  LMF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, st), "copy");
  // Host reads wait for the device (data() synchronizes). A host-to-device copy from pageable memory
  // has staged the source before cudaMemcpyAsync returns, so the caller may reuse its buffer at once.
  if (kind == 1) LMF_CUDA_CHECK(cudaStreamSynchronize(st), "copy");
}

void cuda_synchronize() {
  if (!cuda_available()) return;
  LMF_CUDA_CHECK(cudaStreamSynchronize(cuda_current_stream()), "synchronize");
}

int64_t cuda_cached_bytes() {
  Runtime& r = rt();
  std::lock_guard<std::mutex> lk(r.mu);
  size_t total = 0;
  for (auto& s : r.dev) total += s.cached;
  return static_cast<int64_t>(total);
}

void cuda_empty_cache() {
  if (!cuda_available()) return;
  cuda_synchronize();
  Runtime& r = rt();
  std::lock_guard<std::mutex> lk(r.mu);
  trim_locked(0);
}

void cuda_set_cache_limit(int64_t bytes) {
  Runtime& r = rt();
  std::lock_guard<std::mutex> lk(r.mu);
  r.limit = static_cast<size_t>(bytes);
  trim_locked(r.limit);
}

std::string cuda_device_name() {
  if (!cuda_available()) return "";
  cudaDeviceProp prop;
  LMF_CUDA_CHECK(cudaGetDeviceProperties(&prop, current_device()), "cuda");
  return prop.name;
}

int cuda_compute_capability() {
  if (!cuda_available()) return 0;
  int major = 0, minor = 0;
  const int d = current_device();
  LMF_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, d), "cuda");
  LMF_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, d), "cuda");
  return major * 10 + minor;
}

int64_t cuda_total_memory() {
  if (!cuda_available()) return 0;
  size_t free_b = 0, total_b = 0;
  LMF_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b), "cuda");
  return static_cast<int64_t>(total_b);
}

void* cuda_event_create() {
  require("event");
  cudaEvent_t e = nullptr;
  LMF_CUDA_CHECK(cudaEventCreate(&e), "event");
  return e;
}
void cuda_event_record(void* event) { LMF_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), cuda_current_stream()), "event"); }
float cuda_event_elapsed_ms(void* start, void* end) {
  LMF_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(end)), "event");
  float ms = 0;
  LMF_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)), "event");
  return ms;
}
void cuda_event_destroy(void* event) {
  if (event) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

}  // namespace lmf
