// Binding of the Unigram training passes (native/ops/ops.h): reads typed arrays, calls the op under the
// guard, returns typed arrays. No math.
#include <napi.h>

#include <cstdint>
#include <vector>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {
namespace {

ops::UnigramSeqs seqs_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* chars_name,
                          const char* offsets_name) {
  ops::UnigramSeqs s;
  s.chars = typed_array_arg<int32_t>(info, i, napi_int32_array, "Int32Array", op, chars_name, &s.num_chars);
  s.offsets = typed_array_arg<int32_t>(info, i + 1, napi_int32_array, "Int32Array", op, offsets_name, &s.num_offsets);
  return s;
}

const double* f64_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, int64_t* length) {
  return typed_array_arg<double>(info, i, napi_float64_array, "Float64Array", op, name, length);
}

// A JS typed array (Napi::Int32Array, Napi::Float64Array) of n values, the k-th being get(k):
// the results are vectors of numbers or of structs, and each becomes columns of one element type.
template <typename Array, typename Get>
Array column(Napi::Env env, size_t n, Get get) {
  Array a = Array::New(env, n);
  for (size_t k = 0; k < n; ++k) a[k] = get(k);
  return a;
}

template <typename Array, typename T>
Array copy_of(Napi::Env env, const std::vector<T>& v) {
  return column<Array>(env, v.size(), [&](size_t k) { return v[k]; });
}

}  // namespace

// unigramEStep(wordChars, wordOffsets, wordCounts, pieceChars, pieceOffsets, scores)
//   -> { expected, viterbi, cover: Float64Array, logLikelihood, viterbiTokens, wordCount, unsegmentable }
Napi::Value bind_unigramEStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "unigramEStep";
    const ops::UnigramSeqs words = seqs_arg(info, 0, op, "wordChars", "wordOffsets");
    int64_t n_counts = 0, n_scores = 0;
    const double* counts = f64_arg(info, 2, op, "wordCounts", &n_counts);
    const ops::UnigramSeqs pieces = seqs_arg(info, 3, op, "pieceChars", "pieceOffsets");
    const double* scores = f64_arg(info, 5, op, "scores", &n_scores);
    const ops::UnigramEStepResult r = ops::unigram_estep(words, counts, n_counts, pieces, scores, n_scores);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("expected", copy_of<Napi::Float64Array>(env, r.expected));
    o.Set("viterbi", copy_of<Napi::Float64Array>(env, r.viterbi));
    o.Set("cover", copy_of<Napi::Float64Array>(env, r.cover));
    o.Set("logLikelihood", r.stats.log_likelihood);
    o.Set("viterbiTokens", r.stats.viterbi_tokens);
    o.Set("wordCount", r.stats.word_count);
    o.Set("unsegmentable", static_cast<double>(r.stats.unsegmentable));
    return o;
  });
}

// unigramSubstrings(wordChars, wordOffsets, wordCounts, maxLength, minCount, maxResults)
//   -> { word, start, length: Int32Array, count: Float64Array }
Napi::Value bind_unigramSubstrings(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "unigramSubstrings";
    const ops::UnigramSeqs words = seqs_arg(info, 0, op, "wordChars", "wordOffsets");
    int64_t n_counts = 0;
    const double* counts = f64_arg(info, 2, op, "wordCounts", &n_counts);
    const std::vector<kernels::UnigramSubstring> r =
        ops::unigram_substrings(words, counts, n_counts, int_arg(info, 3, op, "maxLength"), number_arg(info, 4, op, "minCount"),
                                int_arg(info, 5, op, "maxResults"));
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("word", column<Napi::Int32Array>(env, r.size(), [&](size_t k) { return r[k].word; }));
    o.Set("start", column<Napi::Int32Array>(env, r.size(), [&](size_t k) { return r[k].start; }));
    o.Set("length", column<Napi::Int32Array>(env, r.size(), [&](size_t k) { return r[k].length; }));
    o.Set("count", column<Napi::Float64Array>(env, r.size(), [&](size_t k) { return r[k].count; }));
    return o;
  });
}

// unigramAlternatives(pieceChars, pieceOffsets, scores) -> { status: Int32Array, offsets: Int32Array, ids: Int32Array }
Napi::Value bind_unigramAlternatives(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "unigramAlternatives";
    const ops::UnigramSeqs pieces = seqs_arg(info, 0, op, "pieceChars", "pieceOffsets");
    int64_t n_scores = 0;
    const double* scores = f64_arg(info, 2, op, "scores", &n_scores);
    const ops::UnigramAlternativesResult r = ops::unigram_alternatives(pieces, scores, n_scores);
    Napi::Env env = info.Env();
    LMF_CHECK(r.offsets.back() <= INT32_MAX, value, op, "too many alternatives (" << r.offsets.back() << ") for 32-bit offsets");
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", copy_of<Napi::Int32Array>(env, r.status));
    o.Set("offsets", column<Napi::Int32Array>(env, r.offsets.size(), [&](size_t k) { return static_cast<int32_t>(r.offsets[k]); }));
    o.Set("ids", copy_of<Napi::Int32Array>(env, r.ids));
    return o;
  });
}

}  // namespace lmf::binding
