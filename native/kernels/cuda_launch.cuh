// Launch arithmetic of the CUDA twins in plain C++ (no CUDA header): the .cu files launch with it, and
// native/tests/cuda_launch_test.cpp checks it on the host, so a grid that is too large or a slot that is
// skipped shows up without a GPU.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "math.h"  // LMF_HD: host and device, inline

namespace lmf::kernels::launch {

// gridDim.y and gridDim.z are limited to 65535 blocks (gridDim.x to 2^31 - 1).
constexpr int64_t kMaxGridY = 65535;

// ---- multi-tensor batches (the fused optimizer steps, the gradient passes, 8-bit Adam) ----
// A fused optimizer step touches every parameter tensor of a model (a GPT has one to a few hundred). The
// slot descriptors travel as a kernel argument (a Batch of at most N slots, well under the 4 KiB parameter
// limit), so a step needs no device allocation and no host-to-device copy: each batch is one launch over
// the chunks of its slots, and a block finds its slot by scanning the batch's chunk offsets.
template <class S, int N>
struct Batch {
  int count;
  int64_t first[N + 1];  // chunk index where slot k starts; first[count] = chunks in the batch
  S s[N];
};

// Which slot chunk c belongs to (count <= N, a short scan that every thread of a block does alike).
template <class S, int N>
LMF_HD int slot_of(const Batch<S, N>& b, int64_t c) {
  int k = 0;
  while (k + 1 < b.count && c >= b.first[k + 1]) ++k;
  return k;
}

// Calls launch(batch, chunks) for consecutive groups of at most N slots, so a model with more slots than
// one batch holds takes several launches; make(k) builds slot k's descriptor, size(k) its element count
// (empty slots are left out); chunk elements per block.
template <class S, int N, class Make, class Size, class Launch>
void for_batches(size_t count, int64_t chunk, Make make, Size size, Launch launch) {
  for (size_t k0 = 0; k0 < count; k0 += N) {
    Batch<S, N> b{};
    b.count = 0;
    int64_t c = 0;
    for (size_t k = k0; k < std::min(count, k0 + N); ++k) {
      if (size(k) == 0) continue;
      b.first[b.count] = c;
      b.s[b.count] = make(k);
      c += (size(k) + chunk - 1) / chunk;
      ++b.count;
    }
    b.first[b.count] = c;
    if (c > 0) launch(b, c);
  }
}

// ---- the norm backward's dw/db column sums ----
// Rows are summed in chunks of kNormChunkRows (partial sums [chunks, D], then one ordered pass in double).
// Chunks go along gridDim.y with a grid-stride loop: one block per chunk would exceed 65535 blocks past
// about 8.4M rows.
constexpr int64_t kNormChunkRows = 128;
constexpr int kNormColThreads = 256;
struct NormPartialGrid {
  int64_t chunks;     // row chunks (0 when there are no rows)
  unsigned x, y;      // gridDim: column blocks, chunk blocks (y <= kMaxGridY; block y does chunks y, y + gridDim.y, ...)
};
inline NormPartialGrid norm_partial_grid(int64_t rows, int64_t D) {
  NormPartialGrid g;
  g.chunks = rows <= 0 ? 0 : (rows + kNormChunkRows - 1) / kNormChunkRows;
  g.x = static_cast<unsigned>(std::max<int64_t>(1, (D + kNormColThreads - 1) / kNormColThreads));
  g.y = static_cast<unsigned>(std::max<int64_t>(1, std::min(g.chunks, kMaxGridY)));
  return g;
}
// Rows [r0, r1) of chunk c.
LMF_HD void norm_chunk_rows(int64_t c, int64_t rows, int64_t& r0, int64_t& r1) {
  r0 = c * kNormChunkRows;
  r1 = r0 + kNormChunkRows < rows ? r0 + kNormChunkRows : rows;
}

}  // namespace lmf::kernels::launch
