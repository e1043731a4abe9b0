// What the processor can do, read once with cpuid (x86) or known at compile time (aarch64), and the one
// instruction-set tier every CPU kernel family dispatches on. Kernels dispatch on these, never on model names.
#pragma once

namespace lmf {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512bf16 = false;
  bool avx512vbmi = false;  // byte permutes (vpermb, vpermi2b): the 8-bit optimizer's lookups
  bool neon = false;
  long l2_bytes = 0;  // one core's L2, as the OS reports it (cache blocking sizes); 0 when unknown
};

// The tiers, lowest first. avx512: AVX-512 F, BW, VL and DQ; avx2: AVX2 and FMA; neon: aarch64's
// Advanced SIMD; scalar: nothing assumed. kernels/simd.h compiles the x86 tiers' code and picks among them.
enum class CpuTier { scalar, neon, avx2, avx512 };

// The features kernels may use now: the detected ones, narrowed by set_cpu_tier.
const CpuFeatures& cpu_features();
// The tier kernels run on now: the best the CPU has, or the one set_cpu_tier forced. The single source of
// truth for every family's dispatch (kernels/simd.h's pick_tier reads it).
CpuTier simd_tier();
// Its name ("avx512", "avx2", "neon" or "scalar"), as cpuInfo() reports it and setCpuTier takes it.
const char* cpu_tier();
// Lets tests and benchmarks force a lower tier ("avx512", "avx2", "neon", "scalar"); "" restores detection.
// Throws lmf::Error for an unknown tier or one the CPU lacks.
void set_cpu_tier(const char* tier);

}  // namespace lmf
