// Compiled instead of the CUDA runtime when the addon is built without nvcc (binding.gyp always).
#include "../core/error.h"
#include "cuda_runtime.h"

namespace lmf {

static const char* kNoCuda = "built without CUDA support (install @lmforge/cuda-linux-x64, or build with npm run build:cmake on a machine with nvcc)";

bool cuda_available() { return false; }
std::string cuda_unavailable_reason() { return kNoCuda; }
std::string cuda_versions() { return ""; }
int cuda_device_count() { return 0; }
void* cuda_alloc(size_t) { LMF_THROW(device, "cuda", kNoCuda); }
void cuda_free(void*, size_t) {}
void cuda_copy(void*, const void*, size_t, int) { LMF_THROW(device, "cuda", kNoCuda); }
cuda_stream cuda_current_stream() { LMF_THROW(device, "cuda", kNoCuda); }
void cuda_synchronize() {}
int64_t cuda_cached_bytes() { return 0; }
void cuda_empty_cache() {}
void cuda_set_cache_limit(int64_t) {}
std::string cuda_device_name() { return ""; }
int cuda_compute_capability() { return 0; }
int64_t cuda_total_memory() { return 0; }
std::string cuda_gemm_engine() { return ""; }
std::string cuda_last_gemm_engine() { return ""; }
void* cuda_event_create() { LMF_THROW(device, "cuda", kNoCuda); }
void cuda_event_record(void*) { LMF_THROW(device, "cuda", kNoCuda); }
float cuda_event_elapsed_ms(void*, void*) { LMF_THROW(device, "cuda", kNoCuda); }
void cuda_event_destroy(void*) {}

}  // namespace lmf
