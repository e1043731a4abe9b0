// Binding of the BPE trainer (native/ops/ops.h): reads typed arrays, calls the op under the guard, returns the
// merges as one Int32Array of (left, right, result) triples. No math.
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {
// bpeTrain(symbols Int32Array, wordOffsets Int32Array, wordCounts Float64Array, vocabBytes Uint8Array,
//          vocabOffsets Int32Array, vocabSize, minFrequency, numSpecial) -> Int32Array [left, right, result]*
Napi::Value bind_bpeTrain(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "bpeTrain";
    ops::BpeTrainInput in;
    int64_t n_off = 0, n_counts = 0, n_voff = 0;
    in.symbols = typed_array_arg<int32_t>(info, 0, napi_int32_array, "Int32Array", op, "symbols", &in.num_symbols);
    in.word_offsets = typed_array_arg<int32_t>(info, 1, napi_int32_array, "Int32Array", op, "wordOffsets", &n_off);
    in.word_counts = typed_array_arg<double>(info, 2, napi_float64_array, "Float64Array", op, "wordCounts", &n_counts);
    in.vocab_bytes = typed_array_arg<uint8_t>(info, 3, napi_uint8_array, "Uint8Array", op, "vocabBytes", &in.num_vocab_bytes);
    in.vocab_offsets = typed_array_arg<int32_t>(info, 4, napi_int32_array, "Int32Array", op, "vocabOffsets", &n_voff);
    LMF_CHECK(n_off >= 1 && n_counts == n_off - 1, shape, op,
              "wordOffsets needs one entry more than wordCounts (" << n_off << " vs " << n_counts << ")");
    LMF_CHECK(n_voff >= 1, shape, op, "vocabOffsets needs at least one entry");
    in.num_words = n_counts;
    in.vocab_count = n_voff - 1;
    const std::vector<kernels::BpeMerge> merges =
        ops::bpe_train(in, int_arg(info, 5, op, "vocabSize"), int_arg(info, 6, op, "minFrequency"), int_arg(info, 7, op, "numSpecial"));
    Napi::Int32Array out = Napi::Int32Array::New(info.Env(), merges.size() * 3);
    for (size_t k = 0; k < merges.size(); ++k) {
      out[3 * k] = merges[k].left;
      out[3 * k + 1] = merges[k].right;
      out[3 * k + 2] = merges[k].result;
    }
    return out;
  });
}

}  // namespace lmf::binding
