// What the processor can do, read once with cpuid (x86) or known at compile time (aarch64).
// Kernels dispatch on these flags, never on model names.
#pragma once

namespace lmf {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512bf16 = false;
  bool neon = false;
};

const CpuFeatures& cpu_features();
// Lets tests and benchmarks force a lower tier ("avx512", "avx2", "neon", "scalar"); "" restores detection.
// Throws lmf::Error for an unknown tier or one the CPU lacks.
void set_cpu_tier(const char* tier);
const char* cpu_tier();

}  // namespace lmf
