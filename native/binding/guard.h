// Runs one op and turns every C++ exception into a JS error: lmf::Error keeps its kind (the JS class
// name lib/errors.ts maps it to), its op and its source location. Nothing escapes to abort the process.
#pragma once
#include <napi.h>

#include <new>

#include "../core/error.h"

namespace lmf::binding {

inline Napi::Error make_error(Napi::Env env, const char* kind, const std::string& op, const std::string& msg,
                              const std::string& where) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("kind", Napi::String::New(env, kind));
  e.Set("op", Napi::String::New(env, op));
  if (!where.empty()) e.Set("where", Napi::String::New(env, where));
  return e;
}

template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, F&& f) {
  Napi::Env env = info.Env();
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;  // already a JS error (C++ exceptions mode of node-addon-api)
  } catch (const lmf::Error& e) {
    throw make_error(env, error_kind_name(e.kind()), e.op(), e.what(), e.where_str());
  } catch (const std::bad_alloc&) {
    throw make_error(env, "OutOfMemoryError", "alloc", "out of memory", "");
  } catch (const std::exception& e) {
    throw make_error(env, "NativeError", "native", e.what(), "");
  }
}

}  // namespace lmf::binding
