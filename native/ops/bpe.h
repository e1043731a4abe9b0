// BPE training op: checks the counted words and the initial vocabulary, then runs the merge loop
// (native/kernels/bpe.h). Host memory only: tokenizers are trained on the CPU.
#pragma once
#include <cstdint>
#include <vector>

#include "../kernels/bpe.h"

namespace lmf::ops {

struct BpeTrainInput {
  const int32_t* symbols = nullptr;  // concatenated words, as ids of the initial vocabulary
  int64_t num_symbols = 0;
  const int32_t* word_offsets = nullptr;  // num_words + 1 entries: word w is symbols[off[w], off[w + 1])
  const double* word_counts = nullptr;    // num_words entries, positive integers
  int64_t num_words = 0;
  const uint8_t* vocab_bytes = nullptr;  // concatenated byte strings of the initial vocabulary
  int64_t num_vocab_bytes = 0;
  const int32_t* vocab_offsets = nullptr;  // vocab_count + 1 entries
  int64_t vocab_count = 0;
};

// Merges in order (left, right, result ids). vocab_size: the target size, at least vocab_count;
// min_frequency >= 0; the first num_special entries are special tokens: no word may hold them and no
// merge may produce their bytes.
std::vector<kernels::BpeMerge> bpe_train(const BpeTrainInput& in, int64_t vocab_size, int64_t min_frequency, int64_t num_special);

}  // namespace lmf::ops
