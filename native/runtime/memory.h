// Device memory: allocation, release and live counters per device (what lib/memory.ts reports).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "../core/device.h"

namespace lmf {

void* device_alloc(size_t bytes, Device device);
void device_free(void* p, size_t bytes, Device device);

struct MemoryStats {
  int64_t buffers = 0;  // live storage buffers
  int64_t bytes = 0;    // bytes they hold
  int64_t peak_bytes = 0;
  int64_t cached_bytes = 0;  // released large blocks kept for reuse (cpu_runtime.cpp says why)
};
MemoryStats memory_stats(Device device);
void reset_peak_bytes(Device device);
// Frees every cached block; the cache keeps at most `bytes` (a quarter of physical memory by default).
void empty_cache(Device device);
void set_cache_limit(Device device, int64_t bytes);

// Called with +bytes / -bytes on every CPU allocation and release (the binding reports them to V8).
void set_allocation_observer(std::function<void(int64_t)> fn);

}  // namespace lmf
