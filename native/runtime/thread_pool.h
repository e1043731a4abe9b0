// A persistent pool of worker threads, sized to the cores by default and settable at run time.
// parallel_for splits [0, n) into contiguous chunks; the calling thread takes a chunk too.
#pragma once
#include <cstdint>
#include <functional>

namespace lmf {

int num_threads();
// n < 1 throws; the pool is rebuilt with n - 1 workers (the caller is the n-th).
void set_num_threads(int n);

// Calls fn(begin, end, thread_index) over a partition of [0, n) into at most num_threads() chunks of at
// least `grain` items each. Runs inline when there is one chunk. Nested calls run inline. The first
// exception thrown by any chunk is rethrown on the calling thread after all chunks finished.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

}  // namespace lmf
