// The JS handle of a native tensor. lib/tensor.ts wraps it; dispose() frees the native side at once
// (the view and the handle's own bookkeeping), and the garbage collector's finalizer does it otherwise.
#pragma once
#include <napi.h>

#include "../core/tensor.h"

namespace lmf::binding {

class TensorWrap {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Value wrap(Napi::Env env, Tensor t);
  // The tensor behind a handle argument; throws TypeError for a non-handle and DisposedError for a disposed one.
  static const Tensor& unwrap(const Napi::Value& v, const char* op, const char* what);
};

}  // namespace lmf::binding
