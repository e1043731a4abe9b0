// The Unigram lattice passes (unigram.h): a hash table of pieces, then forward-backward and Viterbi per
// word, words split over the thread pool by character count.
#include "unigram.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../runtime/thread_pool.h"

namespace lmf::kernels {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Incremental hash of a code-point sequence: the hash of a prefix extends by one character, so all the
// pieces starting at one position are looked up with one multiply per length.
inline uint64_t hash_step(uint64_t h, int32_t c) {
  return (h ^ (static_cast<uint64_t>(static_cast<uint32_t>(c)) + 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
}
inline uint64_t hash_slot(uint64_t h) { return h ^ (h >> 31); }

class PieceTable {
 public:
  explicit PieceTable(const UnigramPieces& p) : p_(p) {
    size_t cap = 16;
    while (cap < static_cast<size_t>(p.num_pieces) * 2) cap <<= 1;
    mask_ = cap - 1;
    slots_.assign(cap, -1);
    hashes_.resize(cap);
    for (int64_t id = 0; id < p.num_pieces; ++id) {
      uint64_t h = 0;
      for (int64_t k = p.offsets[id]; k < p.offsets[id + 1]; ++k) h = hash_step(h, p.chars[k]);
      size_t s = hash_slot(h) & mask_;
      while (slots_[s] >= 0) s = (s + 1) & mask_;
      slots_[s] = static_cast<int32_t>(id);
      hashes_[s] = h;
    }
  }

  // The id of the piece equal to chars[0, len) whose running hash is h, or -1.
  int32_t find(const int32_t* chars, int64_t len, uint64_t h) const {
    for (size_t s = hash_slot(h) & mask_;; s = (s + 1) & mask_) {
      const int32_t id = slots_[s];
      if (id < 0) return -1;
      if (hashes_[s] != h) continue;
      const int64_t a = p_.offsets[id];
      if (p_.offsets[id + 1] - a != len) continue;
      if (std::equal(chars, chars + len, p_.chars + a)) return id;
    }
  }

 private:
  const UnigramPieces& p_;
  size_t mask_ = 0;
  std::vector<int32_t> slots_;
  std::vector<uint64_t> hashes_;
};

struct Edge {
  int32_t start, end, id;
};

// Edges of the lattice of chars[0, n), ordered by start, then by length (the order the Viterbi tie rule
// needs). An edge equal to `skip_id` spanning the whole sequence is left out (for alternatives).
void build_lattice(std::vector<Edge>& edges, const int32_t* chars, int64_t n, const PieceTable& table, int64_t max_len,
                   int32_t skip_id) {
  edges.clear();
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = 0;
    const int64_t lim = std::min(max_len, n - i);
    for (int64_t len = 1; len <= lim; ++len) {
      h = hash_step(h, chars[i + len - 1]);
      const int32_t id = table.find(chars + i, len, h);
      if (id < 0) continue;
      if (id == skip_id && i == 0 && len == n) continue;
      edges.push_back({static_cast<int32_t>(i), static_cast<int32_t>(i + len), id});
    }
  }
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

struct TaskOut {
  std::vector<double> expected, viterbi, cover;
  std::vector<int64_t> stamp;  // the last word whose cover counted each piece
  UnigramEStepStats stats;
};

}  // namespace

UnigramEStepStats unigram_estep_cpu(double* expected, double* viterbi_out, double* cover, const UnigramWords& words,
                                    const UnigramPieces& pieces) {
  const size_t P = static_cast<size_t>(pieces.num_pieces);
  const PieceTable table(pieces);
  const int64_t W = words.num_words;
  const int64_t total_chars = W > 0 ? words.offsets[W] : 0;
  // Per-task buffers hold 32 bytes per piece; at most 16 tasks and about 256 MiB of them in all, so the
  // memory does not grow with the machine's thread count.
  const int64_t by_memory = std::max<int64_t>(1, (int64_t{256} << 20) / std::max<int64_t>(1, 32 * pieces.num_pieces));
  const int64_t num_tasks =
      std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(num_threads()), 16, W / 64, by_memory}));
  std::vector<TaskOut> tasks(static_cast<size_t>(num_tasks));

  // Task t takes the words whose first character lies in [t, t + 1) * total_chars / num_tasks.
  auto first_word = [&](int64_t t) -> int64_t {
    if (t >= num_tasks) return W;
    const int64_t target = total_chars * t / num_tasks;
    return std::lower_bound(words.offsets, words.offsets + W, target) - words.offsets;
  };

  parallel_for(num_tasks, 1, [&](int64_t t0, int64_t t1, int) {
    std::vector<Edge> edges;
    std::vector<double> alpha, beta, best;
    std::vector<int32_t> from;
    for (int64_t t = t0; t < t1; ++t) {
      TaskOut& out = tasks[static_cast<size_t>(t)];
      out.expected.assign(P, 0.0);
      out.viterbi.assign(P, 0.0);
      out.cover.assign(P, 0.0);
      out.stamp.assign(P, -1);
      const int64_t w1 = first_word(t + 1);
      for (int64_t w = first_word(t); w < w1; ++w) {
        const int32_t* chars = words.chars + words.offsets[w];
        const int64_t n = words.offsets[w + 1] - words.offsets[w];
        const double count = words.counts[w];
        build_lattice(edges, chars, n, table, pieces.max_len, -1);

        alpha.assign(static_cast<size_t>(n) + 1, kNegInf);
        alpha[0] = 0;
        for (const Edge& e : edges)
          if (alpha[e.start] != kNegInf) alpha[e.end] = log_add(alpha[e.end], alpha[e.start] + pieces.scores[e.id]);
        const double Z = alpha[n];
        if (Z == kNegInf) {
          ++out.stats.unsegmentable;
          continue;
        }
        beta.assign(static_cast<size_t>(n) + 1, kNegInf);
        beta[n] = 0;
        for (size_t k = edges.size(); k-- > 0;) {
          const Edge& e = edges[k];
          if (beta[e.end] != kNegInf) beta[e.start] = log_add(beta[e.start], pieces.scores[e.id] + beta[e.end]);
        }
        for (const Edge& e : edges) {
          const double lp = alpha[e.start] + pieces.scores[e.id] + beta[e.end] - Z;
          if (lp != kNegInf && !std::isnan(lp)) out.expected[e.id] += count * std::exp(lp);
        }
        out.stats.log_likelihood += count * Z;
        out.stats.word_count += count;

        viterbi(edges, n, pieces.scores, best, from);
        int64_t tokens = 0;
        for (int64_t pos = n; pos > 0;) {
          const Edge& e = edges[static_cast<size_t>(from[pos])];
          out.viterbi[e.id] += count;
          if (out.stamp[e.id] != w) {
            out.stamp[e.id] = w;
            out.cover[e.id] += count;
          }
          ++tokens;
          pos = e.start;
        }
        out.stats.viterbi_tokens += count * static_cast<double>(tokens);
      }
    }
  });

  UnigramEStepStats stats;
  std::fill(expected, expected + P, 0.0);
  std::fill(viterbi_out, viterbi_out + P, 0.0);
  std::fill(cover, cover + P, 0.0);
  for (const TaskOut& out : tasks) {  // task order, whatever thread ran each task
    for (size_t p = 0; p < P; ++p) {
      expected[p] += out.expected[p];
      viterbi_out[p] += out.viterbi[p];
      cover[p] += out.cover[p];
    }
    stats.log_likelihood += out.stats.log_likelihood;
    stats.viterbi_tokens += out.stats.viterbi_tokens;
    stats.word_count += out.stats.word_count;
    stats.unsegmentable += out.stats.unsegmentable;
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
  const PieceTable table(pieces);
  const int64_t num_tasks = std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(num_threads()), 16, P / 256}));
  std::vector<std::vector<int32_t>> task_ids(static_cast<size_t>(num_tasks));
  std::vector<int64_t> counts(static_cast<size_t>(P), 0);

  parallel_for(num_tasks, 1, [&](int64_t t0, int64_t t1, int) {
    std::vector<Edge> edges;
    std::vector<double> best;
    std::vector<int32_t> from, path;
    for (int64_t t = t0; t < t1; ++t) {
      std::vector<int32_t>& ids = task_ids[static_cast<size_t>(t)];
      for (int64_t p = P * t / num_tasks; p < P * (t + 1) / num_tasks; ++p) {
        const int64_t n = pieces.offsets[p + 1] - pieces.offsets[p];
        status[p] = -1;
        if (n < 2) continue;
        build_lattice(edges, pieces.chars + pieces.offsets[p], n, table, pieces.max_len, static_cast<int32_t>(p));
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
