// Standalone checks of the BPE merge loop without Node: the incremental trainer against a brute-force
// trainer that recounts every pair before every merge, on random corpora with tiny alphabets (many ties
// and runs of one symbol) and on initial vocabularies with multi-byte entries, where two different pairs
// spell the same bytes (the second reuses the first one's id) and where a merge would spell a banned
// (special) entry. Plus the op's validation.
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../kernels/bpe.h"
#include "../ops/ops.h"

using lmf::kernels::BpeMerge;

namespace {
int g_passed = 0, g_failed = 0;
void check(bool ok, const std::string& what) {
  if (ok) ++g_passed;
  else { ++g_failed; std::printf("FAIL: %s\n", what.c_str()); }
}

struct Corpus {
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  std::vector<std::string> vocab;  // initial entries' bytes
  int64_t num_banned = 0;
};

// The rules of bpe.h, by recounting: max count, then smaller left, then smaller right; a pair merged
// once; bytes of an existing entry reuse its id; bytes of a banned entry skip the pair.
std::vector<BpeMerge> brute_force(Corpus c, int64_t vocab_size, int64_t min_frequency) {
  std::vector<BpeMerge> merges;
  std::map<std::pair<int32_t, int32_t>, bool> done;
  std::vector<std::string> vocab = c.vocab;
  while (static_cast<int64_t>(vocab.size()) < vocab_size) {
    std::map<std::pair<int32_t, int32_t>, int64_t> counts;
    for (size_t w = 0; w < c.words.size(); ++w)
      for (size_t i = 0; i + 1 < c.words[w].size(); ++i) counts[{c.words[w][i], c.words[w][i + 1]}] += c.counts[w];
    bool found = false;
    std::pair<int32_t, int32_t> best{};
    int64_t best_count = 0;
    for (const auto& [p, n] : counts) {  // std::map iterates pairs in (left, right) order: first max wins ties
      if (done.count(p) || n <= 0) continue;
      if (!found || n > best_count) { found = true; best = p; best_count = n; }
    }
    if (!found || best_count < min_frequency) break;
    done[best] = true;
    const std::string bytes = vocab[best.first] + vocab[best.second];
    int32_t result = -1;
    for (size_t v = 0; v < vocab.size(); ++v)
      if (vocab[v] == bytes) result = static_cast<int32_t>(v);
    if (result >= 0 && result < c.num_banned) continue;
    if (result < 0) {
      result = static_cast<int32_t>(vocab.size());
      vocab.push_back(bytes);
    }
    merges.push_back({best.first, best.second, result});
    for (auto& w : c.words) {
      std::vector<int32_t> out;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) { out.push_back(result); ++i; }
        else out.push_back(w[i]);
      }
      w = out;
    }
  }
  return merges;
}

std::vector<BpeMerge> run_op(const Corpus& c, int64_t vocab_size, int64_t min_frequency) {
  std::vector<int32_t> symbols, woff{0}, voff{0};
  std::vector<double> counts;
  std::string vbytes;
  for (size_t w = 0; w < c.words.size(); ++w) {
    symbols.insert(symbols.end(), c.words[w].begin(), c.words[w].end());
    woff.push_back(static_cast<int32_t>(symbols.size()));
    counts.push_back(static_cast<double>(c.counts[w]));
  }
  for (const auto& v : c.vocab) {
    vbytes += v;
    voff.push_back(static_cast<int32_t>(vbytes.size()));
  }
  lmf::ops::BpeTrainInput in;
  in.symbols = symbols.data();
  in.num_symbols = static_cast<int64_t>(symbols.size());
  in.word_offsets = woff.data();
  in.word_counts = counts.data();
  in.num_words = static_cast<int64_t>(c.words.size());
  in.vocab_bytes = reinterpret_cast<const uint8_t*>(vbytes.data());
  in.num_vocab_bytes = static_cast<int64_t>(vbytes.size());
  in.vocab_offsets = voff.data();
  in.vocab_count = static_cast<int64_t>(c.vocab.size());
  return lmf::ops::bpe_train(in, vocab_size, min_frequency, c.num_banned);
}

bool same(const std::vector<BpeMerge>& a, const std::vector<BpeMerge>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].left != b[i].left || a[i].right != b[i].right || a[i].result != b[i].result) return false;
  return true;
}

std::string show(const std::vector<BpeMerge>& m) {
  std::string s;
  for (const auto& x : m) s += "(" + std::to_string(x.left) + "," + std::to_string(x.right) + ")->" + std::to_string(x.result) + " ";
  return s;
}

void test_random() {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    Corpus c;
    // Entries: optionally a banned one first, then single letters, then (sometimes) multi-letter entries
    // so that different pairs can spell the same bytes.
    const int letters = 2 + static_cast<int>(rng() % 4);
    if (trial % 3 == 0) { c.vocab.push_back("ab"); c.num_banned = 1; }
    const int32_t first = static_cast<int32_t>(c.vocab.size());
    for (int k = 0; k < letters; ++k) c.vocab.push_back(std::string(1, static_cast<char>('a' + k)));
    if (trial % 2 == 1) { c.vocab.push_back("bc"); c.vocab.push_back("cab"); }
    const int32_t nsym = static_cast<int32_t>(c.vocab.size()) - first;
    const int nwords = 1 + static_cast<int>(rng() % 40);
    for (int w = 0; w < nwords; ++w) {
      std::vector<int32_t> word(1 + rng() % 14);
      for (auto& s : word) s = first + static_cast<int32_t>(rng() % nsym);
      c.words.push_back(word);
      c.counts.push_back(1 + static_cast<int64_t>(rng() % 5));
    }
    const int64_t vocab_size = static_cast<int64_t>(c.vocab.size()) + static_cast<int64_t>(rng() % 30);
    const int64_t min_freq = static_cast<int64_t>(rng() % 3);
    const auto got = run_op(c, vocab_size, min_freq), want = brute_force(c, vocab_size, min_freq);
    if (!same(got, want)) {
      check(false, "trial " + std::to_string(trial) + ": got " + show(got) + "\n   want " + show(want));
      return;
    }
  }
  check(true, "random corpora");
}

void test_reuse_and_banned() {
  // Entries: "a" "b" "c" "bc". Word 1: a b c (x5), word 2: a bc (x3). (a, b) -> "ab" first (count 5),
  // then (ab, c) -> "abc" (5), then (a, bc) spells "abc" again and reuses that id.
  Corpus c;
  c.vocab = {"a", "b", "c", "bc"};
  c.words = {{0, 1, 2}, {0, 3}};
  c.counts = {5, 3};
  const auto m = run_op(c, 100, 0);
  check(m.size() == 3 && m[0].result == 4 && m[1].left == 4 && m[1].right == 2 && m[1].result == 5 && m[2].left == 0 &&
            m[2].right == 3 && m[2].result == 5,
        "a second pair spelling the same bytes reuses the id: " + show(m));
  // With "ab" banned (entry 0), (a, b) is never merged; the next best pair is.
  Corpus d;
  d.vocab = {"ab", "a", "b", "c"};
  d.words = {{1, 2, 3}};
  d.counts = {4};
  d.num_banned = 1;
  const auto n = run_op(d, 100, 0);
  check(n.size() == 2 && n[0].left == 2 && n[0].right == 3 && n[1].left == 1 && n[1].right == 4,
        "a merge spelling a banned entry is skipped: " + show(n));
  // vocab_size stops the loop; min_frequency too.
  check(run_op(c, 5, 0).size() == 1, "vocab_size counts entries");
  check(run_op(c, 100, 6).empty(), "min_frequency stops before the first merge");
}

void test_validation() {
  Corpus c;
  c.vocab = {"a", "b"};
  c.words = {{0, 1}};
  c.counts = {1};
  auto throws = [&](Corpus x, int64_t vs, int64_t mf, const std::string& what) {
    try {
      run_op(x, vs, mf);
      check(false, what + " should throw");
    } catch (const lmf::Error& e) {
      check(e.kind() == lmf::ErrorKind::value, what + " is a value error: " + e.what());
    }
  };
  throws(c, 1, 0, "vocab_size below the initial vocabulary");
  throws(c, 10, -1, "negative min_frequency");
  Corpus bad = c;
  bad.words = {{0, 7}};
  throws(bad, 10, 0, "symbol out of range");
  bad = c;
  bad.counts = {0};
  throws(bad, 10, 0, "zero count");
  bad = c;
  bad.vocab = {"a", "a"};
  throws(bad, 10, 0, "repeated entry");
  bad = c;
  bad.words = {{}};
  throws(bad, 10, 0, "empty word");
  bad = c;
  bad.num_banned = 1;
  throws(bad, 10, 0, "word holding a special entry");
  Corpus empty;
  empty.vocab = {"a"};
  check(run_op(empty, 10, 0).empty(), "no words: no merges");
}

}  // namespace

int main() {
  test_random();
  test_reuse_and_banned();
  test_validation();
  std::printf("bpe_test: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
