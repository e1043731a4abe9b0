#include "cpu_features.h"

#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // sysconf
#endif

#include "../core/error.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace lmf {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  const bool f16c = c & (1u << 29);
  unsigned long long xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
  }
  const bool ymm_os = (xcr0 & 0x6) == 0x6;     // the OS saves SSE and AVX state
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;   // ... and the AVX-512 opmask and upper registers
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = ymm_os && (b & (1u << 5));
    f.fma = ymm_os && fma;
    f.f16c = ymm_os && f16c;
    f.avx512f = zmm_os && (b & (1u << 16));
    f.avx512dq = zmm_os && (b & (1u << 17));
    f.avx512bw = zmm_os && (b & (1u << 30));
    f.avx512vl = zmm_os && (b & (1u << 31));
    f.avx512vbmi = zmm_os && (c & (1u << 1));
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512bf16 = f.avx512f && (a & (1u << 5));
  }
#elif defined(__aarch64__)
  f.neon = true;
#endif
#if defined(_SC_LEVEL2_CACHE_SIZE)
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  f.l2_bytes = l2 > 0 ? l2 : 0;
#endif
  return f;
}

const CpuFeatures& detected() {
  static const CpuFeatures f = detect();
  return f;
}

CpuFeatures g_effective = detected();

CpuTier natural_tier(const CpuFeatures& f) {
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) return CpuTier::avx512;
  if (f.avx2 && f.fma) return CpuTier::avx2;
  if (f.neon) return CpuTier::neon;
  return CpuTier::scalar;
}

}  // namespace

const CpuFeatures& cpu_features() { return g_effective; }

// Forcing a tier narrows g_effective to it, so the tier is always the one the effective features give.
CpuTier simd_tier() { return natural_tier(g_effective); }

const char* cpu_tier() {
  switch (simd_tier()) {
    case CpuTier::avx512: return "avx512";
    case CpuTier::avx2: return "avx2";
    case CpuTier::neon: return "neon";
    case CpuTier::scalar: break;
  }
  return "scalar";
}

void set_cpu_tier(const char* tier) {
  const CpuFeatures& hw = detected();
  const std::string t = tier ? tier : "";
  CpuFeatures f = hw;
  if (t.empty()) {
    g_effective = hw;
    return;
  }
  if (t == "avx512") {
    LMF_CHECK(natural_tier(hw) == CpuTier::avx512, value, "setCpuTier", "this CPU lacks AVX-512");
  } else if (t == "avx2") {
    LMF_CHECK(hw.avx2 && hw.fma, value, "setCpuTier", "this CPU lacks AVX2+FMA");
    f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512bf16 = f.avx512vbmi = false;
  } else if (t == "neon") {
    LMF_CHECK(hw.neon, value, "setCpuTier", "this CPU lacks NEON");
  } else if (t == "scalar") {
    f = CpuFeatures{};
  } else {
    LMF_THROW(value, "setCpuTier", "unknown tier '" << t << "' (expected avx512, avx2, neon, scalar or '')");
  }
  g_effective = f;
}

}  // namespace lmf
