#pragma once
#include <cstdint>

namespace lmf {

enum class Device : int32_t { cpu = 0, cuda = 1 };
inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

}  // namespace lmf
