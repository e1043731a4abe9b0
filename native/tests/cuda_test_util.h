// Shared by the C++ CUDA tests (cuda_*_test.cpp, cuda_bench.cpp): pass/fail counting and what a program
// does when no CUDA device is usable.
//
// Each test computes its expected values on the host (the CPU twin or the float64 path) in every build and
// checks the CPU twin against them, so the test itself runs on a machine without a GPU; only the CUDA
// comparison needs a device. Without one that comparison is skipped ("skipped: no CUDA device"), and the
// program passes - unless LMF_REQUIRE_CUDA=1 (set by the GPU check, scripts/device_check*.sh), which makes
// it fail at once: a GPU run with a broken driver or runtime must not pass without running a kernel.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../runtime/cuda_runtime.h"

namespace lmf::cudatest {

inline int g_passed = 0, g_failed = 0;

inline void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

inline bool cuda_required() {
  const char* e = std::getenv("LMF_REQUIRE_CUDA");
  return e && std::strcmp(e, "1") == 0;
}

// Call first in main. Prints the device (or why there is none) and returns false when the program must
// stop now with exit status 1: CUDA is required but unavailable.
inline bool start(const char* program) {
  if (cuda_available()) {
    std::printf("%s: %s (sm_%d), %s\n", program, cuda_device_name().c_str(), cuda_compute_capability(), cuda_versions().c_str());
    return true;
  }
  if (cuda_required()) {
    std::printf("FAIL: %s: LMF_REQUIRE_CUDA=1 but CUDA is not available (%s)\n", program, cuda_unavailable_reason().c_str());
    return false;
  }
  std::printf("%s: skipped: no CUDA device (%s); the host-side checks run, the CUDA comparisons do not\n", program,
              cuda_unavailable_reason().c_str());
  return true;
}

// The exit status: 0 when every check passed.
inline int finish(const char* program) {
  std::printf("%s: %d passed, %d failed%s\n", program, g_passed, g_failed, cuda_available() ? "" : " (host side only: no CUDA device)");
  return g_failed == 0 ? 0 : 1;
}

}  // namespace lmf::cudatest
