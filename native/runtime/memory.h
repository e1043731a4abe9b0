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
};
MemoryStats memory_stats(Device device);
void reset_peak_bytes(Device device);

// Called with +bytes / -bytes on every CPU allocation and release (the binding reports them to V8).
void set_allocation_observer(std::function<void(int64_t)> fn);

}  // namespace lmf
