// Module entry: the tensor handle class, the ops of core/op_list.h, and the link that reports native
// allocations to V8 so that garbage collection sees the memory that tensors hold.
#include <napi.h>

#include "../runtime/memory.h"
#include "addon_data.h"
#include "registry.h"
#include "tensor_wrap.h"

namespace lmf::binding {
namespace {

thread_local napi_env t_env = nullptr;  // allocations happen on the JS thread that runs the op

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
#define LMF_REGISTER(name) exports.Set(#name, Napi::Function::New(env, bind_##name, #name));
  LMF_OP_LIST(LMF_REGISTER)
#undef LMF_REGISTER
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function ctor = TensorWrap::define(env);
  data->tensor_ctor = Napi::Persistent(ctor);
  exports.Set("TensorHandle", ctor);
  register_ops(env, exports);
  t_env = env;
  set_allocation_observer([](int64_t delta) {
    if (t_env) {
      int64_t ignored;
      napi_adjust_external_memory(t_env, delta, &ignored);
    }
  });
  return exports;
}

}  // namespace lmf::binding

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lmf::binding::init(env, exports); }

NODE_API_MODULE(lmforge, InitAddon)
