// The CUDA runtime's surface for the rest of the library. A CPU-only build links cuda_stub.cpp, whose
// entries report that CUDA is unavailable and throw "built without CUDA support".
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

struct CUstream_st;  // CUDA's own stream type: cudaStream_t is CUstream_st*

namespace lmf {

// Streams cross the kernel headers as this opaque pointer, so that those headers need no CUDA include.
using cuda_stream = CUstream_st*;

bool cuda_available();
// Why cuda_available() is false ("" when it is true).
std::string cuda_unavailable_reason();
// "CUDA driver X.Y, runtime X.Y" as the driver and this build's runtime report them ("" without a driver
// or without CUDA support), with a note when the driver is older than the runtime but still compatible.
std::string cuda_versions();

// Why a driver that supports CUDA `driver` cannot run code built with CUDA runtime `runtime` (both as
// cudaDriverGetVersion and CUDART_VERSION write them, 1000 * major + 10 * minor), or "" when it can.
// Within one major version a newer runtime runs on an older driver (CUDA's minor-version compatibility),
// so only a lower major version, or no driver at all (0), is a problem. Pure, so tests check it anywhere.
inline std::string cuda_version_problem(int driver, int runtime) {
  auto ver = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  if (driver <= 0) return "no NVIDIA driver found (libcuda.so.1 could not be loaded)";
  if (driver / 1000 < runtime / 1000)
    return "the NVIDIA driver supports CUDA " + ver(driver) + " but this build uses the CUDA " + ver(runtime) +
           " runtime, which needs a driver for CUDA " + std::to_string(runtime / 1000) + ".x (update the driver, or build with CUDA " +
           std::to_string(driver / 1000) + ")";
  return "";
}
int cuda_device_count();
void* cuda_alloc(size_t bytes);
void cuda_free(void* p, size_t bytes);
// Copies between host and device memory; kind: 0 host->device, 1 device->host, 2 device->device.
void cuda_copy(void* dst, const void* src, size_t bytes, int kind);
// The stream every kernel of the current device launches on (one per device).
cuda_stream cuda_current_stream();
// Waits for every kernel queued on the current device's stream (turning a kernel fault into an Error).
void cuda_synchronize();

// The caching allocator: bytes held in released blocks, kept for reuse; emptying and bounding them.
int64_t cuda_cached_bytes();
void cuda_empty_cache();
void cuda_set_cache_limit(int64_t bytes);

// Device name, compute capability (major * 10 + minor), global memory bytes of the current device;
// which GEMM engine runs ("cublasLt" or the fallback kernel, with the reason).
std::string cuda_device_name();
int cuda_compute_capability();
int64_t cuda_total_memory();
std::string cuda_gemm_engine();
// The engine that the last CUDA GEMM of this thread (matmul_forward_cuda) ran on: "cublasLt", or
// "fallback kernel (why)" when cuBLASLt is not loaded or declined the call; "" before the first GEMM.
std::string cuda_last_gemm_engine();

// Events on the current stream, for timing (benchmarks). An event is an opaque handle.
void* cuda_event_create();
void cuda_event_record(void* event);
float cuda_event_elapsed_ms(void* start, void* end);  // synchronizes on `end`
void cuda_event_destroy(void* event);

}  // namespace lmf
