// The BPE merge loop (bpe.h): incremental pair counts, a pair -> words index and a lazy max-heap.
#include "bpe.h"

#include <queue>
#include <string>
#include <unordered_map>

namespace lmf::kernels {
namespace {

struct HeapEntry {
  int64_t count;
  int32_t left, right, pair;
};

// std::priority_queue pops the "largest": higher count, then smaller left, then smaller right.
struct HeapLess {
  bool operator()(const HeapEntry& x, const HeapEntry& y) const {
    if (x.count != y.count) return x.count < y.count;
    if (x.left != y.left) return x.left > y.left;
    return x.right > y.right;
  }
};

class Trainer {
 public:
  Trainer(const int32_t* symbols, const int64_t* offsets, const int64_t* counts, int64_t num_words,
          const uint8_t* vocab_bytes, const int64_t* vocab_offsets, int64_t vocab_count, const BpeTrainParams& p)
      : p_(p), num_words_(num_words), counts_(counts) {
    // Words are copied into one flat array and shrink in place as merges apply (len_ tracks each one).
    const int64_t total = offsets[num_words];
    syms_.assign(symbols, symbols + total);
    start_.resize(num_words);
    len_.resize(num_words);
    for (int64_t w = 0; w < num_words; ++w) {
      start_[w] = offsets[w];
      len_[w] = static_cast<int32_t>(offsets[w + 1] - offsets[w]);
    }
    bytes_.reserve(static_cast<size_t>(vocab_count + (p.vocab_size > vocab_count ? p.vocab_size - vocab_count : 0)));
    for (int64_t v = 0; v < vocab_count; ++v) {
      bytes_.emplace_back(reinterpret_cast<const char*>(vocab_bytes + vocab_offsets[v]),
                          static_cast<size_t>(vocab_offsets[v + 1] - vocab_offsets[v]));
      by_bytes_.emplace(bytes_.back(), static_cast<int32_t>(v));
    }
    word_stamp_.assign(num_words, -1);
  }

  std::vector<BpeMerge> run() {
    count_all_pairs();
    std::vector<BpeMerge> merges;
    int64_t vocab = static_cast<int64_t>(bytes_.size());
    int32_t step = 0;
    while (vocab < p_.vocab_size && !heap_.empty()) {
      const HeapEntry top = heap_.top();
      heap_.pop();
      const int64_t current = count_[top.pair];
      if (banned_[top.pair] || current <= 0) continue;
      if (top.count != current) {
        // A stale entry: counts above the current one are re-pushed with the current count; ones below
        // it are dropped (the increase pushed a newer entry, which is still in the heap).
        if (top.count > current) heap_.push({current, top.left, top.right, top.pair});
        continue;
      }
      if (current < p_.min_frequency) break;
      const std::string merged = bytes_[top.left] + bytes_[top.right];
      int32_t result;
      auto it = by_bytes_.find(merged);
      if (it == by_bytes_.end()) {
        result = static_cast<int32_t>(bytes_.size());
        bytes_.push_back(merged);
        by_bytes_.emplace(merged, result);
        ++vocab;
      } else if (it->second < p_.num_banned) {
        banned_[top.pair] = 1;  // would spell a special token: never merged
        continue;
      } else {
        result = it->second;  // the same bytes made by another pair earlier: reuse the id
      }
      merges.push_back({top.left, top.right, result});
      apply_merge(top.pair, top.left, top.right, result, step++);
      // A pair is merged once: it can only come back when a reused id equals one of its symbols, and a
      // second merge of the same pair would make the merge list ambiguous.
      banned_[top.pair] = 1;
    }
    return merges;
  }

 private:
  static uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

  int32_t pair_id(int32_t a, int32_t b) {
    auto [it, fresh] = pair_index_.try_emplace(key(a, b), static_cast<int32_t>(count_.size()));
    if (fresh) {
      left_.push_back(a);
      right_.push_back(b);
      count_.push_back(0);
      banned_.push_back(0);
      words_.emplace_back();
      raised_stamp_.push_back(-1);
    }
    return it->second;
  }

  // Adds delta (a word count, signed) to pair (a, b) as seen in word w. Pairs that grow are remembered
  // (raised_) so that the heap gets an entry with their final count after the merge.
  void add(int32_t a, int32_t b, int64_t delta, int32_t w, int32_t step) {
    const int32_t id = pair_id(a, b);
    count_[id] += delta;
    if (delta > 0) {
      std::vector<int32_t>& ws = words_[id];
      if (ws.empty() || ws.back() != w) ws.push_back(w);
      if (raised_stamp_[id] != step) {
        raised_stamp_[id] = step;
        raised_.push_back(id);
      }
    }
  }

  void count_all_pairs() {
    for (int64_t w = 0; w < num_words_; ++w) {
      const int32_t* s = syms_.data() + start_[w];
      for (int32_t i = 0; i + 1 < len_[w]; ++i) add(s[i], s[i + 1], counts_[w], static_cast<int32_t>(w), -2);
    }
    for (size_t id = 0; id < count_.size(); ++id) heap_.push({count_[id], left_[id], right_[id], static_cast<int32_t>(id)});
    raised_.clear();
  }

  // Replaces every non-overlapping (left to right) occurrence of (a, b) by c in the words that hold it.
  // Around an occurrence, (prev, a) becomes (prev, c) and (b, next) becomes (c, next); when occurrences
  // touch (a b a b, or a run of a == b), the transient (c, a) / (b, a) updates cancel out exactly.
  void apply_merge(int32_t pair, int32_t a, int32_t b, int32_t c, int32_t step) {
    std::vector<int32_t> ws;
    ws.swap(words_[pair]);  // after this merge no word holds (a, b) any more
    for (int32_t w : ws) {
      if (word_stamp_[w] == step) continue;  // listed twice
      word_stamp_[w] = step;
      int32_t* s = syms_.data() + start_[w];
      const int32_t len = len_[w];
      const int64_t f = counts_[w];
      int32_t j = 0, r = 0;
      while (r < len) {
        if (r + 1 < len && s[r] == a && s[r + 1] == b) {
          if (j > 0) {
            add(s[j - 1], a, -f, w, step);
            add(s[j - 1], c, f, w, step);
          }
          if (r + 2 < len) {
            add(b, s[r + 2], -f, w, step);
            add(c, s[r + 2], f, w, step);
          }
          count_[pair] -= f;
          s[j++] = c;
          r += 2;
        } else {
          s[j++] = s[r++];
        }
      }
      len_[w] = j;
    }
    for (int32_t id : raised_)
      if (count_[id] > 0) heap_.push({count_[id], left_[id], right_[id], id});
    raised_.clear();
  }

  BpeTrainParams p_;
  int64_t num_words_;
  const int64_t* counts_;
  std::vector<int32_t> syms_;
  std::vector<int64_t> start_;
  std::vector<int32_t> len_;
  std::vector<int32_t> word_stamp_;
  std::vector<std::string> bytes_;
  std::unordered_map<std::string, int32_t> by_bytes_;
  // Pairs, by dense id: their symbols, count, "never merge" flag, and the words they were seen in
  // (a superset: entries are not removed when a pair leaves a word).
  std::unordered_map<uint64_t, int32_t> pair_index_;
  std::vector<int32_t> left_, right_;
  std::vector<int64_t> count_;
  std::vector<uint8_t> banned_;
  std::vector<std::vector<int32_t>> words_;
  std::vector<int32_t> raised_stamp_;
  std::vector<int32_t> raised_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapLess> heap_;
};

}  // namespace

std::vector<BpeMerge> bpe_train_cpu(const int32_t* symbols, const int64_t* offsets, const int64_t* counts, int64_t num_words,
                                    const uint8_t* vocab_bytes, const int64_t* vocab_offsets, int64_t vocab_count,
                                    const BpeTrainParams& p) {
  Trainer t(symbols, offsets, counts, num_words, vocab_bytes, vocab_offsets, vocab_count, p);
  return t.run();
}

}  // namespace lmf::kernels
