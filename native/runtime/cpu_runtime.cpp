// CPU memory: 64-byte aligned buffers (one cache line, the widest vector), a cache of large blocks,
// and the live counters.
//
// Why a cache: fresh pages cost a first-touch fault each, about 25 us per 4 KiB page on the VMs here: a
// 64 MB op output took 400 ms instead of 3. Large blocks are therefore kept after release, in size
// classes, up to a byte limit (a quarter of physical memory by default), and handed out again.
//
// Why not aligned_alloc: glibc before 2.38 serves memalign by carving an aligned chunk out of a larger
// one and freeing the leading and trailing pieces. A small leading piece sits in a fastbin, which never
// coalesces, so each freed buffer became a hole fenced off by two small chunks, exactly the buffer's
// size, while the next request of that size asks for size + alignment + 32 and cannot use it: the heap
// grew on every training step (64 MiB to 7 GB RSS over 2,300 steps of a tiny GPT while live tensors
// stayed at 1.4 MiB; glibc's heap held over 1 GB free). Small blocks are therefore plain malloc
// chunks aligned by hand, which glibc reuses like any other; large blocks are mapped pages of their
// own (mmap), so evicting one from the cache returns it to the system instead of leaving a hole in
// the heap that only a later trim might release.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define LMF_HAVE_MMAP 1
#endif

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

constexpr size_t kCacheMin = size_t(1) << 20;  // smaller blocks go straight to malloc, which keeps them

// Eight classes per power of two above kCacheMin (at most 12.5% slack), so that a block of one class
// serves any request of that class.
size_t size_class(size_t bytes) {
  if (bytes < kCacheMin) return (bytes + 63) / 64 * 64;
  size_t pow2 = kCacheMin;
  while (pow2 * 2 <= bytes) pow2 *= 2;
  const size_t step = pow2 / 8;
  return (bytes + step - 1) / step * step;
}

// A quarter of physical memory (at least 1 GiB): a training step's activations and gradients are
// released and requested again every step, and a limit below that working set sends part of it back
// to fresh pages each step (a 14M-parameter GPT step was 1.7x slower with a 1 GiB limit).
size_t default_cache_limit() {
  size_t phys = 0;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGE_SIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) phys = static_cast<size_t>(pages) * static_cast<size_t>(page);
#endif
  const size_t quarter = phys / 4;
  return quarter > (size_t(1) << 30) ? quarter : size_t(1) << 30;
}

// Large blocks (kCacheMin and up, multiples of 128 KiB by size_class): pages of their own. Blocks of
// 2 MiB and up start on a 2 MiB boundary and ask for transparent huge pages (MADV_HUGEPAGE; the kernels
// here default THP to madvise): with 4 KiB pages a streaming kernel misses the TLB on every page
// (cross-entropy's backward over 2 x 64 MB: 15% more CPU time), and a fresh block faults once per
// 4 KiB (about 25 us each on these VMs) instead of once per 2 MiB. Where THP is off, the advice fails
// and the block is an ordinary mapping.
void* map_block(size_t cls) {
#ifdef LMF_HAVE_MMAP
#ifdef MADV_HUGEPAGE
  constexpr size_t kHuge = size_t(2) << 20;
  if (cls >= kHuge) {
    void* raw = mmap(nullptr, cls + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const uintptr_t r = reinterpret_cast<uintptr_t>(raw), a = (r + kHuge - 1) & ~uintptr_t(kHuge - 1);
    if (a > r) munmap(raw, a - r);  // the unaligned head and tail go back: unmap_block(p, cls) stays right
    if (a - r < kHuge) munmap(reinterpret_cast<void*>(a + cls), kHuge - (a - r));
    madvise(reinterpret_cast<void*>(a), cls, MADV_HUGEPAGE);
    return reinterpret_cast<void*>(a);
  }
#endif
  void* p = mmap(nullptr, cls, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
#else
  return std::aligned_alloc(64, cls);
#endif
}

void unmap_block(void* p, size_t cls) {
#ifdef LMF_HAVE_MMAP
  munmap(p, cls);
#else
  (void)cls;
  std::free(p);
#endif
}

// Small blocks: an ordinary malloc chunk, 64 bytes longer, aligned by hand; the chunk's own address is
// kept in the 8 bytes before the aligned pointer (malloc aligns to 16, so there are at least 16).
void* small_alloc(size_t cls) {
  void* raw = std::malloc(cls + 64);
  if (!raw) return nullptr;
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(raw) + 64) & ~uintptr_t(63);
  reinterpret_cast<void**>(aligned)[-1] = raw;
  return reinterpret_cast<void*>(aligned);
}

void small_free(void* p) { std::free(static_cast<void**>(p)[-1]); }

// Cached blocks by class and by age (an increasing stamp). When a released block does not fit under the
// limit, the oldest cached blocks are freed to make room for it: without that, blocks of a class that
// stopped recurring (an earlier model's, another batch shape's) kept the cache full for good, and every
// block of the new working set went back to fresh pages each step (a 91M-parameter GPT after smaller ones
// in the sweep: a third of its MFU, and heap growth until the process was killed).
struct BlockCache {
  std::mutex mu;
  std::multimap<size_t, uint64_t> by_class;             // class size -> stamp
  std::map<uint64_t, std::pair<size_t, void*>> by_age;  // stamp -> (class size, block)
  uint64_t next_stamp = 0;
  size_t cached = 0;
  size_t limit = default_cache_limit();

  // Removes one entry (the caller holds mu) and returns its block.
  void* remove(std::multimap<size_t, uint64_t>::iterator it) {
    auto a = by_age.find(it->second);
    void* p = a->second.second;
    cached -= it->first;
    by_age.erase(a);
    by_class.erase(it);
    return p;
  }
  void* take(size_t cls) {
    std::lock_guard<std::mutex> lk(mu);
    auto range = by_class.equal_range(cls);
    if (range.first == range.second) return nullptr;
    return remove(std::prev(range.second));  // the most recently released: likeliest still in cache
  }
  bool give(void* p, size_t cls) {
    std::lock_guard<std::mutex> lk(mu);
    if (cls > limit) return false;
    while (cached + cls > limit) {
      const auto oldest = by_age.begin();
      const size_t oldest_cls = oldest->second.first;
      auto range = by_class.equal_range(oldest_cls);
      auto it = range.first;
      while (it->second != oldest->first) ++it;
      unmap_block(remove(it), oldest_cls);
    }
    by_class.emplace(cls, next_stamp);
    by_age.emplace(next_stamp++, std::make_pair(cls, p));
    cached += cls;
    return true;
  }
  void trim(size_t to) {
    std::lock_guard<std::mutex> lk(mu);
    // largest first: frees the most with the fewest calls
    while (cached > to && !by_class.empty()) {
      const auto largest = std::prev(by_class.end());
      const size_t cls = largest->first;
      unmap_block(remove(largest), cls);
    }
  }
};
BlockCache g_cache;

void* cpu_alloc(size_t bytes) {
  const size_t cls = size_class(bytes == 0 ? 64 : bytes);
  if (cls < kCacheMin) return small_alloc(cls);
  if (void* p = g_cache.take(cls)) return p;
  void* p = map_block(cls);
  if (!p) {  // memory may be sitting in the cache: give it back and retry
    g_cache.trim(0);
    p = map_block(cls);
  }
  return p;
}

void cpu_free(void* p, size_t bytes) {
  const size_t cls = size_class(bytes == 0 ? 64 : bytes);
  if (cls < kCacheMin) small_free(p);
  else if (!g_cache.give(p, cls)) unmap_block(p, cls);
}

}  // namespace

void* device_alloc(size_t bytes, Device device) {
  void* p = nullptr;
  if (device == Device::cuda) {
    p = cuda_alloc(bytes);
  } else {
    p = cpu_alloc(bytes);
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
    cpu_free(p, bytes);
    if (g_observer) g_observer(-static_cast<int64_t>(bytes));
  }
  count(device, -static_cast<int64_t>(bytes), -1);
}

MemoryStats memory_stats(Device device) {
  const Counters& c = g_counters[static_cast<int>(device)];
  MemoryStats s{c.buffers.load(), c.bytes.load(), c.peak.load(), 0};
  if (device == Device::cpu) {
    std::lock_guard<std::mutex> lk(g_cache.mu);
    s.cached_bytes = static_cast<int64_t>(g_cache.cached);
  } else {
    s.cached_bytes = cuda_cached_bytes();
  }
  return s;
}

void empty_cache(Device device) {
  if (device == Device::cpu) g_cache.trim(0);
  else cuda_empty_cache();
}

void set_cache_limit(Device device, int64_t bytes) {
  LMF_CHECK(bytes >= 0, value, "setCacheLimit", "limit must be non-negative, got " << bytes);
  if (device != Device::cpu) {
    cuda_set_cache_limit(bytes);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(g_cache.mu);
    g_cache.limit = static_cast<size_t>(bytes);
  }
  g_cache.trim(static_cast<size_t>(bytes));
}

void reset_peak_bytes(Device device) {
  Counters& c = g_counters[static_cast<int>(device)];
  c.peak.store(c.bytes.load());
}

void set_allocation_observer(std::function<void(int64_t)> fn) { g_observer = std::move(fn); }

}  // namespace lmf
