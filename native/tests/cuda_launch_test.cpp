// Host-side checks of the CUDA code that need no GPU, run in every build: the launch arithmetic the .cu
// files use (cuda_launch.cuh: multi-tensor batches, the norm backward's dw/db grid) simulated block by
// block, and the driver-vs-runtime version rule behind cuda_unavailable_reason().
#include <cstdio>
#include <string>
#include <vector>

#include "../kernels/cuda_launch.cuh"
#include "../runtime/cuda_runtime.h"
#include "cuda_test_util.h"

using lmf::cudatest::check;
namespace L = lmf::kernels::launch;

namespace {

struct Slot {
  int id;
  int64_t n;
};

// Runs for_batches over `sizes` and walks every launch as the kernels do (block c -> slot_of -> element
// range), counting how often each element of each slot is visited.
void check_batches(const std::vector<int64_t>& sizes, int64_t chunk, const char* what) {
  constexpr int N = 24;
  std::vector<std::vector<int>> seen(sizes.size());
  for (size_t k = 0; k < sizes.size(); ++k) seen[k].assign(static_cast<size_t>(sizes[k]), 0);
  int launches = 0;
  bool sane = true;
  L::for_batches<Slot, N>(
      sizes.size(), chunk, [&](size_t k) { return Slot{static_cast<int>(k), sizes[k]}; }, [&](size_t k) { return sizes[k]; },
      [&](const L::Batch<Slot, N>& b, int64_t chunks) {
        ++launches;
        sane = sane && b.count >= 1 && b.count <= N && b.first[0] == 0 && b.first[b.count] == chunks;
        for (int64_t c = 0; c < chunks; ++c) {
          const int k = L::slot_of(b, c);
          const Slot& s = b.s[k];
          const int64_t lo = (c - b.first[k]) * chunk, hi = std::min(s.n, lo + chunk);
          sane = sane && lo < hi;  // no block without work
          for (int64_t i = lo; i < hi; ++i) ++seen[static_cast<size_t>(s.id)][static_cast<size_t>(i)];
        }
      });
  bool once = true;
  size_t nonempty = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    nonempty += sizes[k] > 0;
    for (int x : seen[k]) once = once && x == 1;
  }
  int expect = 0;  // one launch per group of N slots that has any work
  for (size_t k0 = 0; k0 < sizes.size(); k0 += N) {
    bool work = false;
    for (size_t k = k0; k < std::min(sizes.size(), k0 + N); ++k) work = work || sizes[k] > 0;
    expect += work;
  }
  std::printf("  %s: %zu slots (%zu non-empty) in %d launches\n", what, sizes.size(), nonempty, launches);
  check(sane, std::string(what) + ": every batch is well formed and every block has work");
  check(once, std::string(what) + ": every element of every slot is visited exactly once");
  check(launches == expect, std::string(what) + ": " + std::to_string(launches) + " launches, expected " + std::to_string(expect));
}

void test_batches() {
  std::vector<int64_t> many;
  for (int k = 0; k < 61; ++k) many.push_back(k % 10 == 3 ? 0 : 1 + (k * 7919) % 5000);
  check_batches(many, 4096, "optimizer step, 61 slots");
  check_batches(many, 256, "8-bit Adam, 61 slots");
  check_batches({1, 255, 257, 4097, 70001}, 4096, "optimizer step, 5 slots");
  check_batches({0, 0, 0}, 4096, "empty slots only");
}

// The dw/db partial-sum grid: gridDim.y within the limit, and the grid-stride loop over chunks covers
// every row once (before the fix, one block per chunk put 65,536 blocks in gridDim.y at 8.4M rows).
void test_norm_grid() {
  for (int64_t rows : {int64_t(1), int64_t(127), int64_t(129), int64_t(65535) * 128, int64_t(65535) * 128 + 1, int64_t(3) << 24}) {
    const int64_t D = 768;
    const L::NormPartialGrid g = L::norm_partial_grid(rows, D);
    check(g.y >= 1 && g.y <= L::kMaxGridY && g.x == 3, "norm dw/db grid for " + std::to_string(rows) + " rows fits the y limit");
    int64_t covered = 0, next = 0;
    bool ordered = true;
    // Block y walks chunks y, y + gridDim.y, ...: together the blocks take every chunk once.
    std::vector<unsigned char> taken(static_cast<size_t>(g.chunks), 0);
    for (int64_t y = 0; y < g.y; ++y)
      for (int64_t c = y; c < g.chunks; c += g.y) ++taken[static_cast<size_t>(c)];
    for (int64_t c = 0; c < g.chunks; ++c) {
      int64_t r0, r1;
      L::norm_chunk_rows(c, rows, r0, r1);
      ordered = ordered && taken[static_cast<size_t>(c)] == 1 && r0 == next && r1 > r0;
      covered += r1 - r0;
      next = r1;
    }
    check(ordered && covered == rows, "norm dw/db chunks cover " + std::to_string(rows) + " rows once, in order");
  }
  check(L::norm_partial_grid(0, 5).chunks == 0, "no rows, no chunks");
}

void test_versions() {
  using lmf::cuda_version_problem;
  const std::string none = cuda_version_problem(0, 13000), old = cuda_version_problem(12080, 13000);
  std::printf("  driver 12.8, runtime 13.0: %s\n", old.c_str());
  check(none.find("no NVIDIA driver") != std::string::npos, "no driver is reported as such");
  check(old.find("12.8") != std::string::npos && old.find("13.0") != std::string::npos && old.find("update the driver") != std::string::npos,
        "a driver older than the runtime's major version names both versions and the fix");
  check(cuda_version_problem(13000, 13000).empty(), "driver 13.0 runs runtime 13.0");
  check(cuda_version_problem(13000, 13020).empty(), "minor-version compatibility: driver 13.0 runs runtime 13.2");
  check(cuda_version_problem(13020, 12080).empty(), "a newer driver runs an older runtime");
}

}  // namespace

int main() {
  const char* program = "cuda_launch_test";
  test_batches();
  test_norm_grid();
  test_versions();
  // The availability reason in this build: without CUDA it must say why, never be empty.
  check(lmf::cuda_available() || !lmf::cuda_unavailable_reason().empty(), "an unavailable CUDA has a reason");
  std::printf("  cuda: %s\n", lmf::cuda_available() ? lmf::cuda_versions().c_str() : lmf::cuda_unavailable_reason().c_str());
  return lmf::cudatest::finish(program);
}
