// Unigram (SentencePiece) training ops: check the words and pieces, then run a lattice pass
// (native/kernels/unigram.h). Host memory only: tokenizers are trained on the CPU.
#pragma once
#include <cstdint>
#include <vector>

#include "../kernels/unigram.h"

namespace lmf::ops {

// Flat arrays as they come from JS: sequence k is chars[offsets[k], offsets[k + 1]).
struct UnigramSeqs {
  const int32_t* chars = nullptr;  // code points
  int64_t num_chars = 0;
  const int32_t* offsets = nullptr;
  int64_t num_offsets = 0;  // sequences + 1
};

struct UnigramEStepResult {
  std::vector<double> expected, viterbi, cover;
  kernels::UnigramEStepStats stats;
};

// words: non-empty, counts finite and > 0 (num_counts == words); pieces: non-empty, distinct, scores finite.
UnigramEStepResult unigram_estep(const UnigramSeqs& words, const double* counts, int64_t num_counts, const UnigramSeqs& pieces,
                                 const double* scores, int64_t num_scores);

// Seed substrings (kernels::unigram_substrings_cpu): max_len >= 2, min_count > 0, max_results >= 0.
std::vector<kernels::UnigramSubstring> unigram_substrings(const UnigramSeqs& words, const double* counts, int64_t num_counts,
                                                          int64_t max_len, double min_count, int64_t max_results);

struct UnigramAlternativesResult {
  std::vector<int32_t> status;
  std::vector<int64_t> offsets;
  std::vector<int32_t> ids;
};

UnigramAlternativesResult unigram_alternatives(const UnigramSeqs& pieces, const double* scores, int64_t num_scores);

}  // namespace lmf::ops
