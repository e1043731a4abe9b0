// The CUDA runtime's surface for the rest of the library. A CPU-only build links cuda_stub.cpp, whose
// entries report that CUDA is unavailable and throw "built without CUDA support".
#pragma once
#include <cstddef>
#include <string>

struct CUstream_st;  // CUDA's own stream type: cudaStream_t is CUstream_st*

namespace lmf {

// Streams cross the kernel headers as this opaque pointer, so that those headers need no CUDA include.
using cuda_stream = CUstream_st*;

bool cuda_available();
// Why cuda_available() is false ("" when it is true).
std::string cuda_unavailable_reason();
int cuda_device_count();
void* cuda_alloc(size_t bytes);
void cuda_free(void* p, size_t bytes);
// Copies between host and device memory; kind: 0 host->device, 1 device->host, 2 device->device.
void cuda_copy(void* dst, const void* src, size_t bytes, int kind);
// The stream every kernel of the current device launches on (one per device).
cuda_stream cuda_current_stream();

}  // namespace lmf
