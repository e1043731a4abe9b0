// Validation for the BPE trainer: every index and count is checked here, so the kernel can trust them.
// Messages name the arguments as JavaScript passes them to native.bpeTrain (camelCase).
#include "ops.h"

#include <cmath>
#include <string>
#include <unordered_set>

#include "../core/error.h"

namespace lmf::ops {

std::vector<kernels::BpeMerge> bpe_train(const BpeTrainInput& in, int64_t vocab_size, int64_t min_frequency, int64_t num_special) {
  const char* op = "bpeTrain";
  LMF_CHECK(in.num_words >= 0 && in.num_symbols >= 0 && in.vocab_count >= 0 && in.num_vocab_bytes >= 0, value, op,
            "negative array sizes (" << in.num_words << " words, " << in.num_symbols << " symbols, " << in.vocab_count << " vocabulary entries)");
  LMF_CHECK(num_special >= 0 && num_special <= in.vocab_count, value, op,
            "numSpecial " << num_special << " is outside [0, " << in.vocab_count << "]");
  LMF_CHECK(vocab_size >= in.vocab_count, value, op,
            "vocabSize " << vocab_size << " is smaller than the initial vocabulary (" << in.vocab_count << " entries)");
  LMF_CHECK(vocab_size <= INT32_MAX, value, op, "vocabSize " << vocab_size << " does not fit 32-bit ids");
  LMF_CHECK(min_frequency >= 0, value, op, "minFrequency must be >= 0, got " << min_frequency);

  std::vector<int64_t> voff(static_cast<size_t>(in.vocab_count) + 1);
  LMF_CHECK(in.vocab_offsets[0] == 0, value, op, "vocabOffsets[0] must be 0, got " << in.vocab_offsets[0]);
  std::unordered_set<std::string> seen;
  for (int64_t v = 0; v < in.vocab_count; ++v) {
    const int64_t a = in.vocab_offsets[v], b = in.vocab_offsets[v + 1];
    LMF_CHECK(b >= a && b <= in.num_vocab_bytes, value, op,
              "vocabOffsets[" << v + 1 << "] = " << b << " is outside [" << a << ", " << in.num_vocab_bytes << "]");
    LMF_CHECK(b > a, value, op, "vocabulary entry " << v << " is empty");
    const bool fresh = seen.emplace(reinterpret_cast<const char*>(in.vocab_bytes + a), static_cast<size_t>(b - a)).second;
    LMF_CHECK(fresh, value, op, "vocabulary entry " << v << " repeats the bytes of an earlier entry");
    voff[v] = a;
  }
  voff[in.vocab_count] = in.vocab_offsets[in.vocab_count];

  std::vector<int64_t> woff(static_cast<size_t>(in.num_words) + 1), counts(static_cast<size_t>(in.num_words));
  LMF_CHECK(in.word_offsets[0] == 0, value, op, "wordOffsets[0] must be 0, got " << in.word_offsets[0]);
  for (int64_t w = 0; w < in.num_words; ++w) {
    const int64_t a = in.word_offsets[w], b = in.word_offsets[w + 1];
    LMF_CHECK(b > a && b <= in.num_symbols, value, op,
              "wordOffsets[" << w + 1 << "] = " << b << " must be in (" << a << ", " << in.num_symbols << "] (no empty words)");
    const double c = in.word_counts[w];
    LMF_CHECK(std::isfinite(c) && c >= 1 && std::floor(c) == c && c <= 9007199254740991.0, value, op,
              "wordCounts[" << w << "] must be a positive integer, got " << c);
    woff[w] = a;
    counts[w] = static_cast<int64_t>(c);
  }
  woff[in.num_words] = in.num_words > 0 ? in.word_offsets[in.num_words] : 0;
  LMF_CHECK(woff[in.num_words] == in.num_symbols, value, op,
            "the words hold " << woff[in.num_words] << " symbols but " << in.num_symbols << " were given");
  for (int64_t i = 0; i < in.num_symbols; ++i) {
    const int32_t s = in.symbols[i];
    LMF_CHECK(s >= num_special && s < in.vocab_count, value, op,
              "symbols[" << i << "] = " << s << " is outside the non-special initial vocabulary [" << num_special << ", "
                         << in.vocab_count << ")");
  }

  kernels::BpeTrainParams p;
  p.vocab_size = vocab_size;
  p.min_frequency = min_frequency;
  p.num_banned = num_special;
  return kernels::bpe_train_cpu(in.symbols, woff.data(), counts.data(), in.num_words, in.vocab_bytes, voff.data(),
                                in.vocab_count, p);
}

}  // namespace lmf::ops
