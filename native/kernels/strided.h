// N-d iteration over up to four operands that share one shape but each have their own strides
// (0 where broadcast). The last dimension is the inner loop; rows are split across the thread pool.
#pragma once
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

// f(off[4], n, inner_strides[4]) once per row of the innermost dimension; offsets in elements.
template <typename F>
void for_each_row(const StridedLoop& L, F&& f) {
  const int nd = L.ndim;
  const int64_t inner = L.shape[nd - 1];
  if (inner == 0) return;
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= L.shape[d];
  if (rows == 0) return;
  const int64_t inner_strides[4] = {L.strides[0][nd - 1], L.strides[1][nd - 1], L.strides[2][nd - 1], L.strides[3][nd - 1]};
  const int64_t grain = inner >= 16384 ? 1 : 16384 / inner;
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
    int64_t idx[kMaxDims] = {};
    int64_t rem = r0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % L.shape[d];
      rem /= L.shape[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      int64_t off[4] = {0, 0, 0, 0};
      for (int d = 0; d < nd - 1; ++d)
        for (int o = 0; o < L.nops; ++o) off[o] += idx[d] * L.strides[o][d];
      f(off, inner, inner_strides);
      for (int d = nd - 2; d >= 0; --d) {
        if (++idx[d] < L.shape[d]) break;
        idx[d] = 0;
      }
    }
  });
}

}  // namespace lmf::kernels
