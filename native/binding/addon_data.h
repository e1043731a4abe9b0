// Per-environment state of the addon (one per Node main thread or worker).
#pragma once
#include <napi.h>

namespace lmf::binding {

struct AddonData {
  Napi::FunctionReference tensor_ctor;
};

inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace lmf::binding
