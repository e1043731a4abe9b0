// Byte-level BPE training: the merge loop over counted words. The caller (lib/data/bpe_train.ts) does the
// pre-tokenization and the word counting; this loop is the hot part, so it lives here.
//
// Pair counts are kept incrementally, never recounted: each merge updates only the pairs next to the
// merged occurrences, in the words that held the merged pair (an index pair -> words). The best pair
// comes from a max-heap with lazy invalidation: an entry whose count is stale is re-pushed with the
// current count (or dropped) when it reaches the top.
//
// Tie-breaking (deterministic): the highest count wins; among equal counts the pair with the smaller
// left id, then the smaller right id. Ids are those of the vocabulary (special tokens, then the 256
// bytes by value, then merged tokens in creation order), so ties go to "older" and lower-byte symbols.
//
// CPU only (no CUDA twin: it is a serial, pointer-chasing loop that runs once per tokenizer).
#pragma once
#include <cstdint>
#include <vector>

namespace lmf::kernels {

struct BpeTrainParams {
  int64_t vocab_size = 0;     // stop when the vocabulary (initial entries + new tokens) holds this many
  int64_t min_frequency = 0;  // stop when the best pair occurs fewer times than this (weighted by word counts)
  int64_t num_banned = 0;     // entries [0, num_banned) (special tokens) may not be produced by a merge
};

struct BpeMerge {
  int32_t left, right, result;
};

// words: word w is symbols[offsets[w], offsets[w + 1]) (ids of the initial vocabulary), seen counts[w]
// times. The initial vocabulary's entry v is the byte string vocab_bytes[vocab_offsets[v], vocab_offsets[v + 1]).
// A merge whose bytes equal an existing entry reuses that entry's id (no new entry); one whose bytes equal
// a banned entry is never made. Returns the merges in order; new ids start at vocab_count.
// Assumes valid input (native/ops/bpe.cpp checks it).
std::vector<BpeMerge> bpe_train_cpu(const int32_t* symbols, const int64_t* offsets, const int64_t* counts, int64_t num_words,
                                    const uint8_t* vocab_bytes, const int64_t* vocab_offsets, int64_t vocab_count,
                                    const BpeTrainParams& p);

}  // namespace lmf::kernels
