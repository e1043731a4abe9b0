// One function per entry of core/op_list.h: read arguments, call one op under the guard, wrap the result.
#include <napi.h>

#include <cstring>

#include "../core/op_list.h"
#include "../kernels/matmul.h"
#include "../ops/ops.h"
#include "../runtime/cpu_features.h"
#include "../runtime/cpu_peak.h"
#include "../runtime/cuda_runtime.h"
#include "../runtime/memory.h"
#include "../runtime/thread_pool.h"
#include "args.h"
#include "guard.h"
#include "ops_binding.h"

namespace lmf::binding {
namespace {

using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::UnaryOp;

Napi::Value wrap(const Napi::CallbackInfo& info, Tensor t) { return TensorWrap::wrap(info.Env(), std::move(t)); }

template <typename E, typename NameFn>
E enum_arg(const Napi::CallbackInfo& info, size_t i, const char* op, int count, NameFn name) {
  const std::string s = string_arg(info, i, op, "op");
  for (int k = 0; k < count; ++k)
    if (s == name(static_cast<E>(k))) return static_cast<E>(k);
  LMF_THROW(value, op, "unknown op '" << s << "'");
}

#define LMF_COUNT(name) +1
constexpr int kUnaryCount = 0 LMF_UNARY_OPS(LMF_COUNT);
constexpr int kBinaryCount = 0 LMF_BINARY_OPS(LMF_COUNT);
#undef LMF_COUNT

}  // namespace

#define LMF_BIND(name) Napi::Value bind_##name(const Napi::CallbackInfo& info) { return guard(info, [&]() -> Napi::Value
#define LMF_END ); }

// full(shape, dtype, value, device)
LMF_BIND(full) {
  return wrap(info, ops::full(shape_arg(info, 0, "full"), dtype_arg(info, 1, "full"), number_arg(info, 2, "full", "value"),
                              device_arg(info, 3, "full")));
} LMF_END

// arange(start, stop, step, dtype, device)
LMF_BIND(arange) {
  const char* op = "arange";
  return wrap(info, ops::arange(number_arg(info, 0, op, "start"), number_arg(info, 1, op, "stop"),
                                number_arg(info, 2, op, "step"), dtype_arg(info, 3, op), device_arg(info, 4, op)));
} LMF_END

// randUniform(shape, dtype, seed, offset, low, high, device); seed and offset are non-negative integers
LMF_BIND(randUniform) {
  const char* op = "rand";
  const int64_t seed = int_arg(info, 2, op, "seed"), off = int_arg(info, 3, op, "offset");
  LMF_CHECK(seed >= 0 && off >= 0, value, op, "seed and offset must be non-negative");
  return wrap(info, ops::rand_uniform(shape_arg(info, 0, op), dtype_arg(info, 1, op), static_cast<uint64_t>(seed),
                                      static_cast<uint64_t>(off), number_arg(info, 4, op, "low"),
                                      number_arg(info, 5, op, "high"), device_arg(info, 6, op)));
} LMF_END

LMF_BIND(randNormal) {
  const char* op = "randn";
  const int64_t seed = int_arg(info, 2, op, "seed"), off = int_arg(info, 3, op, "offset");
  LMF_CHECK(seed >= 0 && off >= 0, value, op, "seed and offset must be non-negative");
  return wrap(info, ops::rand_normal(shape_arg(info, 0, op), dtype_arg(info, 1, op), static_cast<uint64_t>(seed),
                                     static_cast<uint64_t>(off), number_arg(info, 4, op, "mean"),
                                     number_arg(info, 5, op, "std"), device_arg(info, 6, op)));
} LMF_END

// fromHost(arrayBufferView, shape, dtype, device)
LMF_BIND(fromHost) {
  const char* op = "tensor";
  LMF_CHECK(info[0].IsTypedArray() || info[0].IsDataView(), type, op, "data must be a typed array");
  Napi::ArrayBuffer ab;
  size_t off = 0, len = 0;
  if (info[0].IsTypedArray()) {
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    ab = ta.ArrayBuffer();
    off = ta.ByteOffset();
    len = ta.ByteLength();
  } else {
    Napi::DataView dv = info[0].As<Napi::DataView>();
    ab = dv.ArrayBuffer();
    off = dv.ByteOffset();
    len = dv.ByteLength();
  }
  const char* base = ab.Data() ? static_cast<const char*>(ab.Data()) + off : nullptr;
  return wrap(info, ops::from_host(base, len, shape_arg(info, 1, op), dtype_arg(info, 2, op), device_arg(info, 3, op)));
} LMF_END

LMF_BIND(reshape) {
  return wrap(info, ops::reshape(tensor_arg(info, 0, "reshape", "input"), ints_arg(info, 1, "reshape", "shape")));
} LMF_END

LMF_BIND(permute) {
  return wrap(info, ops::permute(tensor_arg(info, 0, "permute", "input"), ints_arg(info, 1, "permute", "dims")));
} LMF_END

LMF_BIND(transpose) {
  const char* op = "transpose";
  return wrap(info, ops::transpose(tensor_arg(info, 0, op, "input"), int_arg(info, 1, op, "dim0"), int_arg(info, 2, op, "dim1")));
} LMF_END

// slice(t, dim, start, end, step)
LMF_BIND(slice) {
  const char* op = "slice";
  return wrap(info, ops::slice(tensor_arg(info, 0, op, "input"), int_arg(info, 1, op, "dim"), int_arg(info, 2, op, "start"),
                               int_arg(info, 3, op, "end"), int_arg(info, 4, op, "step")));
} LMF_END

LMF_BIND(expand) {
  return wrap(info, ops::expand(tensor_arg(info, 0, "expand", "input"), shape_arg(info, 1, "expand")));
} LMF_END

LMF_BIND(contiguous) { return wrap(info, ops::contiguous(tensor_arg(info, 0, "contiguous", "input"))); } LMF_END

LMF_BIND(astype) {
  return wrap(info, ops::astype(tensor_arg(info, 0, "astype", "input"), dtype_arg(info, 1, "astype")));
} LMF_END

LMF_BIND(to) { return wrap(info, ops::to_device(tensor_arg(info, 0, "to", "input"), device_arg(info, 1, "to"))); } LMF_END

// copyInto(dst, src): in-place copy with broadcasting and dtype conversion
LMF_BIND(copyInto) {
  ops::copy_into(tensor_arg(info, 0, "copy", "destination"), tensor_arg(info, 1, "copy", "source"));
  return info.Env().Undefined();
} LMF_END

// unary(opName, t)
LMF_BIND(unary) {
  const UnaryOp op = enum_arg<UnaryOp>(info, 0, "unary", kUnaryCount, ops::unary_name);
  return wrap(info, ops::unary(tensor_arg(info, 1, ops::unary_name(op), "input"), op));
} LMF_END

// binary(opName, a, b)
LMF_BIND(binary) {
  const BinaryOp op = enum_arg<BinaryOp>(info, 0, "binary", kBinaryCount, ops::binary_name);
  const char* n = ops::binary_name(op);
  return wrap(info, ops::binary(tensor_arg(info, 1, n, "a"), tensor_arg(info, 2, n, "b"), op));
} LMF_END

// binaryScalar(opName, t, scalar, scalarFirst)
LMF_BIND(binaryScalar) {
  const BinaryOp op = enum_arg<BinaryOp>(info, 0, "binary", kBinaryCount, ops::binary_name);
  const char* n = ops::binary_name(op);
  return wrap(info, ops::binary_scalar(tensor_arg(info, 1, n, "input"), number_arg(info, 2, n, "scalar"), op,
                                       bool_arg(info, 3, n, "scalarFirst")));
} LMF_END

// reduce(opName, t, dims, keepdim)
LMF_BIND(reduce) {
  const ReduceOp op = enum_arg<ReduceOp>(info, 0, "reduce", 6, ops::reduce_name);
  const char* n = ops::reduce_name(op);
  return wrap(info, ops::reduce(tensor_arg(info, 1, n, "input"), ints_arg(info, 2, n, "dims"), bool_arg(info, 3, n, "keepdim"), op));
} LMF_END

// matmul(a, b, bias?, residual?)
LMF_BIND(matmul) {
  const char* op = "matmul";
  return wrap(info, ops::matmul(tensor_arg(info, 0, op, "a"), tensor_arg(info, 1, op, "b"),
                                optional_tensor_arg(info, 2, op, "bias"), optional_tensor_arg(info, 3, op, "residual")));
} LMF_END

// softmax(t, dim, log)
LMF_BIND(softmax) {
  const bool log = bool_arg(info, 2, "softmax", "log");
  const char* op = log ? "logSoftmax" : "softmax";
  return wrap(info, ops::softmax(tensor_arg(info, 0, op, "input"), int_arg(info, 1, op, "dim"), log));
} LMF_END

LMF_BIND(embedding) {
  return wrap(info, ops::embedding(tensor_arg(info, 0, "embedding", "weight"), tensor_arg(info, 1, "embedding", "indices")));
} LMF_END

// crossEntropy(logits, targets, ignoreIndex, reduction, zLoss?) -> [loss, lse, validCount]
LMF_BIND(crossEntropy) {
  const char* op = "crossEntropy";
  const double z = info.Length() > 4 && !info[4].IsUndefined() ? number_arg(info, 4, op, "zLoss") : 0.0;
  ops::CrossEntropyResult r = ops::cross_entropy(tensor_arg(info, 0, op, "logits"), tensor_arg(info, 1, op, "targets"),
                                                 int_arg(info, 2, op, "ignoreIndex"), string_arg(info, 3, op, "reduction"), z);
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, wrap(info, std::move(r.loss)));
  out.Set(1u, wrap(info, std::move(r.lse)));
  out.Set(2u, Napi::Number::New(info.Env(), static_cast<double>(r.valid)));
  return out;
} LMF_END

// crossEntropyBackward(logits, targets, lse, rowGrad, ignoreIndex, zLoss?) -> dlogits
LMF_BIND(crossEntropyBackward) {
  const char* op = "crossEntropy backward";
  const double z = info.Length() > 5 && !info[5].IsUndefined() ? number_arg(info, 5, op, "zLoss") : 0.0;
  return wrap(info, ops::cross_entropy_backward(tensor_arg(info, 0, op, "logits"), tensor_arg(info, 1, op, "targets"),
                                                tensor_arg(info, 2, op, "lse"), tensor_arg(info, 3, op, "row gradient"),
                                                int_arg(info, 4, op, "ignoreIndex"), z));
} LMF_END

// embeddingBackward(gradOut, indices, numEmbeddings) -> dweight
LMF_BIND(embeddingBackward) {
  const char* op = "embedding backward";
  return wrap(info, ops::embedding_backward(tensor_arg(info, 0, op, "gradient"), tensor_arg(info, 1, op, "indices"),
                                            int_arg(info, 2, op, "numEmbeddings")));
} LMF_END

// where(cond, a, b)
LMF_BIND(where) {
  return wrap(info, ops::where(tensor_arg(info, 0, "where", "cond"), tensor_arg(info, 1, "where", "a"), tensor_arg(info, 2, "where", "b")));
} LMF_END

LMF_BIND(numThreads) { return Napi::Number::New(info.Env(), num_threads()); } LMF_END

LMF_BIND(setNumThreads) {
  set_num_threads(static_cast<int>(std::max<int64_t>(INT32_MIN, std::min<int64_t>(INT32_MAX, int_arg(info, 0, "setNumThreads", "n")))));
  return info.Env().Undefined();
} LMF_END

// memoryStats(device) -> { buffers, bytes, peakBytes, cachedBytes }
LMF_BIND(memoryStats) {
  const MemoryStats s = memory_stats(device_arg(info, 0, "memory"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("buffers", static_cast<double>(s.buffers));
  o.Set("bytes", static_cast<double>(s.bytes));
  o.Set("peakBytes", static_cast<double>(s.peak_bytes));
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  return o;
} LMF_END

LMF_BIND(emptyCache) {
  empty_cache(device_arg(info, 0, "emptyCache"));
  return info.Env().Undefined();
} LMF_END

// setCacheLimit(device, bytes)
LMF_BIND(setCacheLimit) {
  set_cache_limit(device_arg(info, 0, "setCacheLimit"), int_arg(info, 1, "setCacheLimit", "bytes"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(resetPeakMemory) {
  reset_peak_bytes(device_arg(info, 0, "resetPeakMemory"));
  return info.Env().Undefined();
} LMF_END

LMF_BIND(cpuFeatures) {
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("avx2", f.avx2);
  o.Set("fma", f.fma);
  o.Set("f16c", f.f16c);
  o.Set("avx512f", f.avx512f);
  o.Set("avx512bw", f.avx512bw);
  o.Set("avx512vl", f.avx512vl);
  o.Set("avx512dq", f.avx512dq);
  o.Set("avx512bf16", f.avx512bf16);
  o.Set("neon", f.neon);
  o.Set("tier", cpu_tier());
  return o;
} LMF_END

LMF_BIND(setCpuTier) {
  set_cpu_tier(string_arg(info, 0, "setCpuTier", "tier").c_str());
  return info.Env().Undefined();
} LMF_END

// cudaAvailable() -> { available, reason, devices, and with a device: name, computeCapability, totalMemory, gemm }
LMF_BIND(cudaAvailable) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("available", cuda_available());
  o.Set("reason", cuda_unavailable_reason());
  o.Set("devices", cuda_device_count());
  if (cuda_available()) {  // the current device, and which GEMM engine runs on it
    o.Set("name", cuda_device_name());
    o.Set("computeCapability", cuda_compute_capability());
    o.Set("totalMemory", static_cast<double>(cuda_total_memory()));
    o.Set("gemm", cuda_gemm_engine());
  }
  return o;
} LMF_END

LMF_BIND(matmulKernelName) {
  return Napi::String::New(info.Env(), kernels::matmul_kernel_name(dtype_arg(info, 0, "matmulKernelName")));
} LMF_END

// fmaPeak(threads, seconds) -> GFLOP/s of a register-only FMA loop (the benchmarks' ceiling)
LMF_BIND(fmaPeak) {
  const int64_t threads = int_arg(info, 0, "fmaPeak", "threads");
  LMF_CHECK(threads >= 1 && threads <= 1024, value, "fmaPeak", "threads must be in [1, 1024], got " << threads);
  return Napi::Number::New(info.Env(), measure_fma_peak_gflops(static_cast<int>(threads), number_arg(info, 1, "fmaPeak", "seconds")));
} LMF_END

// buildInfo() -> { compiler, cplusplus, napiVersion }: what built this addon, for benchmark reports
LMF_BIND(buildInfo) {
  Napi::Object o = Napi::Object::New(info.Env());
#if defined(__clang__)
  o.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", std::string("gcc ") + __VERSION__);
#elif defined(_MSC_VER)
  o.Set("compiler", std::string("msvc ") + std::to_string(_MSC_FULL_VER));
#else
  o.Set("compiler", std::string("unknown"));
#endif
  o.Set("cplusplus", static_cast<double>(__cplusplus));
  o.Set("napiVersion", static_cast<double>(NAPI_VERSION));
  return o;
} LMF_END

void register_ops(Napi::Env env, Napi::Object exports) {
#define LMF_REGISTER(name) exports.Set(#name, Napi::Function::New(env, bind_##name, #name));
  LMF_OP_LIST(LMF_REGISTER)
#undef LMF_REGISTER
}

}  // namespace lmf::binding
