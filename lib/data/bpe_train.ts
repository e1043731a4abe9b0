/**
 * Trains a byte-level BPE: GPT-2 pre-tokenization and word counting here, the merge loop natively
 * (native/kernels/bpe.h: pair counts updated incrementally, a lazy max-heap, deterministic ties).
 *
 * The vocabulary: the special tokens first (ids 0..), then the 256 single bytes by value, then one token
 * per merge in merge order (a merge whose bytes another merge already made reuses that token, as
 * Hugging Face's trainer does, so a vocabulary may end with fewer entries than merges). Training stops
 * at `vocabSize` entries, or earlier when no pair occurs `minFrequency` times.
 */
import { ValueError } from '../errors.js';
import { native } from '../native.js';
import { checkOptions } from '../ops/util.js';
import { BpeTokenizer, type BpeParts } from './bpe.js';
import { forEachPiece, gpt2SplitRegex, tokenStringToBytes, wtf8Encode } from './pretokenize.js';
import { trainedEotToken } from './tokenizer_json.js';

export interface BpeTrainOptions {
  /** Target vocabulary size, special tokens and the 256 bytes included. */
  vocabSize: number;
  /** Special tokens, ids 0, 1, ...; default ['<|endoftext|>']. The end-of-document id is '<|endoftext|>' or the first. */
  specialTokens?: string[];
  /** A pair is merged only if it occurs at least this often (counting repeated words); default 2. */
  minFrequency?: number;
}

/** Word counts of texts under the GPT-2 split (the trainer's first pass; exported for tests and stats). */
export function countWords(texts: Iterable<string>, op = 'countWords'): Map<string, number> {
  if (texts === null || typeof texts !== 'object' || typeof (texts as Iterable<string>)[Symbol.iterator] !== 'function')
    throw new ValueError(op, 'texts must be an iterable of strings');
  const counts = new Map<string, number>();
  const re = gpt2SplitRegex();
  let i = 0;
  for (const text of texts) {
    if (typeof text !== 'string') throw new ValueError(op, `texts[${i}] must be a string, got ${typeof text}`);
    forEachPiece(text, re, (piece) => counts.set(piece, (counts.get(piece) ?? 0) + 1));
    i++;
  }
  return counts;
}

export function trainBpe(texts: Iterable<string>, opts: BpeTrainOptions): BpeTokenizer {
  const op = 'trainBpe';
  if (opts === null || typeof opts !== 'object') throw new ValueError(op, 'options must be an object with vocabSize');
  checkOptions(op, opts, ['vocabSize', 'specialTokens', 'minFrequency']);
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 2;
  if (!Array.isArray(specials)) throw new ValueError(op, 'specialTokens must be an array of strings');
  if (specials.length === 0) throw new ValueError(op, 'specialTokens must hold at least one token (the end-of-document token)');
  const seen = new Set<string>();
  for (const [i, s] of specials.entries()) {
    if (typeof s !== 'string' || s === '') throw new ValueError(op, `specialTokens[${i}] must be a non-empty string, got ${JSON.stringify(s)}`);
    if (seen.has(s)) throw new ValueError(op, `specialTokens[${i}] ${JSON.stringify(s)} is listed twice`);
    seen.add(s);
    // tokenizer.json keys tokens by their spelling: a special spelled like one byte would collide with it.
    const spelled = tokenStringToBytes(s);
    if (spelled !== null && spelled.length === 1) throw new ValueError(op, `specialTokens[${i}] ${JSON.stringify(s)} is spelled like a single byte in tokenizer.json`);
  }
  const minVocab = specials.length + 256;
  const v = opts.vocabSize;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ValueError(op, `vocabSize must be an integer, got ${String(v)}`);
  if (v < minVocab)
    throw new ValueError(op, `vocabSize ${v} is smaller than the alphabet: ${specials.length} special token(s) + 256 bytes = ${minVocab}`);
  if (v > 1 << 24) throw new ValueError(op, `vocabSize ${v} is larger than 2^24`);
  if (typeof minFrequency !== 'number' || !Number.isInteger(minFrequency) || minFrequency < 0)
    throw new ValueError(op, `minFrequency must be a non-negative integer, got ${String(minFrequency)}`);

  const counts = countWords(texts, op);
  if (counts.size === 0) throw new ValueError(op, 'the corpus is empty: no text to learn merges from');

  // Words as byte symbols (id = specials + byte value), flattened with offsets.
  const words: Uint8Array[] = [];
  let total = 0;
  for (const w of counts.keys()) {
    const b = wtf8Encode(w);
    words.push(b);
    total += b.length;
  }
  if (total >= 2 ** 31) throw new ValueError(op, `the corpus has ${total} bytes of distinct words, more than 2^31`);
  const ns = specials.length;
  const symbols = new Int32Array(total);
  const wordOffsets = new Int32Array(words.length + 1);
  const wordCounts = new Float64Array(words.length);
  let p = 0;
  let k = 0;
  for (const c of counts.values()) {
    const b = words[k]!;
    for (let i = 0; i < b.length; i++) symbols[p + i] = ns + b[i]!;
    p += b.length;
    wordCounts[k] = c;
    wordOffsets[++k] = p;
  }

  // The initial vocabulary's bytes, for the trainer's "same bytes, same token" rule. A special token
  // stands for the bytes that spell it in tokenizer.json (or its own text's bytes when it is not
  // spelled with byte characters), so that no merge can make a token spelled like a special one.
  const initial: Uint8Array[] = specials.map((s) => tokenStringToBytes(s) ?? wtf8Encode(s));
  for (let b = 0; b < 256; b++) initial.push(Uint8Array.of(b));
  const vocabOffsets = new Int32Array(initial.length + 1);
  for (let i = 0; i < initial.length; i++) vocabOffsets[i + 1] = vocabOffsets[i]! + initial[i]!.length;
  const vocabBytes = new Uint8Array(vocabOffsets[initial.length]!);
  initial.forEach((b, i) => vocabBytes.set(b, vocabOffsets[i]!));

  const triples = native.bpeTrain(symbols, wordOffsets, wordCounts, vocabBytes, vocabOffsets, v, minFrequency, ns);

  const tokens: BpeParts['tokens'] = specials.map((s) => ({ added: s }));
  for (let b = 0; b < 256; b++) tokens.push(Uint8Array.of(b));
  const merges = new Int32Array((triples.length / 3) * 2);
  for (let m = 0; m < triples.length / 3; m++) {
    const [a, b, c] = [triples[3 * m]!, triples[3 * m + 1]!, triples[3 * m + 2]!];
    merges[2 * m] = a;
    merges[2 * m + 1] = b;
    if (c === tokens.length) {
      const x = tokens[a] as Uint8Array;
      const y = tokens[b] as Uint8Array;
      const xy = new Uint8Array(x.length + y.length);
      xy.set(x, 0);
      xy.set(y, x.length);
      tokens.push(xy);
    }
  }
  return new BpeTokenizer({ tokens, merges, eotToken: trainedEotToken(specials) });
}
