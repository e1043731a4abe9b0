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
// Bytes allocated on this thread, and the part of them V8 has been told about. V8 is told when the two
// differ by more than kReportBand: reporting every allocation and release made a loop of ops with 64 MB
// outputs move V8's external memory by +-64 MB per call, each step past its limit starting a concurrent
// major GC, whose marking threads took one of the two cores from the kernels (cross-entropy's backward
// at [2048, 8192]: 7.0 ms against 3.5 with concurrent marking off). Memory that stays allocated, or
// grows (tensors dropped without dispose), is still reported, within the band.
thread_local int64_t t_live = 0, t_reported = 0;
constexpr int64_t kReportBand = int64_t(256) << 20;

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
    if (!t_env) return;
    t_live += delta;
    if (t_live > t_reported + kReportBand || t_live < t_reported - kReportBand) {
      int64_t ignored;
      napi_adjust_external_memory(t_env, t_live - t_reported, &ignored);
      t_reported = t_live;
    }
  });
  return exports;
}

}  // namespace lmf::binding

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lmf::binding::init(env, exports); }

NODE_API_MODULE(lmforge, InitAddon)
