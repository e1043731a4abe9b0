// The CUDA runtime's surface for the rest of the library. A CPU-only build links cuda_stub.cpp, whose
// entries report that CUDA is unavailable and throw "built without CUDA support".
#pragma once
#include <cstddef>
#include <string>

namespace lmf {

bool cuda_available();
// Why cuda_available() is false ("" when it is true).
std::string cuda_unavailable_reason();
int cuda_device_count();
void* cuda_alloc(size_t bytes);
void cuda_free(void* p, size_t bytes);
// Copies between host and device memory; kind: 0 host->device, 1 device->host, 2 device->device.
void cuda_copy(void* dst, const void* src, size_t bytes, int kind);

}  // namespace lmf
