// Unigram (SentencePiece) training: the lattice loops over counted words. The caller
// (lib/data/unigram_train.ts) does the pre-tokenization, the seed vocabulary, the M-step and the pruning
// decisions; the passes over every word's lattice are the hot part, so they live here.
//
// Words and pieces are sequences of code points (int32). A word's lattice has one edge per piece that
// matches at a position; pieces are found through a double-array trie built once per call (pieces change
// between calls).
//
// Viterbi ties follow the Hugging Face `tokenizers` Unigram encoder: starts are visited left to right and
// lengths short to long, and a candidate replaces the best path ending at a position only when its score
// is strictly greater, so among equal scores the piece that starts earliest (the longest last piece) wins.
//
// CPU only (no CUDA twin): a tokenizer is trained once, and the work is hash lookups and short serial
// recurrences per word, not arithmetic that a GPU would speed up.
#pragma once
#include <cstdint>
#include <vector>

namespace lmf::kernels {

// A set of pieces: piece p is chars[offsets[p], offsets[p + 1]).
struct UnigramPieces {
  const int32_t* chars = nullptr;
  const int64_t* offsets = nullptr;  // num_pieces + 1 entries
  const double* scores = nullptr;    // log-probabilities, num_pieces entries
  int64_t num_pieces = 0;
};

// Words: word w is chars[offsets[w], offsets[w + 1]), seen counts[w] times.
struct UnigramWords {
  const int32_t* chars = nullptr;
  const int64_t* offsets = nullptr;
  const double* counts = nullptr;
  int64_t num_words = 0;
};

struct UnigramEStepStats {
  double log_likelihood = 0;  // sum over words of count * log Z(word)
  double viterbi_tokens = 0;  // sum over words of count * (pieces on the Viterbi path)
  double word_count = 0;      // sum of the counts of the words that have a segmentation
  int64_t unsegmentable = 0;  // words without any segmentation (a character missing from the pieces)
};

// One pass over all words with the pieces' current scores. Outputs (num_pieces entries each, overwritten):
//   expected[p]  sum over words of count * (expected occurrences of p in the word), by forward-backward;
//   viterbi[p]   sum over words of count * (occurrences of p on the word's Viterbi path);
//   cover[p]     sum of the counts of the words whose Viterbi path holds p at least once.
// Words are summed in fixed chunks (cut by character count) added in chunk order: the same bits for any
// thread count. Forward-backward runs in probability space (log space for words too long for it).
UnigramEStepStats unigram_estep_cpu(double* expected, double* viterbi, double* cover, const UnigramWords& words,
                                    const UnigramPieces& pieces);

// The seed vocabulary's substrings: every substring of 2..max_len code points of the words, counted
// over the distinct words weighted by their counts; those counted at least min_count times, ordered by
// count × length descending (ties: first occurrence in word order), at most max_results of them.
// Each is given by its first occurrence (word, start, length) and its count. Single-threaded: one hash
// table pass, exact (a hash match is confirmed by comparing the characters).
struct UnigramSubstring {
  int32_t word, start, length;
  double count;
};
std::vector<UnigramSubstring> unigram_substrings_cpu(const UnigramWords& words, int64_t max_len, double min_count,
                                                     int64_t max_results);

// For each piece, its best segmentation by the other pieces (the piece's own whole-length edge left out),
// the alternative that pruning reassigns its occurrences to. status[p]:
//   -1  no other segmentation exists (or the piece is one character): keep it;
//    0  the other segmentation scores strictly higher than the piece itself: Viterbi never uses it;
//    1  alternatives hold the segmentation, alt_offsets[p] .. alt_offsets[p + 1].
// alt_offsets has num_pieces + 1 entries; alt_ids is filled by the call.
void unigram_alternatives_cpu(int32_t* status, int64_t* alt_offsets, std::vector<int32_t>& alt_ids,
                              const UnigramPieces& pieces);

}  // namespace lmf::kernels
