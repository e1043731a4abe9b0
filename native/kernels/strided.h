// N-d iteration over up to four operands that share one shape but each have their own strides
// (0 where broadcast). The last dimension is the inner loop; rows are split across the thread pool.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../core/shape.h"
#include "../runtime/thread_pool.h"

namespace lmf::kernels {

struct StridedLoop {
  int ndim = 0;
  int nops = 1;
  int64_t shape[kMaxDims] = {};
  int64_t strides[4][kMaxDims] = {};
};

// Builds a loop, dropping size-1 dims and merging dims that are contiguous for every operand.
inline StridedLoop make_loop(const Shape& shape, const Shape* const* strides, int nops) {
  StridedLoop L;
  L.nops = nops;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (L.ndim > 0) {
      bool merge = true;
      for (int o = 0; o < nops; ++o)
        merge = merge && L.strides[o][L.ndim - 1] == (*strides[o])[d] * shape[d];
      if (merge) {
        L.shape[L.ndim - 1] *= shape[d];
        for (int o = 0; o < nops; ++o) L.strides[o][L.ndim - 1] = (*strides[o])[d];
        continue;
      }
    }
    L.shape[L.ndim] = shape[d];
    for (int o = 0; o < nops; ++o) L.strides[o][L.ndim] = (*strides[o])[d];
    ++L.ndim;
  }
  if (L.ndim == 0) {  // a single element (or every dim 1)
    L.ndim = 1;
    L.shape[0] = numel_of(shape);
    for (int o = 0; o < nops; ++o) L.strides[o][0] = 1;
  }
  return L;
}

// f(off[4], n, inner_strides[4]) once per row of the innermost dimension (or per piece of a row: long
// rows are cut so that a tensor with few rows still uses every thread); offsets in elements.
template <typename F>
void for_each_row(const StridedLoop& L, F&& f) {
  const int nd = L.ndim;
  const int64_t inner = L.shape[nd - 1];
  if (inner == 0) return;
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= L.shape[d];
  if (rows == 0) return;
  const int64_t inner_strides[4] = {L.strides[0][nd - 1], L.strides[1][nd - 1], L.strides[2][nd - 1], L.strides[3][nd - 1]};
  constexpr int64_t kPiece = 16384;  // elements per task: large enough to amortise a task
  const int64_t pieces = inner > 2 * kPiece && rows < 4 * num_threads() ? (inner + kPiece - 1) / kPiece : 1;
  const int64_t piece_len = (inner + pieces - 1) / pieces;
  const int64_t tasks = rows * pieces;
  const int64_t grain = pieces > 1 ? 1 : (inner >= kPiece ? 1 : kPiece / inner);
  parallel_for(tasks, grain, [&](int64_t t0, int64_t t1, int) {
    int64_t idx[kMaxDims] = {};
    int64_t rem = t0 / pieces;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % L.shape[d];
      rem /= L.shape[d];
    }
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t piece = t % pieces;
      int64_t off[4] = {0, 0, 0, 0};
      for (int d = 0; d < nd - 1; ++d)
        for (int o = 0; o < L.nops; ++o) off[o] += idx[d] * L.strides[o][d];
      const int64_t begin = piece * piece_len, len = std::min(piece_len, inner - begin);
      for (int o = 0; o < L.nops; ++o) off[o] += begin * inner_strides[o];
      if (len > 0) f(off, len, inner_strides);
      if (piece + 1 < pieces) continue;
      for (int d = nd - 2; d >= 0; --d) {
        if (++idx[d] < L.shape[d]) break;
        idx[d] = 0;
      }
    }
  });
}

}  // namespace lmf::kernels
