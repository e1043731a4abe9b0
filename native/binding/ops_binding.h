#pragma once
#include <napi.h>

#include "../core/op_list.h"

namespace lmf::binding {

#define LMF_DECLARE(name) Napi::Value bind_##name(const Napi::CallbackInfo& info);
LMF_OP_LIST(LMF_DECLARE)
#undef LMF_DECLARE

void register_ops(Napi::Env env, Napi::Object exports);

}  // namespace lmf::binding
