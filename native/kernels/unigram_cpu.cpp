// The Unigram lattice passes (unigram.h): a double-array trie of the pieces, then forward-backward and
// Viterbi per word, words split into fixed chunks that the thread pool's workers take in turn.
#include "unigram.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "../runtime/thread_pool.h"

namespace lmf::kernels {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Incremental hash of a code-point sequence (for the seed substrings): the hash of a prefix extends by one
// character, so all the substrings starting at one position are hashed with one multiply per length.
inline uint64_t hash_step(uint64_t h, int32_t c) {
  return (h ^ (static_cast<uint64_t>(static_cast<uint32_t>(c)) + 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
}
inline uint64_t hash_slot(uint64_t h) { return h ^ (h >> 31); }

// The pieces as a double-array trie (Aoe 1989, as SentencePiece's Darts): the child of node s by character
// code c is unit t = base[s] + c when check[t] == s. One load per character, and a scan stops at the first
// prefix that no piece continues. Codes number the pieces' characters by frequency, so the children of the
// common prefixes sit close together; nodes are placed breadth first, so the shallow (hot) ones come first.
class PieceTrie {
 public:
  struct Unit {
    int32_t base = 0;    // 0: no children
    int32_t check = -1;  // the parent node; -1: free
    int32_t id = -1;     // the piece spelled by the path to this node, or -1
  };

  explicit PieceTrie(const UnigramPieces& p) {
    assign_codes(p);
    const int64_t P = p.num_pieces;
    // The pieces in lexicographic order of their codes, with their codes copied out in that order, so that
    // the breadth-first pass below reads them front to back. Sorted by a key packing the first codes (as
    // many as fit 64 bits: 9 for a 100-character alphabet; pieces of equal keys are then compared in full),
    // which spares most comparisons a walk through two pieces' characters.
    std::vector<int32_t> codes(static_cast<size_t>(P > 0 ? p.offsets[P] : 0));
    for (size_t k = 0; k < codes.size(); ++k) codes[k] = code(p.chars[k]);
    auto len = [&](int32_t id) { return p.offsets[id + 1] - p.offsets[id]; };
    int bits = 1;  // codes start at 1: 0 pads a short piece
    while ((int64_t{1} << bits) <= num_codes_) ++bits;
    const int key_codes = 64 / bits;
    std::vector<std::pair<uint64_t, int32_t>> keyed(static_cast<size_t>(P));
    for (int32_t id = 0; id < P; ++id) {
      uint64_t key = 0;
      for (int d = 0; d < key_codes; ++d)
        key = key << bits | (d < len(id) ? static_cast<uint64_t>(codes[static_cast<size_t>(p.offsets[id] + d)]) : 0);
      keyed[static_cast<size_t>(id)] = {key, id};
    }
    std::sort(keyed.begin(), keyed.end());
    auto less = [&](const std::pair<uint64_t, int32_t>& a, const std::pair<uint64_t, int32_t>& b) {
      const int32_t* ca = &codes[static_cast<size_t>(p.offsets[a.second])];
      const int32_t* cb = &codes[static_cast<size_t>(p.offsets[b.second])];
      return std::lexicographical_compare(ca, ca + len(a.second), cb, cb + len(b.second));
    };
    for (size_t lo = 0, hi; lo < keyed.size(); lo = hi) {
      for (hi = lo + 1; hi < keyed.size() && keyed[hi].first == keyed[lo].first;) ++hi;
      if (hi - lo > 1) std::sort(keyed.begin() + static_cast<int64_t>(lo), keyed.begin() + static_cast<int64_t>(hi), less);
    }
    std::vector<int32_t> sorted_codes;
    std::vector<int64_t> sorted_off(static_cast<size_t>(P) + 1, 0);
    sorted_codes.reserve(codes.size());
    for (int64_t k = 0; k < P; ++k) {
      const int32_t id = keyed[static_cast<size_t>(k)].second;
      sorted_codes.insert(sorted_codes.end(), codes.begin() + p.offsets[id], codes.begin() + p.offsets[id + 1]);
      sorted_off[static_cast<size_t>(k) + 1] = static_cast<int64_t>(sorted_codes.size());
    }

    units_.resize(1);
    units_[0].check = -2;  // the root: never anyone's child
    next_free_.assign(1, 1);
    // Breadth first: node `node` spells the common prefix (length depth) of the sorted pieces [lo, hi); the
    // one as long as the prefix, if any, comes first, and each child's pieces are a run of equal codes at
    // `depth`.
    struct Range {
      int32_t node;
      int64_t lo, hi, depth;
    };
    std::vector<Range> queue{{0, 0, P, 0}};
    std::vector<int32_t> child_codes;
    std::vector<int64_t> child_lo;
    for (size_t qi = 0; qi < queue.size(); ++qi) {
      const Range r = queue[qi];
      int64_t lo = r.lo;
      if (lo < r.hi && sorted_off[static_cast<size_t>(lo) + 1] - sorted_off[static_cast<size_t>(lo)] == r.depth)
        units_[static_cast<size_t>(r.node)].id = keyed[static_cast<size_t>(lo++)].second;
      if (lo == r.hi) continue;
      child_codes.clear();
      child_lo.clear();
      for (int64_t k = lo; k < r.hi; ++k) {
        const int32_t c = sorted_codes[static_cast<size_t>(sorted_off[static_cast<size_t>(k)] + r.depth)];
        if (child_codes.empty() || child_codes.back() != c) {
          child_codes.push_back(c);
          child_lo.push_back(k);
        }
      }
      child_lo.push_back(r.hi);
      const int32_t b = place(r.node, child_codes);
      units_[static_cast<size_t>(r.node)].base = b;
      for (size_t j = 0; j < child_codes.size(); ++j)
        queue.push_back({b + child_codes[j], child_lo[j], child_lo[j + 1], r.depth + 1});
    }
    // Padding, so that base + code never runs past the end (a free unit's check matches no node).
    units_.resize(units_.size() + static_cast<size_t>(num_codes_) + 1);
  }

  // The code of a code point; 0 (in no piece) leads nowhere.
  int32_t code(int32_t cp) const {
    if (cp >= 0 && static_cast<size_t>(cp) < small_.size()) return small_[static_cast<size_t>(cp)];
    const auto it = large_.find(cp);
    return it == large_.end() ? 0 : it->second;
  }

  // The child of `node` (0: the root) by character code c, or -1.
  int32_t next(int32_t node, int32_t c) const {
    const int32_t t = units_[static_cast<size_t>(node)].base + c;
    return units_[static_cast<size_t>(t)].check == node ? t : -1;
  }
  const Unit& unit(int32_t t) const { return units_[static_cast<size_t>(t)]; }

 private:
  void assign_codes(const UnigramPieces& p) {
    std::unordered_map<int32_t, int64_t> freq;
    const int64_t n = p.num_pieces > 0 ? p.offsets[p.num_pieces] : 0;
    for (int64_t k = 0; k < n; ++k) ++freq[p.chars[k]];
    std::vector<std::pair<int64_t, int32_t>> by_freq;
    for (const auto& [cp, f] : freq) by_freq.push_back({-f, cp});
    std::sort(by_freq.begin(), by_freq.end());
    num_codes_ = static_cast<int32_t>(by_freq.size());
    int32_t max_small = -1;
    for (const auto& [f, cp] : by_freq)
      if (cp < 0x10000) max_small = std::max(max_small, cp);
    small_.assign(static_cast<size_t>(max_small + 1), 0);
    for (size_t j = 0; j < by_freq.size(); ++j) {
      const int32_t cp = by_freq[j].second, c = static_cast<int32_t>(j + 1);
      if (cp < 0x10000) small_[static_cast<size_t>(cp)] = c;
      else large_[cp] = c;
    }
  }

  // The first free unit at or after t (units past the end are free), with path compression.
  int32_t find_free(int32_t t) {
    int32_t r = t;
    while (static_cast<size_t>(r) < next_free_.size() && next_free_[static_cast<size_t>(r)] != r) r = next_free_[static_cast<size_t>(r)];
    while (static_cast<size_t>(t) < next_free_.size() && t != r) {
      const int32_t up = next_free_[static_cast<size_t>(t)];
      next_free_[static_cast<size_t>(t)] = r;
      t = up;
    }
    return r;
  }

  // A base for the children of `node` with these (ascending) codes: the first whose units are all free,
  // searched from scan_from_. When a search crossed a region with few free units (under 1 in 16) or tried
  // many, the next searches start past it (as Darts does), leaving those units unused rather than
  // rescanning them for every node.
  int32_t place(int32_t node, const std::vector<int32_t>& cs) {
    const int32_t t0 = find_free(std::max(cs[0] + 1, scan_from_));
    int64_t tries = 0;
    for (int32_t t = t0;; t = find_free(t + 1), ++tries) {
      const int32_t b = t - cs[0];
      bool ok = true;
      for (size_t j = 1; j < cs.size() && ok; ++j) {
        const size_t u = static_cast<size_t>(b + cs[j]);
        ok = u >= units_.size() || units_[u].check == -1;
      }
      if (!ok) continue;
      if (tries > 32 || tries * 16 < t - t0) scan_from_ = t;
      const size_t end = static_cast<size_t>(b + cs.back()) + 1;
      if (end > units_.size()) {
        const size_t old = units_.size();
        units_.resize(end);
        next_free_.resize(end);
        for (size_t u = old; u < end; ++u) next_free_[u] = static_cast<int32_t>(u);
      }
      for (int32_t c : cs) {
        const size_t u = static_cast<size_t>(b + c);
        units_[u].check = node;
        next_free_[u] = static_cast<int32_t>(u + 1);
      }
      return b;
    }
  }

  std::vector<Unit> units_;
  std::vector<int32_t> next_free_;  // next_free_[u] == u: free (or a path towards the next free unit)
  std::vector<int32_t> small_;      // codes of code points below 0x10000
  std::unordered_map<int32_t, int32_t> large_;
  int32_t num_codes_ = 0;
  int32_t scan_from_ = 0;
};

struct Edge {
  int32_t start, end, id;
};

// Edges of the lattice of a sequence of n character codes, ordered by start, then by length (the order the
// Viterbi tie rule needs). An edge equal to `skip_id` spanning the whole sequence is left out (for
// alternatives).
void build_lattice(std::vector<Edge>& edges, const int32_t* codes, int64_t n, const PieceTrie& trie, int32_t skip_id) {
  edges.clear();
  for (int64_t i = 0; i < n; ++i) {
    int32_t node = 0;
    for (int64_t j = i; j < n; ++j) {
      node = trie.next(node, codes[j]);
      if (node < 0) break;
      const PieceTrie::Unit& u = trie.unit(node);
      if (u.id >= 0 && !(u.id == skip_id && i == 0 && j + 1 == n))
        edges.push_back({static_cast<int32_t>(i), static_cast<int32_t>(j + 1), u.id});
      if (u.base == 0) break;
    }
  }
}

// The codes of chars[0, n), into `codes`.
const int32_t* encode(std::vector<int32_t>& codes, const int32_t* chars, int64_t n, const PieceTrie& trie) {
  codes.resize(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) codes[static_cast<size_t>(k)] = trie.code(chars[k]);
  return codes.data();
}

inline double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

// Viterbi over edges ordered as build_lattice makes them; fills from[] with the edge index ending each
// position on the best path (-1: unreachable). Returns the best score at n (-inf: no segmentation).
double viterbi(const std::vector<Edge>& edges, int64_t n, const double* scores, std::vector<double>& best,
               std::vector<int32_t>& from) {
  best.assign(static_cast<size_t>(n) + 1, kNegInf);
  from.assign(static_cast<size_t>(n) + 1, -1);
  best[0] = 0;
  for (size_t e = 0; e < edges.size(); ++e) {
    const Edge& ed = edges[e];
    if (ed.start > 0 && from[ed.start] < 0) continue;  // nothing reaches this start
    const double cand = scores[ed.id] + best[ed.start];
    if (from[ed.end] < 0 || cand > best[ed.end]) {
      best[ed.end] = cand;
      from[ed.end] = static_cast<int32_t>(e);
    }
  }
  return from[n] >= 0 ? best[n] : kNegInf;
}

// Forward-backward in probability space. Piece p's edge weight is q[p] = exp(score[p] + shift * len(p)):
// a path's weight over i characters is its probability times exp(shift * i), the same factor for every
// path, so the factor cancels in the posteriors and log Z = log(alpha[n]) - shift * n. The shift centres
// the per-character log weight, so that words up to `max_len` characters stay inside the double range
// (see linear_limits); longer words take the log-space pass. This replaces an exp and a log1p per edge
// (the log-space pass) by a multiply-add.
struct LinearScale {
  std::vector<double> q;
  double shift = 0;
  int64_t max_len = 0;
};

LinearScale linear_limits(const UnigramPieces& pieces) {
  // A path's log weight over i characters lies in [i * (r_min + shift), i * (r_max + shift)], r = score / len
  // per piece, and a sum of at most 2^(i-1) paths adds at most i * log 2. The shift balances the two ends;
  // words whose bound stays within e^±600 (the double range is e^±708) are safe.
  LinearScale ls;
  if (pieces.num_pieces == 0) return ls;  // no piece: every word takes the log-space pass and has no path
  double r_min = std::numeric_limits<double>::infinity(), r_max = kNegInf;
  for (int64_t p = 0; p < pieces.num_pieces; ++p) {
    const double r = pieces.scores[p] / static_cast<double>(pieces.offsets[p + 1] - pieces.offsets[p]);
    r_min = std::min(r_min, r);
    r_max = std::max(r_max, r);
  }
  const double ln2 = std::log(2.0);
  ls.shift = -(r_min + r_max + ln2) / 2;
  const double per_char = (r_max - r_min + ln2) / 2;
  ls.max_len = static_cast<int64_t>(std::min(600.0 / per_char, 1e9));
  ls.q.resize(static_cast<size_t>(pieces.num_pieces));
  for (int64_t p = 0; p < pieces.num_pieces; ++p)
    ls.q[static_cast<size_t>(p)] =
        std::exp(pieces.scores[p] + ls.shift * static_cast<double>(pieces.offsets[p + 1] - pieces.offsets[p]));
  return ls;
}

// Calls add(id, posterior) for every edge of a word and returns log Z (-inf: no segmentation).
template <typename Add>
double forward_backward(const std::vector<Edge>& edges, int64_t n, const UnigramPieces& pieces, const LinearScale& ls,
                        std::vector<double>& alpha, std::vector<double>& beta, Add add) {
  alpha.assign(static_cast<size_t>(n) + 1, 0.0);
  beta.assign(static_cast<size_t>(n) + 1, 0.0);
  if (n <= ls.max_len) {
    const double* q = ls.q.data();
    alpha[0] = 1;
    for (const Edge& e : edges) alpha[e.end] += alpha[e.start] * q[e.id];
    const double Z = alpha[n];
    if (!(Z > 0)) return kNegInf;
    beta[n] = 1;
    for (size_t k = edges.size(); k-- > 0;) {
      const Edge& e = edges[k];
      beta[e.start] += q[e.id] * beta[e.end];
    }
    const double inv_z = 1 / Z;
    for (const Edge& e : edges) add(e.id, alpha[e.start] * q[e.id] * beta[e.end] * inv_z);
    return std::log(Z) - ls.shift * static_cast<double>(n);
  }
  std::fill(alpha.begin(), alpha.end(), kNegInf);
  std::fill(beta.begin(), beta.end(), kNegInf);
  alpha[0] = 0;
  for (const Edge& e : edges)
    if (alpha[e.start] != kNegInf) alpha[e.end] = log_add(alpha[e.end], alpha[e.start] + pieces.scores[e.id]);
  const double Z = alpha[n];
  if (Z == kNegInf) return kNegInf;
  beta[n] = 0;
  for (size_t k = edges.size(); k-- > 0;) {
    const Edge& e = edges[k];
    if (beta[e.end] != kNegInf) beta[e.start] = log_add(beta[e.start], pieces.scores[e.id] + beta[e.end]);
  }
  for (const Edge& e : edges) {
    const double lp = alpha[e.start] + pieces.scores[e.id] + beta[e.end] - Z;
    if (lp != kNegInf && !std::isnan(lp)) add(e.id, std::exp(lp));
  }
  return Z;
}

// A chunk's sums for the pieces its words touched (each id once), and its statistics.
struct ChunkSums {
  struct Entry {
    int32_t id;
    double expected, viterbi, cover;
  };
  std::vector<Entry> entries;
  UnigramEStepStats stats;
};

// A worker's dense accumulators, cleared piece by piece after each chunk (only the touched ones).
struct Scratch {
  std::vector<double> expected, viterbi, cover;
  std::vector<int64_t> cover_word;  // the last word whose cover counted each piece
  std::vector<int32_t> touched;
  std::vector<char> is_touched;
  std::vector<Edge> edges;
  std::vector<double> alpha, beta, best;
  std::vector<int32_t> from, codes;

  explicit Scratch(size_t P) : expected(P, 0.0), viterbi(P, 0.0), cover(P, 0.0), cover_word(P, -1), is_touched(P, 0) {}
  void touch(int32_t id) {
    if (!is_touched[id]) {
      is_touched[id] = 1;
      touched.push_back(id);
    }
  }
};

void estep_chunk(ChunkSums& out, Scratch& sc, const UnigramWords& words, int64_t w0, int64_t w1, const PieceTrie& trie,
                 const UnigramPieces& pieces, const LinearScale& ls) {
  for (int64_t w = w0; w < w1; ++w) {
    const int32_t* chars = words.chars + words.offsets[w];
    const int64_t n = words.offsets[w + 1] - words.offsets[w];
    const double count = words.counts[w];
    build_lattice(sc.edges, encode(sc.codes, chars, n, trie), n, trie, -1);
    const double log_z = forward_backward(sc.edges, n, pieces, ls, sc.alpha, sc.beta, [&](int32_t id, double post) {
      sc.touch(id);
      sc.expected[id] += count * post;
    });
    if (log_z == kNegInf) {
      ++out.stats.unsegmentable;
      continue;
    }
    out.stats.log_likelihood += count * log_z;
    out.stats.word_count += count;

    viterbi(sc.edges, n, pieces.scores, sc.best, sc.from);
    int64_t tokens = 0;
    for (int64_t pos = n; pos > 0;) {
      const Edge& e = sc.edges[static_cast<size_t>(sc.from[pos])];
      sc.viterbi[e.id] += count;
      if (sc.cover_word[e.id] != w) {
        sc.cover_word[e.id] = w;
        sc.cover[e.id] += count;
      }
      ++tokens;
      pos = e.start;
    }
    out.stats.viterbi_tokens += count * static_cast<double>(tokens);
  }
  out.entries.reserve(sc.touched.size());
  for (int32_t id : sc.touched) {
    out.entries.push_back({id, sc.expected[id], sc.viterbi[id], sc.cover[id]});
    sc.expected[id] = sc.viterbi[id] = sc.cover[id] = 0;
    sc.is_touched[id] = 0;
  }
  sc.touched.clear();
}

}  // namespace

UnigramEStepStats unigram_estep_cpu(double* expected, double* viterbi_out, double* cover, const UnigramWords& words,
                                    const UnigramPieces& pieces) {
  const size_t P = static_cast<size_t>(pieces.num_pieces);
  const PieceTrie trie(pieces);
  const LinearScale ls = linear_limits(pieces);
  const int64_t W = words.num_words;
  const int64_t total_chars = W > 0 ? words.offsets[W] : 0;

  // Chunks of words, cut by character count and never by the thread count: each chunk sums its words in
  // word order, and the chunks are added in chunk order below, so the result is the same bits for any
  // number of threads. Workers take chunks as they finish; each holds ~37 bytes per piece of scratch, so
  // their number is capped at about 256 MiB of it.
  const int64_t num_chunks = std::clamp<int64_t>(total_chars / 16384, 1, 32);
  auto first_word = [&](int64_t c) -> int64_t {
    if (c >= num_chunks) return W;
    return std::lower_bound(words.offsets, words.offsets + W, total_chars * c / num_chunks) - words.offsets;
  };
  const int64_t by_memory = std::max<int64_t>(1, (int64_t{256} << 20) / std::max<int64_t>(1, 37 * pieces.num_pieces));
  const int64_t num_workers = std::min<int64_t>({static_cast<int64_t>(num_threads()), num_chunks, by_memory});
  std::vector<ChunkSums> chunks(static_cast<size_t>(num_chunks));
  std::atomic<int64_t> next{0};
  parallel_for(num_workers, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t worker = b; worker < e; ++worker) {
      Scratch sc(P);
      for (int64_t c = next++; c < num_chunks; c = next++)
        estep_chunk(chunks[static_cast<size_t>(c)], sc, words, first_word(c), first_word(c + 1), trie, pieces, ls);
    }
  });

  UnigramEStepStats stats;
  std::fill(expected, expected + P, 0.0);
  std::fill(viterbi_out, viterbi_out + P, 0.0);
  std::fill(cover, cover + P, 0.0);
  for (const ChunkSums& ch : chunks) {  // chunk order, whatever worker ran each chunk
    for (const ChunkSums::Entry& en : ch.entries) {
      expected[en.id] += en.expected;
      viterbi_out[en.id] += en.viterbi;
      cover[en.id] += en.cover;
    }
    stats.log_likelihood += ch.stats.log_likelihood;
    stats.viterbi_tokens += ch.stats.viterbi_tokens;
    stats.word_count += ch.stats.word_count;
    stats.unsegmentable += ch.stats.unsegmentable;
  }
  return stats;
}

std::vector<UnigramSubstring> unigram_substrings_cpu(const UnigramWords& words, int64_t max_len, double min_count,
                                                     int64_t max_results) {
  struct Entry {
    uint64_t hash;
    UnigramSubstring s;
  };
  std::vector<Entry> table(1024);
  std::vector<int32_t> used(1024, 0);  // 0: empty; else index + 1 into `order`
  std::vector<size_t> order;            // slots in insertion order (first occurrence order)
  size_t mask = table.size() - 1;
  auto same = [&](const UnigramSubstring& a, const int32_t* chars, int64_t len) {
    return a.length == len && std::equal(chars, chars + len, words.chars + words.offsets[a.word] + a.start);
  };
  auto grow = [&]() {
    std::vector<Entry> old_table(table.size() * 2);
    old_table.swap(table);
    used.assign(table.size(), 0);
    mask = table.size() - 1;
    for (size_t k = 0; k < order.size(); ++k) {
      const Entry& e = old_table[order[k]];
      size_t s = hash_slot(e.hash) & mask;
      while (used[s]) s = (s + 1) & mask;
      table[s] = e;
      used[s] = static_cast<int32_t>(k + 1);
      order[k] = s;
    }
  };
  for (int64_t w = 0; w < words.num_words; ++w) {
    const int32_t* chars = words.chars + words.offsets[w];
    const int64_t n = words.offsets[w + 1] - words.offsets[w];
    for (int64_t i = 0; i + 1 < n; ++i) {
      uint64_t h = hash_step(0, chars[i]);
      const int64_t lim = std::min(max_len, n - i);
      for (int64_t len = 2; len <= lim; ++len) {
        h = hash_step(h, chars[i + len - 1]);
        size_t s = hash_slot(h) & mask;
        for (; used[s]; s = (s + 1) & mask)
          if (table[s].hash == h && same(table[s].s, chars + i, len)) break;
        if (used[s]) {
          table[s].s.count += words.counts[w];
          continue;
        }
        table[s] = {h, {static_cast<int32_t>(w), static_cast<int32_t>(i), static_cast<int32_t>(len), words.counts[w]}};
        order.push_back(s);
        used[s] = static_cast<int32_t>(order.size());
        if (order.size() * 2 > table.size()) grow();
      }
    }
  }
  std::vector<UnigramSubstring> out;
  for (size_t s : order)
    if (table[s].s.count >= min_count) out.push_back(table[s].s);
  // Stable: equal weights keep first-occurrence order, so the result does not depend on the hash.
  std::stable_sort(out.begin(), out.end(), [](const UnigramSubstring& a, const UnigramSubstring& b) {
    return a.count * a.length > b.count * b.length;
  });
  if (static_cast<int64_t>(out.size()) > max_results) out.resize(static_cast<size_t>(max_results));
  return out;
}

void unigram_alternatives_cpu(int32_t* status, int64_t* alt_offsets, std::vector<int32_t>& alt_ids,
                              const UnigramPieces& pieces) {
  const int64_t P = pieces.num_pieces;
  const PieceTrie trie(pieces);
  const int64_t num_tasks = std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(num_threads()), 16, P / 256}));
  std::vector<std::vector<int32_t>> task_ids(static_cast<size_t>(num_tasks));
  std::vector<int64_t> counts(static_cast<size_t>(P), 0);

  parallel_for(num_tasks, 1, [&](int64_t t0, int64_t t1, int) {
    std::vector<Edge> edges;
    std::vector<double> best;
    std::vector<int32_t> from, path, codes;
    for (int64_t t = t0; t < t1; ++t) {
      std::vector<int32_t>& ids = task_ids[static_cast<size_t>(t)];
      for (int64_t p = P * t / num_tasks; p < P * (t + 1) / num_tasks; ++p) {
        const int64_t n = pieces.offsets[p + 1] - pieces.offsets[p];
        status[p] = -1;
        if (n < 2) continue;
        build_lattice(edges, encode(codes, pieces.chars + pieces.offsets[p], n, trie), n, trie, static_cast<int32_t>(p));
        const double alt = viterbi(edges, n, pieces.scores, best, from);
        if (alt == kNegInf) continue;
        if (alt > pieces.scores[p]) {
          status[p] = 0;
          continue;
        }
        status[p] = 1;
        path.clear();
        for (int64_t pos = n; pos > 0;) {
          const Edge& e = edges[static_cast<size_t>(from[pos])];
          path.push_back(e.id);
          pos = e.start;
        }
        ids.insert(ids.end(), path.rbegin(), path.rend());
        counts[p] = static_cast<int64_t>(path.size());
      }
    }
  });

  alt_offsets[0] = 0;
  for (int64_t p = 0; p < P; ++p) alt_offsets[p + 1] = alt_offsets[p] + counts[p];
  alt_ids.clear();
  alt_ids.reserve(static_cast<size_t>(alt_offsets[P]));
  for (const auto& ids : task_ids) alt_ids.insert(alt_ids.end(), ids.begin(), ids.end());
}

}  // namespace lmf::kernels
