/**
 * Unigram tokenizer training, as SentencePiece does it (Kudo 2018, "Subword Regularization"):
 *
 * 1. Words: each text, split at special tokens, goes through lmforge's Unigram pipeline (a '▁' starts
 *    every word, see UNIGRAM_PIPELINE) and the distinct words are counted.
 * 2. Seed: every character (plus printable ASCII and '▁', so the pieces that spell "<0xXX>" always
 *    exist), and the most frequent substrings of 2..maxPieceLength characters, counted over the distinct
 *    words weighted by their counts (SentencePiece finds the same counts with a suffix array), ranked by
 *    frequency × length; initial scores are the log of those weights, normalised.
 * 3. EM, two rounds per pruning step: the E-step (native/kernels/unigram.h) runs forward-backward over
 *    every word's lattice for the expected count of each piece; the M-step is SentencePiece's Bayesian
 *    one, score = digamma(count) - digamma(total), which favours dropping rare pieces, and removes pieces
 *    expected fewer than 0.5 times (characters stay, their count floored at 0.5).
 * 4. Pruning: each multi-character piece's loss is the drop in likelihood if its Viterbi occurrences
 *    were re-segmented by its best alternative segmentation (SentencePiece's approximation, weighted by
 *    the share of words whose Viterbi path uses the piece); the pieces of highest loss survive, the set
 *    shrinking by a factor 0.75 per step until it is within 10% above the target.
 * 5. The final vocabulary: <unk> (id 0, as in SentencePiece), the special tokens, the 256 <0xXX>
 *    byte-fallback pieces, then the pieces by descending score. Special tokens and <unk> score 0 and
 *    are added tokens; byte pieces score below 6 × the lowest piece score (minus 10), so the Viterbi
 *    never prefers a byte piece to spelling its text "<0x41>" with character pieces.
 */
import { ValueError } from '../errors.js';
import { native } from '../native.js';
import { addedTokenRegex, trainedEotToken } from './tokenizer_json.js';
import { UnigramTokenizer, type UnigramAddedToken } from './unigram.js';
import { bytePieceName, bytePieceValue, META, UNIGRAM_PIPELINE, unigramWords } from './unigram_pipeline.js';

export interface UnigramTrainOptions {
  /** Entries of the final vocabulary: <unk> + special tokens + 256 byte pieces + characters + learned pieces. */
  vocabSize: number;
  /** Special tokens, ids 1, 2, ... (after <unk>); default ['<|endoftext|>']. The end-of-document id is '<|endoftext|>' or the first. */
  specialTokens?: string[];
  /** A substring enters the seed vocabulary only if it occurs at least this often. Default 2. */
  minFrequency?: number;
  /** Longest piece, in characters. Default 16. */
  maxPieceLength?: number;
  /** Most substrings in the seed vocabulary. Default 1,000,000 (SentencePiece's default). */
  seedSize?: number;
  /** EM rounds between pruning steps. Default 2. */
  emIterations?: number;
  /** Fraction of the pieces a pruning step keeps. Default 0.75. */
  shrinkingFactor?: number;
}

/** What training did, for logs and reports. */
export interface UnigramTrainReport {
  words: number;
  distinctWords: number;
  /** Words left out because they hold a lone surrogate (the encoder sends those through byte fallback). */
  skippedWords: number;
  characters: number;
  seedPieces: number;
  pruningSteps: number;
  emSteps: number;
  /** Log-likelihood per word of the last E-step. */
  logLikelihoodPerWord: number;
  seconds: number;
  /** Where the time went, in seconds: counting words, the seed substrings, E-steps (lattice passes), M-steps, pruning (the rest of each pruning step). */
  phaseSeconds: { words: number; seed: number; estep: number; mstep: number; prune: number };
}

/** Digamma function ψ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series. */
export function digamma(x: number): number {
  let r = 0;
  let y = x;
  while (y < 10) {
    r -= 1 / y;
    y += 1;
  }
  const f = 1 / (y * y);
  return r + Math.log(y) - 0.5 / y - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))));
}

/** Strings as concatenated code points with offsets (the layout the native passes take). */
export function packCodePoints(strings: readonly string[], op: string): { chars: Int32Array; offsets: Int32Array } {
  let total = 0;
  for (const s of strings) total += s.length; // code points ≤ UTF-16 units
  if (total >= 2 ** 31) throw new ValueError(op, `${total} characters do not fit 32-bit offsets`);
  const chars = new Int32Array(total);
  const offsets = new Int32Array(strings.length + 1);
  let p = 0;
  strings.forEach((s, k) => {
    for (const ch of s) chars[p++] = ch.codePointAt(0)!;
    offsets[k + 1] = p;
  });
  return { chars: chars.subarray(0, p), offsets };
}

/** Pieces as concatenated code points with offsets (the layout the native passes take) and their scores. */
interface PieceSet {
  chars: Int32Array;
  offsets: Int32Array;
  scores: Float64Array;
}

/** The pieces `idx` (ascending) of `ps`, in that order, piece k scoring score(k). */
function selectPieces(ps: PieceSet, idx: readonly number[], score: (k: number) => number): PieceSet {
  let size = 0;
  for (const k of idx) size += ps.offsets[k + 1]! - ps.offsets[k]!;
  const chars = new Int32Array(size);
  const offsets = new Int32Array(idx.length + 1);
  const scores = new Float64Array(idx.length);
  let at = 0;
  idx.forEach((k, j) => {
    for (let i = ps.offsets[k]!; i < ps.offsets[k + 1]!; i++) chars[at++] = ps.chars[i]!;
    offsets[j + 1] = at;
    scores[j] = score(k);
  });
  return { chars, offsets, scores };
}

/**
 * A score with 12 significant digits. `tokenizers` reads tokenizer.json with serde_json, whose default
 * float parser is exact only for short decimals (it may be one ulp off on 17-digit ones), while
 * JSON.parse is always exact; two tied segmentations then differ by an ulp on one side only, and the
 * encodings disagree. Decimals of at most 15 digits parse to the same double in both.
 */
function roundScore(x: number): number {
  return Number(x.toPrecision(12));
}

function hasLoneSurrogate(s: string): boolean {
  return /\p{Surrogate}/u.test(s);
}

function intOption(v: unknown, name: string, lo: number, hi: number, op: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    throw new ValueError(op, `${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  return v;
}

/** Trains a Unigram tokenizer; `report`, when given, receives what training did. */
export function trainUnigram(texts: Iterable<string>, opts: UnigramTrainOptions, report?: (r: UnigramTrainReport) => void): UnigramTokenizer {
  const op = 'trainUnigram';
  const t0 = performance.now();
  if (opts === null || typeof opts !== 'object') throw new ValueError(op, 'options must be an object with vocabSize');
  if (texts === null || typeof texts !== 'object' || typeof (texts as Iterable<string>)[Symbol.iterator] !== 'function')
    throw new ValueError(op, 'texts must be an iterable of strings');
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  if (!Array.isArray(specials)) throw new ValueError(op, 'specialTokens must be an array of strings');
  if (specials.length === 0) throw new ValueError(op, 'specialTokens must hold at least one token (the end-of-document token)');
  const seen = new Set<string>(['<unk>']);
  for (const [i, s] of specials.entries()) {
    if (typeof s !== 'string' || [...s].length < 2)
      throw new ValueError(op, `specialTokens[${i}] must be a string of two or more characters (every single character is a piece), got ${JSON.stringify(s)}`);
    if (seen.has(s)) throw new ValueError(op, `specialTokens[${i}] ${JSON.stringify(s)} is listed twice or is <unk>`);
    if (bytePieceValue(s) >= 0) throw new ValueError(op, `specialTokens[${i}] ${JSON.stringify(s)} is spelled like a byte-fallback piece`);
    seen.add(s);
  }
  const v = intOption(opts.vocabSize, 'vocabSize', 1, 1 << 24, op);
  const minFrequency = intOption(opts.minFrequency ?? 2, 'minFrequency', 1, Number.MAX_SAFE_INTEGER, op);
  const maxLen = intOption(opts.maxPieceLength ?? 16, 'maxPieceLength', 1, 256, op);
  const seedSize = intOption(opts.seedSize ?? 1_000_000, 'seedSize', 1, 1 << 26, op);
  const emIterations = intOption(opts.emIterations ?? 2, 'emIterations', 1, 100, op);
  const shrink = opts.shrinkingFactor ?? 0.75;
  if (typeof shrink !== 'number' || !(shrink > 0 && shrink < 1)) throw new ValueError(op, `shrinkingFactor must be in (0, 1), got ${String(shrink)}`);

  // 1. Words.
  // Split at special tokens as the encoder does with { specialTokens: true } (longest first).
  const splitRe = addedTokenRegex(specials)!;
  const counts = new Map<string, number>();
  let words = 0;
  let skipped = 0;
  let i = 0;
  for (const text of texts) {
    if (typeof text !== 'string') throw new ValueError(op, `texts[${i}] must be a string, got ${typeof text}`);
    i++;
    let at = 0;
    const lone = hasLoneSurrogate(text); // tested per word only where the text has one (most have none)
    const add = (seg: string, first: boolean) => {
      for (const w of unigramWords(seg, first)) {
        if (lone && hasLoneSurrogate(w)) {
          skipped++;
          continue;
        }
        counts.set(w, (counts.get(w) ?? 0) + 1);
        words++;
      }
    };
    splitRe.lastIndex = 0;
    for (let m = splitRe.exec(text); m !== null; m = splitRe.exec(text)) {
      if (m.index > at) add(text.slice(at, m.index), at === 0);
      at = m.index + m[0].length;
    }
    if (at < text.length) add(text.slice(at), at === 0);
  }
  if (counts.size === 0) throw new ValueError(op, 'the corpus is empty: no text to learn pieces from');
  const phase = { words: 0, seed: 0, estep: 0, mstep: 0, prune: 0 };
  let tPhase = performance.now();
  // Adds the time since the last call to `name`.
  const lap = (name: keyof typeof phase) => {
    const t = performance.now();
    phase[name] += (t - tPhase) / 1000;
    tPhase = t;
  };
  phase.words = (tPhase - t0) / 1000;
  const wordList = [...counts.keys()];
  const wordCounts = Float64Array.from(counts.values());

  // 2. Characters (always kept) and the seed.
  const charCount = new Map<string, number>();
  for (const [w, c] of counts) for (const ch of w) charCount.set(ch, (charCount.get(ch) ?? 0) + c);
  charCount.set(META, charCount.get(META) ?? 0);
  for (let c = 0x21; c < 0x7f; c++) {
    const ch = String.fromCharCode(c);
    charCount.set(ch, charCount.get(ch) ?? 0);
  }
  const chars = [...charCount.keys()].sort();
  const required = 1 + specials.length + 256 + chars.length;
  if (v < required)
    throw new ValueError(op, `vocabSize ${v} is smaller than the required pieces: <unk> + ${specials.length} special token(s) + 256 byte pieces + ${chars.length} characters = ${required}`);
  const targetMulti = v - required;

  const packedWords = packCodePoints(wordList, op);
  const nChars = chars.length;
  const charPack = packCodePoints(chars, op);
  // Seed pieces as (start in packedWords.chars, length, weight): no string is made for them, since the
  // seed holds hundreds of thousands of pieces and most are pruned.
  const seedStart: number[] = [];
  const seedLen: number[] = [];
  const seedWeight: number[] = [];
  if (targetMulti > 0 && maxLen >= 2) {
    // Counted natively; a few more than seedSize, since special tokens' and byte pieces' spellings are
    // filtered out below (only a substring as long as one of them can be one).
    const r = native.unigramSubstrings(packedWords.chars, packedWords.offsets, wordCounts, maxLen, minFrequency, seedSize + seen.size + 256);
    const suspectLengths = new Set([...seen].map((s) => [...s].length).concat(bytePieceName(0).length));
    for (let k = 0; k < r.word.length && seedStart.length < seedSize; k++) {
      const a = packedWords.offsets[r.word[k]!]! + r.start[k]!;
      const n = r.length[k]!;
      if (suspectLengths.has(n)) {
        const piece = String.fromCodePoint(...packedWords.chars.subarray(a, a + n));
        if (seen.has(piece) || bytePieceValue(piece) >= 0) continue;
      }
      seedStart.push(a);
      seedLen.push(n);
      seedWeight.push(r.count[k]! * n);
    }
  }

  // The characters, then the seed; initial scores are the log of the weights, normalised.
  let pieces: PieceSet;
  {
    const P = nChars + seedStart.length;
    let size = charPack.chars.length;
    for (const n of seedLen) size += n;
    const pc = new Int32Array(size);
    const po = new Int32Array(P + 1);
    pc.set(charPack.chars);
    po.set(charPack.offsets);
    let at = charPack.chars.length;
    seedStart.forEach((a, j) => {
      for (let i = a; i < a + seedLen[j]!; i++) pc[at++] = packedWords.chars[i]!;
      po[nChars + j + 1] = at;
    });
    const w = new Float64Array(P);
    chars.forEach((ch, k) => (w[k] = Math.max(charCount.get(ch)!, 0.5)));
    w.set(seedWeight, nChars);
    let total = 0;
    for (const x of w) total += x;
    const logTotal = Math.log(total);
    pieces = { chars: pc, offsets: po, scores: w.map((x) => Math.log(x) - logTotal) };
  }
  const numPieces = () => pieces.offsets.length - 1;
  lap('seed');
  const desiredMulti = Math.ceil(1.1 * targetMulti);

  // 3-4. EM and pruning.
  let emSteps = 0;
  let pruningSteps = 0;
  let logLik = 0;
  const estep = () => {
    emSteps++;
    const r = native.unigramEStep(packedWords.chars, packedWords.offsets, wordCounts, pieces.chars, pieces.offsets, pieces.scores);
    lap('estep');
    return r;
  };
  for (;;) {
    for (let it = 0; it < emIterations; it++) {
      const r = estep();
      logLik = r.logLikelihood / r.wordCount;
      // M-step: digamma(count) - digamma(total) over the pieces that stay.
      const keep: number[] = [];
      let total = 0;
      for (let k = 0; k < numPieces(); k++) {
        if (k >= nChars && r.expected[k]! < 0.5) continue;
        keep.push(k);
        total += Math.max(r.expected[k]!, 0.5);
      }
      const dt = digamma(total);
      pieces = selectPieces(pieces, keep, (k) => digamma(Math.max(r.expected[k]!, 0.5)) - dt);
      lap('mstep');
    }
    const multi = numPieces() - nChars;
    if (multi <= desiredMulti) break;

    // Pruning step.
    pruningSteps++;
    const r = estep();
    const alt = native.unigramAlternatives(pieces.chars, pieces.offsets, pieces.scores);
    let sumV = 0;
    for (let k = 0; k < numPieces(); k++) sumV += r.viterbi[k]!;
    const logSum = Math.log(sumV);
    const always: number[] = [];
    const cand: [number, number][] = [];
    for (let k = nChars; k < numPieces(); k++) {
      const f = r.viterbi[k]!;
      const st = alt.status[k]!;
      if (st === -1) {
        always.push(k);
        continue;
      }
      if (f === 0 || st === 0) continue; // never on a Viterbi path: free to drop
      const a0 = alt.offsets[k]!;
      const a1 = alt.offsets[k + 1]!;
      const logSumAlt = Math.log(sumV + f * (a1 - a0 - 1));
      let logProbAlt = 0;
      for (let j = a0; j < a1; j++) logProbAlt += Math.log(r.viterbi[alt.ids[j]!]! + f) - logSumAlt;
      const share = r.cover[k]! / r.wordCount;
      cand.push([k, share * (Math.log(f) - logSum - logProbAlt)]);
    }
    cand.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
    const target = Math.max(desiredMulti, Math.floor(shrink * multi));
    const kept = new Set<number>(always);
    for (const [k] of cand) {
      if (kept.size >= target) break;
      kept.add(k);
    }
    const idx: number[] = [];
    for (let k = 0; k < numPieces(); k++) if (k < nChars || kept.has(k)) idx.push(k);
    const old = pieces.scores;
    pieces = selectPieces(pieces, idx, (k) => old[k]!);
    lap('prune');
  }

  // 5. The final vocabulary.
  const { scores } = pieces;
  const names = Array.from({ length: numPieces() }, (_, k) => String.fromCodePoint(...pieces.chars.subarray(pieces.offsets[k]!, pieces.offsets[k + 1]!)));
  const multiIdx: number[] = [];
  for (let k = nChars; k < numPieces(); k++) multiIdx.push(k);
  const byScore = (a: number, b: number) => scores[b]! - scores[a]! || (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0);
  multiIdx.sort(byScore);
  if (multiIdx.length > targetMulti) multiIdx.length = targetMulti;
  const normal = [...Array.from({ length: nChars }, (_, k) => k), ...multiIdx].sort(byScore);
  let minScore = 0;
  for (const k of normal) minScore = Math.min(minScore, scores[k]!);
  const byteScore = roundScore(6 * minScore - 10);
  const vocab: [string, number][] = [['<unk>', 0], ...specials.map((s): [string, number] => [s, 0])];
  for (let b = 0; b < 256; b++) vocab.push([bytePieceName(b), byteScore]);
  for (const k of normal) vocab.push([names[k]!, roundScore(scores[k]!)]);
  const added: UnigramAddedToken[] = [{ id: 0, content: '<unk>', special: true }, ...specials.map((s, j) => ({ id: j + 1, content: s, special: true }))];

  const tok = new UnigramTokenizer({
    vocab,
    unkId: 0,
    byteFallback: true,
    added,
    normalizer: UNIGRAM_PIPELINE.normalizer,
    preTokenizer: UNIGRAM_PIPELINE.pre_tokenizer,
    decoder: UNIGRAM_PIPELINE.decoder,
    eotToken: trainedEotToken(specials),
  });
  report?.({
    words,
    distinctWords: counts.size,
    skippedWords: skipped,
    characters: nChars,
    seedPieces: seedStart.length,
    pruningSteps,
    emSteps,
    logLikelihoodPerWord: logLik,
    seconds: (performance.now() - t0) / 1000,
    phaseSeconds: phase,
  });
  return tok;
}
