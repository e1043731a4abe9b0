// Validation for the Unigram lattice passes: every offset, code point, count and score is checked here,
// so the kernels can trust them.
#include "ops.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "../core/error.h"

namespace lmf::ops {
namespace {

// Offsets widened to int64 after checking that they start at 0, never decrease (or, with non_empty,
// always increase) and end at num_chars; code points must be Unicode scalar values or lone surrogates.
std::vector<int64_t> checked_offsets(const UnigramSeqs& s, const char* op, const char* name, bool non_empty) {
  LMF_CHECK(s.num_offsets >= 1, shape, op, name << "Offsets needs at least one entry (got none)");
  std::vector<int64_t> off(static_cast<size_t>(s.num_offsets));
  LMF_CHECK(s.offsets[0] == 0, value, op, name << "Offsets[0] must be 0, got " << s.offsets[0]);
  for (int64_t k = 0; k + 1 < s.num_offsets; ++k) {
    const int64_t a = s.offsets[k], b = s.offsets[k + 1];
    LMF_CHECK(b > a || (!non_empty && b == a), value, op,
              name << "Offsets[" << k + 1 << "] = " << b << " must be greater than " << name << "Offsets[" << k << "] = " << a
                   << " (no empty " << name << "s)");
    off[static_cast<size_t>(k)] = a;
  }
  off.back() = s.offsets[s.num_offsets - 1];
  LMF_CHECK(off.back() == s.num_chars, value, op,
            name << "Offsets ends at " << off.back() << " but " << s.num_chars << " code points were given");
  for (int64_t i = 0; i < s.num_chars; ++i)
    LMF_CHECK(s.chars[i] >= 0 && s.chars[i] <= 0x10FFFF, value, op,
              name << "Chars[" << i << "] = " << s.chars[i] << " is not a code point");
  return off;
}

kernels::UnigramPieces checked_pieces(const UnigramSeqs& pieces, const double* scores, int64_t num_scores, const char* op,
                                      std::vector<int64_t>& off) {
  off = checked_offsets(pieces, op, "piece", true);
  const int64_t P = pieces.num_offsets - 1;
  LMF_CHECK(num_scores == P, shape, op, "scores has " << num_scores << " entries for " << P << " pieces");
  for (int64_t p = 0; p < P; ++p)
    LMF_CHECK(std::isfinite(scores[p]), value, op, "scores[" << p << "] = " << scores[p] << " is not finite");
  // Distinct: sorted by (hash of length and characters, index), equal pieces sit among equal hashes. A sort of
  // integers, where a set of strings would allocate once per piece (the seed has ~500k).
  std::vector<std::pair<uint64_t, int64_t>> keys(static_cast<size_t>(P));
  auto piece = [&](int64_t p) { return pieces.chars + off[static_cast<size_t>(p)]; };
  auto len = [&](int64_t p) { return off[static_cast<size_t>(p) + 1] - off[static_cast<size_t>(p)]; };
  for (int64_t p = 0; p < P; ++p) {
    uint64_t h = static_cast<uint64_t>(len(p));
    for (int64_t k = 0; k < len(p); ++k) h = (h ^ static_cast<uint32_t>(piece(p)[k])) * 0x100000001B3ull;
    keys[static_cast<size_t>(p)] = {h, p};
  }
  std::sort(keys.begin(), keys.end());
  for (size_t j = 1; j < keys.size(); ++j) {
    if (keys[j].first != keys[j - 1].first) continue;
    // Every earlier piece of this hash, so that a collision between different pieces hides no repeat.
    for (size_t i = j; i-- > 0 && keys[i].first == keys[j].first;) {
      const int64_t a = keys[i].second, b = keys[j].second;
      const bool same = len(a) == len(b) && std::equal(piece(a), piece(a) + len(a), piece(b));
      LMF_CHECK(!same, value, op, "piece " << b << " repeats an earlier piece (" << a << ")");
    }
  }
  kernels::UnigramPieces kp;
  kp.chars = pieces.chars;
  kp.offsets = off.data();
  kp.scores = scores;
  kp.num_pieces = P;
  return kp;
}

// The words with their counts (finite, positive, one per word), as the kernels take them; `off` holds
// the widened offsets the result points into.
kernels::UnigramWords checked_words(const UnigramSeqs& words, const double* counts, int64_t num_counts, const char* op,
                                    std::vector<int64_t>& off) {
  off = checked_offsets(words, op, "word", true);
  const int64_t W = words.num_offsets - 1;
  LMF_CHECK(num_counts == W, shape, op, "wordCounts has " << num_counts << " entries for " << W << " words");
  for (int64_t w = 0; w < W; ++w)
    LMF_CHECK(std::isfinite(counts[w]) && counts[w] > 0, value, op,
              "wordCounts[" << w << "] = " << counts[w] << " must be finite and positive");
  kernels::UnigramWords kw;
  kw.chars = words.chars;
  kw.offsets = off.data();
  kw.counts = counts;
  kw.num_words = W;
  return kw;
}

}  // namespace

UnigramEStepResult unigram_estep(const UnigramSeqs& words, const double* counts, int64_t num_counts, const UnigramSeqs& pieces,
                                 const double* scores, int64_t num_scores) {
  const char* op = "unigramEStep";
  std::vector<int64_t> woff, poff;
  const kernels::UnigramWords kw = checked_words(words, counts, num_counts, op, woff);
  const kernels::UnigramPieces kp = checked_pieces(pieces, scores, num_scores, op, poff);
  UnigramEStepResult r;
  r.expected.resize(static_cast<size_t>(kp.num_pieces));
  r.viterbi.resize(static_cast<size_t>(kp.num_pieces));
  r.cover.resize(static_cast<size_t>(kp.num_pieces));
  r.stats = kernels::unigram_estep_cpu(r.expected.data(), r.viterbi.data(), r.cover.data(), kw, kp);
  return r;
}

std::vector<kernels::UnigramSubstring> unigram_substrings(const UnigramSeqs& words, const double* counts, int64_t num_counts,
                                                          int64_t max_len, double min_count, int64_t max_results) {
  const char* op = "unigramSubstrings";
  std::vector<int64_t> woff;
  const kernels::UnigramWords kw = checked_words(words, counts, num_counts, op, woff);
  LMF_CHECK(max_len >= 2 && max_len <= 1024, value, op, "maxLength must be in [2, 1024], got " << max_len);
  LMF_CHECK(std::isfinite(min_count) && min_count > 0, value, op, "minCount must be finite and positive, got " << min_count);
  LMF_CHECK(max_results >= 0, value, op, "maxResults must be >= 0, got " << max_results);
  return kernels::unigram_substrings_cpu(kw, max_len, min_count, max_results);
}

UnigramAlternativesResult unigram_alternatives(const UnigramSeqs& pieces, const double* scores, int64_t num_scores) {
  const char* op = "unigramAlternatives";
  std::vector<int64_t> poff;
  const kernels::UnigramPieces kp = checked_pieces(pieces, scores, num_scores, op, poff);
  UnigramAlternativesResult r;
  r.status.resize(static_cast<size_t>(kp.num_pieces));
  r.offsets.resize(static_cast<size_t>(kp.num_pieces) + 1);
  kernels::unigram_alternatives_cpu(r.status.data(), r.offsets.data(), r.ids, kp);
  return r;
}

}  // namespace lmf::ops
