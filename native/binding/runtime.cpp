// Bindings of the runtime: threads, memory, CPU features and tiers, the matmul kernel in use, CUDA, peak probes,
// build info.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../kernels/matmul.h"
#include "../ops/ops.h"
#include "../runtime/cpu_features.h"
#include "../runtime/cpu_peak.h"
#include "../runtime/cuda_runtime.h"
#include "../runtime/mem_bandwidth.h"
#include "../runtime/memory.h"
#include "../runtime/thread_pool.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

LMF_BIND(numThreads) { return Napi::Number::New(info.Env(), num_threads()); } LMF_END

LMF_BIND(setNumThreads) {
  set_num_threads(static_cast<int>(std::max<int64_t>(INT32_MIN, std::min<int64_t>(INT32_MAX, int_arg(info, 0, "setNumThreads", "n")))));
  return info.Env().Undefined();
} LMF_END

// memoryStats(device) -> { buffers, bytes, peakBytes, cachedBytes }
LMF_BIND(memoryStats) {
  const MemoryStats s = memory_stats(device_arg(info, 0, "memory"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("buffers", static_cast<double>(s.buffers));
  o.Set("bytes", static_cast<double>(s.bytes));
  o.Set("peakBytes", static_cast<double>(s.peak_bytes));
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  return o;
} LMF_END

LMF_BIND(emptyCache) {
  empty_cache(device_arg(info, 0, "emptyCache"));
  return info.Env().Undefined();
} LMF_END

// setCacheLimit(device, bytes)
LMF_BIND(setCacheLimit) {
  set_cache_limit(device_arg(info, 0, "setCacheLimit"), int_arg(info, 1, "setCacheLimit", "bytes"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(resetPeakMemory) {
  reset_peak_bytes(device_arg(info, 0, "resetPeakMemory"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(cpuFeatures) {
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("avx2", f.avx2);
  o.Set("fma", f.fma);
  o.Set("f16c", f.f16c);
  o.Set("avx512f", f.avx512f);
  o.Set("avx512bw", f.avx512bw);
  o.Set("avx512vl", f.avx512vl);
  o.Set("avx512dq", f.avx512dq);
  o.Set("avx512bf16", f.avx512bf16);
  o.Set("neon", f.neon);
  o.Set("tier", cpu_tier());
  return o;
} LMF_END

LMF_BIND(setCpuTier) {
  set_cpu_tier(string_arg(info, 0, "setCpuTier", "tier").c_str());
  return info.Env().Undefined();
} LMF_END

// cudaAvailable() -> { available, reason, devices, and with a device: name, computeCapability, totalMemory, gemm }
LMF_BIND(cudaAvailable) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("available", cuda_available());
  o.Set("reason", cuda_unavailable_reason());
  o.Set("devices", cuda_device_count());
  if (cuda_available()) {  // the current device, and which GEMM engine runs on it
    o.Set("name", cuda_device_name());
    o.Set("computeCapability", cuda_compute_capability());
    o.Set("totalMemory", static_cast<double>(cuda_total_memory()));
    o.Set("gemm", cuda_gemm_engine());
  }
  return o;
} LMF_END

LMF_BIND(matmulKernelName) {
  return Napi::String::New(info.Env(), kernels::matmul_kernel_name(dtype_arg(info, 0, "matmulKernelName")));
} LMF_END

// fmaPeak(threads, seconds) -> GFLOP/s of a register-only FMA loop (the benchmarks' ceiling)
LMF_BIND(fmaPeak) {
  const int64_t threads = int_arg(info, 0, "fmaPeak", "threads");
  LMF_CHECK(threads >= 1 && threads <= 1024, value, "fmaPeak", "threads must be in [1, 1024], got " << threads);
  return Napi::Number::New(info.Env(), measure_fma_peak_gflops(static_cast<int>(threads), number_arg(info, 1, "fmaPeak", "seconds")));
} LMF_END

// memBandwidth(threads, seconds) -> GB/s of the STREAM triad (the memory-bound benchmarks' ceiling)
Napi::Value bind_memBandwidth(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const int64_t threads = int_arg(info, 0, "memBandwidth", "threads");
    LMF_CHECK(threads >= 1 && threads <= 1024, value, "memBandwidth", "threads must be in [1, 1024], got " << threads);
    return Napi::Number::New(info.Env(), measure_mem_bandwidth_gbs(static_cast<int>(threads), number_arg(info, 1, "memBandwidth", "seconds")));
  });
}

// buildInfo() -> { compiler, cplusplus, napiVersion, cudaArchs }: what built this addon, for benchmark reports
// and backendInfo(); cudaArchs is CMake's CUDA architecture list ("80-real,90"), '' in a CPU-only build.
LMF_BIND(buildInfo) {
  Napi::Object o = Napi::Object::New(info.Env());
#if defined(__clang__)
  o.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", std::string("gcc ") + __VERSION__);
#elif defined(_MSC_VER)
  o.Set("compiler", std::string("msvc ") + std::to_string(_MSC_FULL_VER));
#else
  o.Set("compiler", std::string("unknown"));
#endif
  o.Set("cplusplus", static_cast<double>(__cplusplus));
  o.Set("napiVersion", static_cast<double>(NAPI_VERSION));
#if defined(LMF_WITH_CUDA) && defined(LMF_CUDA_ARCH_LIST)
  o.Set("cudaArchs", std::string(LMF_CUDA_ARCH_LIST));
#else
  o.Set("cudaArchs", std::string());
#endif
  return o;
} LMF_END

}  // namespace lmf::binding
