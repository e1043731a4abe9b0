// Range checks made inside the kernels that read indices (embedding rows, cross-entropy targets), so that
// no op reads indices back to the host to check them first: on CUDA that read would synchronise with the
// device at every step. A kernel never reads outside its table. It skips an index out of range, writes
// NaN where that index's result would go (never a silent wrong value), and lowers a 64-bit fault word to
// the index's key; the lowest position wins, so the op names the first bad index. The CPU op reports the
// word at once; the CUDA op at the next synchronisation (native/ops/embedding.cpp).
#pragma once
#include <cstdint>

#include "../core/dtype.h"
#include "math.h"  // LMF_HD

#if !defined(__CUDACC__)
#include <atomic>
#endif

namespace lmf::kernels {

// The fault word before any fault (every key is smaller).
constexpr uint64_t kNoIndexFault = ~uint64_t(0);
// Positions past this one share its key (an op over 4 billion indices names the last one it can).
constexpr int64_t kMaxFaultPosition = 0xfffffffeLL;

// Position in the high 32 bits, the offending value in the low 32: keys order by position.
LMF_HD uint64_t index_fault_key(int64_t position, int32_t value) {
  const uint64_t p = static_cast<uint64_t>(position < kMaxFaultPosition ? position : kMaxFaultPosition);
  return (p << 32) | static_cast<uint32_t>(value);
}
LMF_HD int64_t index_fault_position(uint64_t key) { return static_cast<int64_t>(key >> 32); }
LMF_HD int32_t index_fault_value(uint64_t key) { return static_cast<int32_t>(static_cast<uint32_t>(key)); }

// The bits of a quiet NaN of a float dtype, zero for the others: what a skipped index's result holds.
inline uint64_t nan_bits(DType t) {
  switch (t) {
    case DType::f32: return 0x7fc00000u;
    case DType::f64: return 0x7ff8000000000000ull;
    case DType::bf16: return 0x7fc0u;
    case DType::f16: return 0x7e00u;
    default: return 0;
  }
}

#if !defined(__CUDACC__)
// CPU kernels: each worker lowers the shared word once, with its own first fault.
inline void lower_index_fault(std::atomic<uint64_t>& word, uint64_t key) {
  uint64_t cur = word.load(std::memory_order_relaxed);
  while (key < cur && !word.compare_exchange_weak(cur, key, std::memory_order_relaxed)) {
  }
}
#endif

}  // namespace lmf::kernels
