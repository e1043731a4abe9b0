/**
 * Tokenized datasets: train/validation split by document, packing with end-of-document tokens, a binary
 * token cache with a JSON manifest, and seeded samplers whose position can be saved and restored.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import { ArgumentTypeError, ValueError } from '../errors.js';
import { checkFinite, checkFunction, checkInt, checkObject, checkOptions, describe } from '../ops/util.js';
import type { Document } from './documents.js';
import type { Tokenizer, TokenizerSpec } from './tokenizer.js';

export type TokenArray = Uint16Array | Uint32Array;

/** One split, packed: each document's tokens followed by the end-of-document id. */
export interface TokenSplit {
  tokens: TokenArray;
  /** Tokens of each document (without its end-of-document token), in packing order. */
  docLengths: number[];
  /** UTF-8 bytes of the split's text: bits per byte divides by these. */
  bytes: number;
}

export interface TokenDataset {
  tokenizer: TokenizerSpec;
  vocabSize: number;
  eot: number;
  train: TokenSplit;
  val: TokenSplit;
}

export interface SplitOptions {
  /** Share of documents held out for validation (default 0.05; at least one document when there are two or more). */
  valFraction?: number;
  /** Seed of the shuffle that picks the validation documents (default 0). */
  seed?: number;
}

// ---- a small counter-based generator: the n-th number depends on (seed, n) alone ----

function mix32(x: number): number {
  // murmur3's finaliser: a bijection on 32 bits with good avalanche.
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A uniform number in [0, 1) from (seed, n), with 53 random bits. Stateless, so a position is just n. */
export function hashUniform(seed: number, n: number): number {
  const s = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 2 ** 32) + 0x9e3779b9));
  const lo = n >>> 0, hi = Math.floor(n / 2 ** 32) >>> 0;
  const a = mix32(s ^ mix32(lo ^ 0x68e31da4) ^ mix32(hi + 0x1b56c4e9));
  const b = mix32(a ^ 0xb5297a4d ^ mix32(lo + 0x3c6ef372));
  return ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992;
}

function isTokenArray(x: unknown): x is TokenArray {
  return x instanceof Uint16Array || x instanceof Uint32Array;
}

/** Throws unless `split` is a TokenSplit: packed tokens (Uint16Array or Uint32Array) and a byte count. */
export function checkSplit(op: string, name: string, split: unknown): asserts split is TokenSplit {
  const s = checkObject(op, name, split);
  if (!isTokenArray(s.tokens)) throw new ArgumentTypeError(op, `${name}.tokens must be a Uint16Array or Uint32Array, got ${describe(s.tokens)}`);
  checkFinite(op, `${name}.bytes`, s.bytes, 0);
}

/** Indices of the validation documents: a seeded shuffle of 0..n-1, first ⌈valFraction·n⌉ taken. */
export function splitDocuments(n: number, opts: SplitOptions = {}): { train: number[]; val: number[] } {
  const op = 'splitDocuments';
  checkOptions(op, opts, ['valFraction', 'seed']);
  checkInt(op, 'n', n, 0, 2 ** 32 - 1); // the most elements a JS array holds
  const frac = opts.valFraction ?? 0.05;
  const seed = opts.seed ?? 0;
  if (typeof frac !== 'number' || !(frac >= 0 && frac < 1)) throw new ValueError(op, `valFraction must be in [0, 1), got ${JSON.stringify(frac)}`);
  if (!Number.isInteger(seed) || seed < 0) throw new ValueError(op, `seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(hashUniform(seed, i) * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  let nVal = frac > 0 && n >= 2 ? Math.max(1, Math.ceil(frac * n)) : 0;
  if (nVal >= n) nVal = n - 1;
  const val = idx.slice(0, nVal).sort((a, b) => a - b);
  const isVal = new Set(val);
  return { train: idx.filter((i) => !isVal.has(i)).sort((a, b) => a - b), val };
}

/**
 * Packs documents' tokens into one array, each followed by `eot`; uint16 when the vocabulary fits. Every id,
 * eot included, must lie in [0, vocabSize): one beyond it would be stored wrapped (70000 as 4464 in uint16).
 */
export function packDocuments(docs: readonly Int32Array[], eot: number, vocabSize: number): TokenArray {
  const op = 'packDocuments';
  if (!Array.isArray(docs)) throw new ArgumentTypeError(op, `docs must be an array of Int32Array, got ${describe(docs)}`);
  checkInt(op, 'vocabSize', vocabSize, 1, 2 ** 32);
  checkInt(op, 'eot', eot, 0, vocabSize - 1);
  docs.forEach((d, i) => {
    if (!(d instanceof Int32Array)) throw new ArgumentTypeError(op, `docs[${i}] must be an Int32Array, got ${describe(d)}`);
    for (let j = 0; j < d.length; j++)
      if (d[j]! < 0 || d[j]! >= vocabSize) throw new ValueError(op, `docs[${i}][${j}] = ${d[j]} is outside the vocabulary [0, ${vocabSize})`);
  });
  const total = docs.reduce((s, d) => s + d.length + 1, 0);
  const out = vocabSize <= 65536 ? new Uint16Array(total) : new Uint32Array(total);
  let o = 0;
  for (const d of docs) {
    out.set(d, o);
    o += d.length;
    out[o++] = eot;
  }
  return out;
}

export interface TokenizeOptions extends SplitOptions {
  /** A folder for the token cache (tokens.bin + manifest.json under a key of the text and tokenizer). */
  cacheDir?: string;
  /** Called once in a while with (documents done, total). */
  onProgress?: (done: number, total: number) => void;
}

interface Manifest {
  format: 'lmforge-tokens';
  version: 1;
  key: string;
  tokenizer: TokenizerSpec;
  vocabSize: number;
  eot: number;
  dtype: 'uint16' | 'uint32';
  split: { valFraction: number; seed: number };
  train: { offset: number; tokens: number; bytes: number; docLengths: number[] };
  val: { offset: number; tokens: number; bytes: number; docLengths: number[] };
}

function cacheKey(docs: readonly Document[], tok: Tokenizer, split: Required<SplitOptions>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ tokenizer: tok.spec, split }));
  for (const d of docs) {
    h.update(String(Buffer.byteLength(d.text)));
    h.update('\0');
    h.update(d.text);
  }
  return h.digest('hex').slice(0, 24);
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function readCache(dir: string, key: string): TokenDataset | null {
  const mPath = join(dir, 'manifest.json');
  if (!existsSync(mPath)) return null;
  try {
    const m = JSON.parse(readFileSync(mPath, 'utf8')) as Manifest;
    if (m.format !== 'lmforge-tokens' || m.version !== 1 || m.key !== key) return null;
    const buf = readFileSync(join(dir, 'tokens.bin'));
    const width = m.dtype === 'uint16' ? 2 : 4;
    if (buf.length !== (m.train.tokens + m.val.tokens) * width) return null;
    const copy = new Uint8Array(buf).buffer; // aligned copy
    const all = width === 2 ? new Uint16Array(copy) : new Uint32Array(copy);
    const part = (s: Manifest['train']): TokenSplit => ({ tokens: all.subarray(s.offset, s.offset + s.tokens), docLengths: s.docLengths, bytes: s.bytes });
    return { tokenizer: m.tokenizer, vocabSize: m.vocabSize, eot: m.eot, train: part(m.train), val: part(m.val) };
  } catch {
    return null; // an unreadable cache is rebuilt, never trusted
  }
}

/**
 * Tokenizes documents, splits them by document into train and validation, and packs each split with
 * end-of-document tokens. With cacheDir, the result is stored as tokens.bin (uint16 or uint32, train
 * then validation) plus manifest.json, under a key of the texts, tokenizer and split, and reused.
 */
export async function tokenizeDocuments(docs: readonly Document[], tok: Tokenizer, opts: TokenizeOptions = {}): Promise<TokenDataset> {
  const op = 'tokenizeDocuments';
  if (!Array.isArray(docs)) throw new ArgumentTypeError(op, `docs must be an array of { text } documents, got ${describe(docs)}`);
  docs.forEach((d, i) => {
    if (typeof checkObject(op, `docs[${i}]`, d).text !== 'string') throw new ArgumentTypeError(op, `docs[${i}].text must be a string, got ${describe((d as { text: unknown }).text)}`);
  });
  checkFunction(op, 'tokenizer.encode', checkObject(op, 'tokenizer', tok).encode);
  if (docs.length === 0) throw new ValueError(op, 'no documents to tokenize');
  const split = { valFraction: opts.valFraction ?? 0.05, seed: opts.seed ?? 0 };
  const { train, val } = splitDocuments(docs.length, split);
  const key = cacheKey(docs, tok, split);
  const dir = opts.cacheDir ? join(opts.cacheDir, key) : null;
  if (dir) {
    const hit = readCache(dir, key);
    if (hit) return hit;
  }
  const encoded: Int32Array[] = [];
  for (let i = 0; i < docs.length; i++) {
    const ids = await tok.encode(docs[i]!.text);
    for (let j = 0; j < ids.length; j++)
      if (ids[j]! < 0 || ids[j]! >= tok.vocabSize) throw new ValueError(op, `${tok.name} produced id ${ids[j]} outside its vocabulary [0, ${tok.vocabSize})`);
    encoded.push(ids);
    if (opts.onProgress && (i % 50 === 49 || i === docs.length - 1)) opts.onProgress(i + 1, docs.length);
  }
  const build = (idx: number[]): TokenSplit => ({
    tokens: packDocuments(idx.map((i) => encoded[i]!), tok.eot, tok.vocabSize),
    docLengths: idx.map((i) => encoded[i]!.length),
    bytes: idx.reduce((s, i) => s + Buffer.byteLength(docs[i]!.text), 0),
  });
  const ds: TokenDataset = { tokenizer: tok.spec, vocabSize: tok.vocabSize, eot: tok.eot, train: build(train), val: build(val) };
  if (dir) {
    mkdirSync(dir, { recursive: true });
    const wide = ds.train.tokens instanceof Uint32Array;
    const all = wide ? new Uint32Array(ds.train.tokens.length + ds.val.tokens.length) : new Uint16Array(ds.train.tokens.length + ds.val.tokens.length);
    all.set(ds.train.tokens, 0);
    all.set(ds.val.tokens, ds.train.tokens.length);
    const manifest: Manifest = {
      format: 'lmforge-tokens', version: 1, key, tokenizer: tok.spec, vocabSize: tok.vocabSize, eot: tok.eot, dtype: wide ? 'uint32' : 'uint16', split,
      train: { offset: 0, tokens: ds.train.tokens.length, bytes: ds.train.bytes, docLengths: ds.train.docLengths },
      val: { offset: ds.train.tokens.length, tokens: ds.val.tokens.length, bytes: ds.val.bytes, docLengths: ds.val.docLengths },
    };
    // tokens first, manifest last: a manifest only exists next to a complete token file.
    writeAtomic(join(dir, 'tokens.bin'), new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    writeAtomic(join(dir, 'manifest.json'), `${JSON.stringify(manifest)}\n`);
  }
  return ds;
}

// ---- samplers ----

export interface Batch {
  /** [batch·seqLen] int32, row-major */
  inputs: Int32Array;
  /** the inputs shifted by one token */
  targets: Int32Array;
  batch: number;
  seqLen: number;
}

export interface SamplerState {
  kind: 'random' | 'sequential';
  /** Windows handed out so far. */
  position: number;
  seed: number;
}

export interface Sampler {
  next(batch: number): Batch;
  state(): SamplerState;
  setState(s: SamplerState): void;
}

const MAX_IDS = 2 ** 31 - 1;

abstract class WindowSampler implements Sampler {
  abstract readonly kind: 'random' | 'sequential';
  position = 0;
  protected readonly windows: number;

  constructor(protected readonly tokens: TokenArray, readonly seqLen: number, readonly seed: number, op: string) {
    if (!isTokenArray(tokens)) throw new ArgumentTypeError(op, `tokens must be a Uint16Array or Uint32Array, got ${describe(tokens)}`);
    if (!Number.isInteger(seqLen) || seqLen < 1) throw new ValueError(op, `seqLen must be an integer >= 1, got ${JSON.stringify(seqLen)}`);
    if (!Number.isInteger(seed) || seed < 0) throw new ValueError(op, `seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
    // A window needs seqLen inputs plus one more token for the last target.
    if (tokens.length < seqLen + 1) throw new ValueError(op, `the split has ${tokens.length} tokens, fewer than seqLen + 1 = ${seqLen + 1}; use a shorter seqLen or more text`);
    this.windows = tokens.length - seqLen;
  }

  protected abstract start(n: number): number;

  next(batch: number): Batch {
    const T = this.seqLen;
    // batch·seqLen ids per array; more than a typed array holds is refused, not handed to a RangeError.
    checkInt(`${this.constructor.name}.next`, 'batch', batch, 1, Math.floor(MAX_IDS / T));
    const inputs = new Int32Array(batch * T), targets = new Int32Array(batch * T);
    for (let b = 0; b < batch; b++) {
      const s = this.start(this.position++);
      for (let t = 0; t < T; t++) {
        inputs[b * T + t] = this.tokens[s + t]!;
        targets[b * T + t] = this.tokens[s + t + 1]!;
      }
    }
    return { inputs, targets, batch, seqLen: T };
  }

  state(): SamplerState {
    return { kind: this.kind, position: this.position, seed: this.seed };
  }

  setState(s: SamplerState): void {
    const op = `${this.constructor.name}.setState`;
    if (s?.kind !== this.kind) throw new ValueError(op, `the state is for a '${String(s?.kind)}' sampler, this one is '${this.kind}'`);
    if (s.seed !== this.seed) throw new ValueError(op, `the state has seed ${s.seed}, this sampler ${this.seed}`);
    if (!Number.isInteger(s.position) || s.position < 0) throw new ValueError(op, `position must be a non-negative integer, got ${JSON.stringify(s.position)}`);
    this.position = s.position;
  }
}

/**
 * Document ids of packed windows, for attention that stays inside documents: `inputs` holds `rows` windows
 * of `seqLen` tokens; in each, the id counts the end-of-document tokens before a position, so an `eot`
 * belongs to the document it ends and the next token starts a new one. int32 [rows·seqLen], row-major.
 */
export function documentIds(inputs: Int32Array, rows: number, seqLen: number, eot: number): Int32Array {
  const op = 'documentIds';
  if (!(inputs instanceof Int32Array)) throw new ArgumentTypeError(op, `inputs must be an Int32Array, got ${describe(inputs)}`);
  checkInt(op, 'rows', rows, 1);
  checkInt(op, 'seqLen', seqLen, 1);
  checkInt(op, 'eot', eot, 0);
  if (inputs.length !== rows * seqLen) throw new ValueError(op, `inputs has ${inputs.length} ids, not rows·seqLen = ${rows}·${seqLen} = ${rows * seqLen}`);
  const ids = new Int32Array(inputs.length);
  for (let r = 0; r < rows; r++) {
    let doc = 0;
    for (let t = 0; t < seqLen; t++) {
      ids[r * seqLen + t] = doc;
      if (inputs[r * seqLen + t] === eot) doc++;
    }
  }
  return ids;
}

/** Windows starting at uniformly random token offsets (any offset, so windows cross document boundaries). */
export class RandomWindowSampler extends WindowSampler {
  readonly kind = 'random' as const;
  constructor(tokens: TokenArray, seqLen: number, seed = 0) {
    super(tokens, seqLen, seed, 'RandomWindowSampler');
  }
  protected start(n: number): number {
    return Math.floor(hashUniform(this.seed, n) * (this.windows + 1));
  }
}

/** Non-overlapping windows in order (offsets 0, seqLen, 2·seqLen, …), wrapping after the last full one. */
export class SequentialSampler extends WindowSampler {
  readonly kind = 'sequential' as const;
  readonly perEpoch: number;
  constructor(tokens: TokenArray, seqLen: number) {
    super(tokens, seqLen, 0, 'SequentialSampler');
    this.perEpoch = Math.floor((tokens.length - 1) / seqLen);
  }
  protected start(n: number): number {
    return (n % this.perEpoch) * this.seqLen;
  }
}

// ---- statistics ----

export interface DataStats {
  documents: number;
  /** Tokens of the documents (end-of-document tokens not counted). */
  tokens: number;
  bytes?: number;
  meanLength: number;
  medianLength: number;
  maxLength: number;
  /** Documents by length in tokens: bucket i holds lengths in [lo, hi). Power-of-two edges. */
  histogram: { lo: number; hi: number; documents: number; tokens: number }[];
  seqLen: number;
  /** Share of documents longer than seqLen tokens. */
  longerThanSeqLen: number;
  /**
   * What training sees: windows of seqLen inputs at any offset of the packed stream (each document followed
   * by its end-of-document token), so most windows cross document ends unless documents are long.
   */
  packed: {
    /** Share of the window offsets whose inputs hold tokens of more than one document. */
    crossingShare: number;
  };
  /**
   * Windows of seqLen tokens drawn evenly from within documents (a window never crosses a boundary),
   * as many tokens per epoch as the corpus holds: only documents of at least seqLen tokens can supply
   * one, so their tokens repeat while the rest are never seen.
   */
  windows: {
    /** Documents with at least seqLen tokens. */
    eligibleDocuments: number;
    eligibleTokens: number;
    /** Share of all tokens that no window can reach. */
    unseenShare: number;
    /** Times an eligible token is seen per epoch, on average (tokens / eligibleTokens). */
    meanTimesSeen: number;
    /** The most any token is seen per epoch (the middle of the longest document holds the most windows). */
    maxTimesSeen: number;
  };
}

/** Statistics of documents given their lengths in tokens (see DataStats). */
export function dataStats(docLengths: readonly number[], seqLen: number, bytes?: number): DataStats {
  const op = 'dataStats';
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new ValueError(op, `seqLen must be an integer >= 1, got ${JSON.stringify(seqLen)}`);
  if (!Array.isArray(docLengths)) throw new ArgumentTypeError(op, `docLengths must be an array of document lengths, got ${describe(docLengths)}`);
  docLengths.forEach((len, i) => checkInt(op, `docLengths[${i}]`, len, 0));
  if (bytes !== undefined) checkInt(op, 'bytes', bytes, 0);
  const n = docLengths.length;
  if (n === 0) throw new ValueError(op, 'no documents');
  const sorted = [...docLengths].sort((a, b) => a - b);
  const tokens = sorted.reduce((s, x) => s + x, 0);
  const histogram: DataStats['histogram'] = [];
  for (const len of sorted) {
    const lo = len < 1 ? 0 : 2 ** Math.floor(Math.log2(len));
    const hi = len < 1 ? 1 : lo * 2;
    let b = histogram.find((h) => h.lo === lo);
    if (!b) histogram.push((b = { lo, hi, documents: 0, tokens: 0 }));
    b.documents++;
    b.tokens += len;
  }
  const eligible = sorted.filter((x) => x >= seqLen);
  const eligibleTokens = eligible.reduce((s, x) => s + x, 0);
  // Windows: Σ (n − L + 1) start offsets; an epoch draws tokens/L of them. A token at offset p of a
  // document of length n lies in min(p + 1, n − p, L, n − L + 1) of them.
  const W = eligible.reduce((s, x) => s + (x - seqLen + 1), 0);
  const perEpoch = tokens / seqLen;
  // Packed: a document of L tokens plus its eot holds L − seqLen + 2 offsets whose inputs stay inside it, of
  // the N − seqLen + 1 offsets of the whole stream (N = tokens + documents).
  const packedStarts = Math.max(1, tokens + n - seqLen + 1);
  const inside = sorted.reduce((s, x) => s + Math.max(0, x - seqLen + 2), 0);
  const maxCover = eligible.length ? Math.min(seqLen, eligible[eligible.length - 1]! - seqLen + 1) : 0;
  return {
    documents: n,
    tokens,
    ...(bytes === undefined ? {} : { bytes }),
    meanLength: tokens / n,
    medianLength: n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2,
    maxLength: sorted[n - 1]!,
    histogram,
    seqLen,
    longerThanSeqLen: sorted.filter((x) => x > seqLen).length / n,
    packed: { crossingShare: Math.max(0, 1 - inside / packedStarts) },
    windows: {
      eligibleDocuments: eligible.length,
      eligibleTokens,
      unseenShare: tokens ? (tokens - eligibleTokens) / tokens : 0,
      meanTimesSeen: eligibleTokens ? tokens / eligibleTokens : 0,
      maxTimesSeen: W ? (perEpoch * maxCover) / W : 0,
    },
  };
}
