// CPU memory: 64-byte aligned buffers (one cache line, the widest vector) and the live counters.
#include <atomic>
#include <cstdlib>
#include <new>

#include "../core/error.h"
#include "cuda_runtime.h"
#include "memory.h"

namespace lmf {
namespace {

struct Counters {
  std::atomic<int64_t> buffers{0}, bytes{0}, peak{0};
};
Counters g_counters[2];
std::function<void(int64_t)> g_observer;

void count(Device d, int64_t bytes, int64_t buffers) {
  Counters& c = g_counters[static_cast<int>(d)];
  c.buffers += buffers;
  int64_t now = (c.bytes += bytes);
  int64_t peak = c.peak.load();
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
}

}  // namespace

void* device_alloc(size_t bytes, Device device) {
  void* p = nullptr;
  if (device == Device::cuda) {
    p = cuda_alloc(bytes);
  } else {
    const size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
    p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) LMF_THROW(memory, "alloc", "out of memory: cannot allocate " << bytes << " bytes on the cpu");
    if (g_observer) g_observer(static_cast<int64_t>(bytes));
  }
  count(device, static_cast<int64_t>(bytes), 1);
  return p;
}

void device_free(void* p, size_t bytes, Device device) {
  if (!p) return;
  if (device == Device::cuda) {
    cuda_free(p, bytes);
  } else {
    std::free(p);
    if (g_observer) g_observer(-static_cast<int64_t>(bytes));
  }
  count(device, -static_cast<int64_t>(bytes), -1);
}

MemoryStats memory_stats(Device device) {
  const Counters& c = g_counters[static_cast<int>(device)];
  return {c.buffers.load(), c.bytes.load(), c.peak.load()};
}

void reset_peak_bytes(Device device) {
  Counters& c = g_counters[static_cast<int>(device)];
  c.peak.store(c.bytes.load());
}

void set_allocation_observer(std::function<void(int64_t)> fn) { g_observer = std::move(fn); }

}  // namespace lmf
