// Binding of the Unigram training passes (ops/unigram.h): reads typed arrays, calls the op under the
// guard, returns typed arrays. No math.
#include <napi.h>

#include <cstdint>
#include <cstring>

#include "../ops/unigram.h"
#include "args.h"
#include "guard.h"
#include "ops_binding.h"

namespace lmf::binding {
namespace {

ops::UnigramSeqs seqs_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* chars_name,
                          const char* offsets_name) {
  ops::UnigramSeqs s;
  s.chars = typed_array_arg<int32_t>(info, i, napi_int32_array, "Int32Array", op, chars_name, &s.num_chars);
  s.offsets = typed_array_arg<int32_t>(info, i + 1, napi_int32_array, "Int32Array", op, offsets_name, &s.num_offsets);
  return s;
}

Napi::Float64Array to_f64(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
  return a;
}

}  // namespace

// unigramEStep(wordChars, wordOffsets, wordCounts, pieceChars, pieceOffsets, scores)
//   -> { expected, viterbi, cover: Float64Array, logLikelihood, viterbiTokens, wordCount, unsegmentable }
Napi::Value bind_unigramEStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "unigramEStep";
    const ops::UnigramSeqs words = seqs_arg(info, 0, op, "wordChars", "wordOffsets");
    int64_t n_counts = 0, n_scores = 0;
    const double* counts = typed_array_arg<double>(info, 2, napi_float64_array, "Float64Array", op, "wordCounts", &n_counts);
    const ops::UnigramSeqs pieces = seqs_arg(info, 3, op, "pieceChars", "pieceOffsets");
    const double* scores = typed_array_arg<double>(info, 5, napi_float64_array, "Float64Array", op, "scores", &n_scores);
    const ops::UnigramEStepResult r = ops::unigram_estep(words, counts, n_counts, pieces, scores, n_scores);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("expected", to_f64(env, r.expected));
    o.Set("viterbi", to_f64(env, r.viterbi));
    o.Set("cover", to_f64(env, r.cover));
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
    const double* counts = typed_array_arg<double>(info, 2, napi_float64_array, "Float64Array", op, "wordCounts", &n_counts);
    const std::vector<kernels::UnigramSubstring> r =
        ops::unigram_substrings(words, counts, n_counts, int_arg(info, 3, op, "maxLength"), number_arg(info, 4, op, "minCount"),
                                int_arg(info, 5, op, "maxResults"));
    Napi::Env env = info.Env();
    Napi::Int32Array word = Napi::Int32Array::New(env, r.size());
    Napi::Int32Array start = Napi::Int32Array::New(env, r.size());
    Napi::Int32Array length = Napi::Int32Array::New(env, r.size());
    Napi::Float64Array count = Napi::Float64Array::New(env, r.size());
    for (size_t k = 0; k < r.size(); ++k) {
      word[k] = r[k].word;
      start[k] = r[k].start;
      length[k] = r[k].length;
      count[k] = r[k].count;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("word", word);
    o.Set("start", start);
    o.Set("length", length);
    o.Set("count", count);
    return o;
  });
}

// unigramAlternatives(pieceChars, pieceOffsets, scores) -> { status: Int32Array, offsets: Int32Array, ids: Int32Array }
Napi::Value bind_unigramAlternatives(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* op = "unigramAlternatives";
    const ops::UnigramSeqs pieces = seqs_arg(info, 0, op, "pieceChars", "pieceOffsets");
    int64_t n_scores = 0;
    const double* scores = typed_array_arg<double>(info, 2, napi_float64_array, "Float64Array", op, "scores", &n_scores);
    const ops::UnigramAlternativesResult r = ops::unigram_alternatives(pieces, scores, n_scores);
    Napi::Env env = info.Env();
    LMF_CHECK(r.offsets.back() <= INT32_MAX, value, op, "too many alternatives (" << r.offsets.back() << ") for 32-bit offsets");
    Napi::Int32Array status = Napi::Int32Array::New(env, r.status.size());
    Napi::Int32Array offsets = Napi::Int32Array::New(env, r.offsets.size());
    Napi::Int32Array ids = Napi::Int32Array::New(env, r.ids.size());
    if (!r.status.empty()) std::memcpy(status.Data(), r.status.data(), r.status.size() * sizeof(int32_t));
    for (size_t k = 0; k < r.offsets.size(); ++k) offsets[k] = static_cast<int32_t>(r.offsets[k]);
    if (!r.ids.empty()) std::memcpy(ids.Data(), r.ids.data(), r.ids.size() * sizeof(int32_t));
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", status);
    o.Set("offsets", offsets);
    o.Set("ids", ids);
    return o;
  });
}

}  // namespace lmf::binding
