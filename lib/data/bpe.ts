/**
 * Byte-level BPE (GPT-2 / GPT-NeoX style): the encoder, the decoder, and tokenizer.json in and out.
 *
 * Encoding: the text is split by the GPT-2 regex (pretokenize.ts); each piece becomes its WTF-8 bytes,
 * one symbol per byte, and merges apply by rank: repeatedly the adjacent pair with the lowest rank,
 * leftmost first (the order Hugging Face's `tokenizers` applies them, so encodings agree id for id).
 * Pieces are cached, so a corpus costs about one regex pass plus a map lookup per piece.
 *
 * Special tokens are NOT recognised in text by default: a document that contains the characters
 * "<|endoftext|>" is encoded as those characters, so text can never inject an end-of-document id (the
 * data pipeline inserts `eot` itself). Pass `{ specialTokens: true }` to match them (then the encoding
 * equals that of `tokenizers`, which always matches added tokens). Added tokens that are not special
 * (GPT-NeoX's runs of spaces) are ordinary vocabulary and always matched, as `tokenizers` does.
 *
 * Files with a Unicode normalizer (NFC, NFD, NFKC, NFKD; GPT-NeoX uses NFC) are supported; the order is
 * that of `tokenizers`: added tokens with normalized: false are matched on the raw text, the rest is
 * normalized, then added tokens with normalized: true are matched, then the rest is split and merged.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { ValueError } from '../errors.js';
import {
  bytesToTokenString, gpt2SplitRegex, tokenStringToBytes, wtf8Decode, wtf8EncodeInto,
} from './pretokenize.js';
import { EOT_NAMES, type Tokenizer, type TokenizerSpec } from './tokenizer.js';

export interface BpeEncodeOptions {
  /** Match special tokens in the text and emit their ids. Default false: they are plain text. */
  specialTokens?: boolean;
}

/** Everything that defines a byte-level BPE tokenizer, by id. */
export interface BpeParts {
  /**
   * Per id: the token's bytes, or an added token: its text, whether it is special (default true) and
   * whether it is matched on normalized text (default false). Ids are contiguous from 0.
   */
  tokens: (Uint8Array | BpeAddedToken)[];
  /** Merges in rank order, as pairs of ids; the result is the id whose bytes are the concatenation. */
  merges: ArrayLike<number>;
  /** The end-of-document token's text; default: '<|endoftext|>' if present, else the first special token. */
  eotToken?: string;
  /** Hugging Face's `ignore_merges`: a piece that is itself in the vocabulary is emitted whole. */
  ignoreMerges?: boolean;
  /** A Unicode normalization applied to the text before splitting (null: none). */
  normalizer?: NormalizationForm | null;
}

export interface BpeAddedToken {
  added: string;
  special?: boolean;
  normalized?: boolean;
}

export type NormalizationForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';
const FORMS: readonly string[] = ['NFC', 'NFD', 'NFKC', 'NFKD'];

// The per-piece cache stops growing here (a corpus of rare long pieces must not hold them all).
const CACHE_LIMIT = 1 << 18;
const CACHE_MAX_PIECE = 256;
// Pieces up to this many bytes merge with a plain scan; longer ones with a heap (no quadratic blow-up).
const SCAN_MAX = 48;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * model.type of a tokenizer.json, or what an older file without "type" holds (Hugging Face's loader
 * recognises those by their fields: merges make a BPE, a list vocabulary a Unigram).
 */
export function tokenizerJsonModelType(obj: unknown): string | undefined {
  const model = isObject(obj) ? obj.model : undefined;
  if (!isObject(model)) return undefined;
  if (typeof model.type === 'string') return model.type;
  if (Array.isArray(model.merges)) return 'BPE';
  if (Array.isArray(model.vocab)) return 'Unigram';
  return undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A byte-level BPE tokenizer. Build one with `trainBpe`, `BpeTokenizer.fromJSON` or `loadTokenizerFile`. */
export class BpeTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly eot: number;
  /** Texts of the special (added) tokens, by ascending id. */
  readonly specialTokens: readonly string[];
  /** Number of merges (ranks). */
  readonly numMerges: number;

  readonly #bytes: (Uint8Array | null)[]; // null for added tokens
  readonly #added: Map<number, { text: string; special: boolean; normalized: boolean }>;
  readonly #addedByText: Map<string, number>;
  readonly #byteIds = new Int32Array(256);
  readonly #byBytes = new Map<string, number>(); // token string (byte-level spelling) -> id
  readonly #mergeLeft: Int32Array;
  readonly #mergeRight: Int32Array;
  readonly #rank = new Map<number, number>(); // left * vocabSize + right -> rank
  readonly #result: Int32Array; // per rank
  readonly #ignoreMerges: boolean;
  readonly #splitRe = gpt2SplitRegex();
  // Added-token regexes: [ordinary text, with special tokens] x matched on raw / on normalized text.
  readonly #rawRe: [RegExp | null, RegExp | null];
  readonly #normRe: [RegExp | null, RegExp | null];
  readonly #normalizer: NormalizationForm | null;
  readonly #cache = new Map<string, Int32Array>();
  #scratch = new Uint8Array(1024);
  #source: { path: string; sha256: string } | null = null;
  #unsavedHash: string | null = null;

  constructor(parts: BpeParts) {
    const op = 'BpeTokenizer';
    if (!isObject(parts) || !Array.isArray(parts.tokens)) throw new ValueError(op, 'parts.tokens must be an array');
    const n = parts.tokens.length;
    this.vocabSize = n;
    this.#bytes = new Array(n);
    this.#added = new Map();
    this.#addedByText = new Map();
    this.#byteIds.fill(-1);
    const specials: string[] = [];
    for (let id = 0; id < n; id++) {
      const t = parts.tokens[id];
      if (t instanceof Uint8Array) {
        if (t.length === 0) throw new ValueError(op, `token ${id} is empty`);
        const key = bytesToTokenString(t);
        if (this.#byBytes.has(key)) throw new ValueError(op, `token ${id} repeats token ${this.#byBytes.get(key)} ('${key}')`);
        this.#byBytes.set(key, id);
        this.#bytes[id] = t;
        if (t.length === 1) this.#byteIds[t[0]!] = id;
      } else if (isObject(t) && typeof t.added === 'string' && t.added.length > 0) {
        if (this.#addedByText.has(t.added)) throw new ValueError(op, `added token ${JSON.stringify(t.added)} appears twice`);
        const special = t.special !== false;
        this.#added.set(id, { text: t.added, special, normalized: t.normalized === true });
        this.#addedByText.set(t.added, id);
        this.#bytes[id] = null;
        if (special) specials.push(t.added);
      } else {
        throw new ValueError(op, `token ${id} must be a Uint8Array of bytes or { added: text }`);
      }
    }
    // Every byte needs a symbol, or some strings could not be encoded (and round trips would break).
    const missing = [...this.#byteIds.keys()].filter((b) => this.#byteIds[b]! < 0);
    if (missing.length > 0)
      throw new ValueError(op, `the vocabulary lacks the single-byte tokens of ${missing.length} byte values (first: 0x${missing[0]!.toString(16).padStart(2, '0')}); a byte-level BPE needs all 256`);
    this.specialTokens = specials;

    const m = parts.merges;
    if (m === null || typeof m !== 'object' || typeof m.length !== 'number' || m.length % 2 !== 0)
      throw new ValueError(op, 'merges must be a flat list of id pairs');
    const count = m.length / 2;
    this.numMerges = count;
    this.#mergeLeft = new Int32Array(count);
    this.#mergeRight = new Int32Array(count);
    this.#result = new Int32Array(count);
    for (let r = 0; r < count; r++) {
      const a = m[2 * r]!;
      const b = m[2 * r + 1]!;
      for (const x of [a, b])
        if (!Number.isInteger(x) || x < 0 || x >= n || this.#bytes[x] === null)
          throw new ValueError(op, `merge ${r} uses id ${x}, which is not a byte token of the vocabulary [0, ${n})`);
      const ab = new Uint8Array(this.#bytes[a]!.length + this.#bytes[b]!.length);
      ab.set(this.#bytes[a]!, 0);
      ab.set(this.#bytes[b]!, this.#bytes[a]!.length);
      const res = this.#byBytes.get(bytesToTokenString(ab));
      if (res === undefined) throw new ValueError(op, `merge ${r} (${a}, ${b}) makes '${bytesToTokenString(ab)}', which is not in the vocabulary`);
      this.#mergeLeft[r] = a;
      this.#mergeRight[r] = b;
      this.#result[r] = res;
      // A pair listed twice keeps its last rank, as Hugging Face's loader does (its map insert overwrites).
      this.#rank.set(a * n + b, r);
    }
    this.#ignoreMerges = parts.ignoreMerges ?? false;

    const norm = parts.normalizer ?? null;
    if (norm !== null && !FORMS.includes(norm)) throw new ValueError(op, `normalizer must be one of ${FORMS.join(', ')} or null, got ${JSON.stringify(norm)}`);
    this.#normalizer = norm;
    // Longest first, so the alternation matches leftmost-longest as `tokenizers` does.
    const regex = (pick: (t: { special: boolean; normalized: boolean }) => boolean): RegExp | null => {
      const texts = [...this.#added.values()].filter(pick).map((t) => t.text).sort((x, y) => y.length - x.length);
      return texts.length > 0 ? new RegExp(texts.map(escapeRegex).join('|'), 'g') : null;
    };
    this.#rawRe = [regex((t) => !t.normalized && !t.special), regex((t) => !t.normalized)];
    this.#normRe = [regex((t) => t.normalized && !t.special), regex((t) => t.normalized)];

    let eot: number | undefined;
    if (parts.eotToken !== undefined) {
      eot = this.#addedByText.get(parts.eotToken) ?? this.#byBytes.get(parts.eotToken);
      if (eot === undefined) throw new ValueError(op, `eotToken ${JSON.stringify(parts.eotToken)} is not in the vocabulary`);
    } else {
      for (const name of EOT_NAMES) {
        eot = this.#addedByText.get(name);
        if (eot !== undefined) break;
      }
      if (eot === undefined && specials.length > 0) eot = this.#addedByText.get(specials[0]!);
      if (eot === undefined) throw new ValueError(op, `no end-of-document token: the vocabulary has no special tokens (looked for ${EOT_NAMES.join(', ')}); pass eotToken`);
    }
    this.eot = eot;
    this.name = `bpe-${n}`;
  }

  /** How to load this tokenizer again: its file and the file's sha256 (path '' until saved). */
  get spec(): TokenizerSpec {
    if (this.#source) return { kind: 'file', path: this.#source.path, sha256: this.#source.sha256 };
    this.#unsavedHash ??= createHash('sha256').update(this.toJSONString()).digest('hex');
    return { kind: 'file', path: '', sha256: this.#unsavedHash };
  }

  /** Records the file this tokenizer was read from (loadTokenizerFile). */
  setSource(path: string, sha256: string): void {
    this.#source = { path, sha256 };
  }

  /** The id of a token given by its text (special tokens) or its bytes' tokenizer.json spelling, or null. */
  tokenToId(token: string): number | null {
    return this.#addedByText.get(token) ?? this.#byBytes.get(token) ?? null;
  }

  /** The bytes of a (non-special) token, or null for special tokens. */
  tokenBytes(id: number): Uint8Array | null {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ValueError('BpeTokenizer.tokenBytes', `id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return this.#bytes[id] ?? null;
  }

  /** Merges in rank order as [left id, right id, result id]. */
  merges(): [number, number, number][] {
    return Array.from({ length: this.numMerges }, (_, r) => [this.#mergeLeft[r]!, this.#mergeRight[r]!, this.#result[r]!]);
  }

  // ---- encoding ----

  encodeSync(text: string, opts: BpeEncodeOptions = {}): Int32Array {
    if (typeof text !== 'string') throw new ValueError('BpeTokenizer.encode', `text must be a string, got ${typeof text}`);
    const out = new IdBuffer(Math.max(16, text.length >> 2));
    const k = opts.specialTokens ? 1 : 0;
    const normRe = this.#normRe[k]!;
    const form = this.#normalizer;
    this.#splitAdded(text, this.#rawRe[k]!, out, (seg) => {
      this.#splitAdded(form ? seg.normalize(form) : seg, normRe, out, (rest) => this.#encodeOrdinary(rest, out));
    });
    return out.take();
  }

  /** Emits the ids of added tokens that `re` matches in `text`, and hands the text between them to `rest`. */
  #splitAdded(text: string, re: RegExp | null, out: IdBuffer, rest: (segment: string) => void): void {
    if (re === null) {
      rest(text);
      return;
    }
    re.lastIndex = 0;
    let at = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > at) rest(text.slice(at, m.index));
      out.push1(this.#addedByText.get(m[0])!);
      at = m.index + m[0].length;
    }
    if (at < text.length) rest(text.slice(at));
  }

  async encode(text: string, opts?: BpeEncodeOptions): Promise<Int32Array> {
    return this.encodeSync(text, opts);
  }

  #encodeOrdinary(text: string, out: IdBuffer): void {
    const re = this.#splitRe;
    const cache = this.#cache;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const piece = m[0];
      let ids = cache.get(piece);
      if (ids === undefined) {
        ids = this.#encodePiece(piece);
        if (piece.length <= CACHE_MAX_PIECE && cache.size < CACHE_LIMIT) cache.set(piece, ids);
      }
      out.push(ids);
    }
  }

  /** The ids of one pre-tokenized piece. */
  #encodePiece(piece: string): Int32Array {
    if (this.#scratch.length < piece.length * 3) this.#scratch = new Uint8Array(piece.length * 3);
    const nb = wtf8EncodeInto(piece, this.#scratch, 0);
    if (this.#ignoreMerges) {
      const whole = this.#byBytes.get(bytesToTokenString(this.#scratch.subarray(0, nb)));
      if (whole !== undefined) return Int32Array.of(whole);
    }
    const syms = new Int32Array(nb);
    for (let i = 0; i < nb; i++) syms[i] = this.#byteIds[this.#scratch[i]!]!;
    return nb <= SCAN_MAX ? this.#mergeScan(syms) : this.#mergeHeap(syms);
  }

  #rankOf(a: number, b: number): number {
    return this.#rank.get(a * this.vocabSize + b) ?? -1;
  }

  /** Lowest rank first, leftmost among equal ranks, by rescanning (pieces are short). */
  #mergeScan(syms: Int32Array): Int32Array {
    let n = syms.length;
    if (n < 2) return syms;
    // ranks[i]: rank of the pair (syms[i], syms[i + 1]), or -1.
    const ranks = new Int32Array(n - 1);
    for (let i = 0; i + 1 < n; i++) ranks[i] = this.#rankOf(syms[i]!, syms[i + 1]!);
    for (;;) {
      let best = -1;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        const r = ranks[i]!;
        if (r >= 0 && (best < 0 || r < best)) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      syms[at] = this.#result[best]!;
      syms.copyWithin(at + 1, at + 2, n);
      ranks.copyWithin(at, at + 1, n - 1);
      n--;
      if (at > 0) ranks[at - 1] = this.#rankOf(syms[at - 1]!, syms[at]!);
      if (at + 1 < n) ranks[at] = this.#rankOf(syms[at]!, syms[at + 1]!);
    }
    return syms.slice(0, n);
  }

  /**
   * The same order as #mergeScan with a heap of (rank, position) over a linked list of symbols, for long
   * pieces (a run of thousands of spaces or digits would be quadratic otherwise). A popped entry is
   * stale when its symbol was merged away or its pair's rank changed; it is then skipped.
   */
  #mergeHeap(syms: Int32Array): Int32Array {
    const n = syms.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap(n);
    for (let i = 0; i + 1 < n; i++) {
      const r = this.#rankOf(syms[i]!, syms[i + 1]!);
      if (r >= 0) heap.push(r, i);
    }
    while (heap.size > 0) {
      const r = heap.topRank();
      const p = heap.pop();
      if (syms[p]! < 0) continue;
      const q = next[p]!;
      if (q >= n || this.#rankOf(syms[p]!, syms[q]!) !== r) continue;
      syms[p] = this.#result[r]!;
      syms[q] = -1;
      next[p] = next[q]!;
      if (next[p]! < n) prev[next[p]!] = p;
      const before = prev[p]!;
      if (before >= 0) {
        const rb = this.#rankOf(syms[before]!, syms[p]!);
        if (rb >= 0) heap.push(rb, before);
      }
      if (next[p]! < n) {
        const ra = this.#rankOf(syms[p]!, syms[next[p]!]!);
        if (ra >= 0) heap.push(ra, p);
      }
    }
    const out: number[] = [];
    for (let i = 0; i < n; i = next[i]!) out.push(syms[i]!);
    return Int32Array.from(out);
  }

  // ---- decoding ----

  /** The bytes of the ids (WTF-8); special tokens contribute their text, the end-of-document id nothing. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const op = 'BpeTokenizer.decode';
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ValueError(op, `ids[${i}] = ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      if (id === this.eot) continue;
      const b = this.#bytes[id];
      total += b ? b.length : this.#added.get(id)!.text.length * 3;
    }
    const out = new Uint8Array(total);
    let p = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === this.eot) continue;
      const b = this.#bytes[id];
      if (b) {
        out.set(b, p);
        p += b.length;
      } else {
        p = wtf8EncodeInto(this.#added.get(id)!.text, out, p);
      }
    }
    return out.subarray(0, p);
  }

  /** Text of the ids; end-of-document ids are dropped. decodeSync(encodeSync(s)) === s for every string. */
  decodeSync(ids: ArrayLike<number>): string {
    return wtf8Decode(this.decodeBytes(ids));
  }

  async decode(ids: ArrayLike<number>): Promise<string> {
    return this.decodeSync(ids);
  }

  // ---- tokenizer.json ----

  /** The tokenizer as a Hugging Face tokenizer.json object (BPE model, ByteLevel pre-tokenizer and decoder). */
  toJSON(): Record<string, unknown> {
    const vocab: Record<string, number> = {};
    const spell = (id: number) => (this.#bytes[id] ? bytesToTokenString(this.#bytes[id]!) : this.#added.get(id)!.text);
    for (let id = 0; id < this.vocabSize; id++) {
      const s = spell(id);
      if (Object.hasOwn(vocab, s))
        throw new ValueError('BpeTokenizer.toJSON', `token ${id} and token ${vocab[s]} are both spelled '${s}' in tokenizer.json`);
      vocab[s] = id;
    }
    const merges: [string, string][] = [];
    for (let r = 0; r < this.numMerges; r++) merges.push([spell(this.#mergeLeft[r]!), spell(this.#mergeRight[r]!)]);
    const added_tokens = [...this.#added.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([id, t]) => ({ id, content: t.text, single_word: false, lstrip: false, rstrip: false, normalized: t.normalized, special: t.special }));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens,
      normalizer: this.#normalizer ? { type: this.#normalizer } : null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: this.#ignoreMerges,
        vocab,
        merges,
      },
    };
  }

  /** toJSON() as the text that save() writes. */
  toJSONString(): string {
    return `${JSON.stringify(this.toJSON())}\n`;
  }

  /** Writes tokenizer.json; afterwards `spec` names this file. */
  save(path: string): void {
    const text = this.toJSONString();
    const abs = resolve(path);
    try {
      writeFileSync(abs, text);
    } catch (e) {
      throw new ValueError('BpeTokenizer.save', `cannot write '${path}': ${e instanceof Error ? e.message : String(e)}`);
    }
    this.#source = { path: abs, sha256: createHash('sha256').update(text).digest('hex') };
  }

  /**
   * Why a tokenizer.json object is not a plain byte-level BPE this class encodes exactly, or null when it
   * is. loadTokenizerFile hands the others to the `tokenizers` package.
   */
  static unsupportedReason(obj: unknown): string | null {
    if (!isObject(obj)) return 'not a JSON object';
    const model = obj.model;
    if (!isObject(model) || tokenizerJsonModelType(obj) !== 'BPE') return 'model.type is not BPE';
    const pre = obj.pre_tokenizer;
    if (!isObject(pre) || pre.type !== 'ByteLevel') return 'the pre-tokenizer is not ByteLevel';
    if (pre.add_prefix_space === true) return 'ByteLevel add_prefix_space is true';
    if (pre.use_regex === false) return 'ByteLevel use_regex is false';
    const norm = obj.normalizer;
    if (norm !== null && norm !== undefined && !(isObject(norm) && typeof norm.type === 'string' && FORMS.includes(norm.type)))
      return `its normalizer (${isObject(norm) ? String(norm.type) : typeof norm}) is not NFC, NFD, NFKC or NFKD`;
    const dec = obj.decoder;
    if (dec !== null && dec !== undefined && (!isObject(dec) || dec.type !== 'ByteLevel')) return 'the decoder is not ByteLevel';
    if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0) return 'BPE dropout is set';
    if (model.continuing_subword_prefix || model.end_of_word_suffix) return 'it has a subword prefix or suffix';
    if (model.byte_fallback === true) return 'byte_fallback is set';
    const added = obj.added_tokens ?? [];
    if (!Array.isArray(added)) return 'added_tokens is not a list';
    for (const t of added) {
      if (!isObject(t)) return 'an added token is not an object';
      if (t.lstrip === true || t.rstrip === true || t.single_word === true) return `added token ${JSON.stringify(t.content)} strips or matches single words`;
    }
    return null;
  }

  /**
   * Reads a tokenizer.json object (as JSON.parse returns it): GPT-2 style files made elsewhere, with
   * merges as "a b" strings or as [a, b] pairs, and the files `toJSON` writes.
   */
  static fromJSON(obj: unknown, opts: { eotToken?: string } = {}): BpeTokenizer {
    const op = 'BpeTokenizer.fromJSON';
    const why = BpeTokenizer.unsupportedReason(obj);
    if (why !== null) throw new ValueError(op, `not a byte-level BPE tokenizer.json this encoder supports: ${why}`);
    const o = obj as Record<string, unknown>;
    const model = o.model as Record<string, unknown>;
    if (!isObject(model.vocab)) throw new ValueError(op, 'model.vocab must be an object of token -> id');
    if (!Array.isArray(model.merges)) throw new ValueError(op, 'model.merges must be a list');

    const tokens: BpeParts['tokens'] = [];
    const setId = (id: unknown, t: BpeParts['tokens'][number], what: string) => {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= 1 << 24)
        throw new ValueError(op, `${what} has id ${JSON.stringify(id)}, not an integer in [0, 2^24)`);
      const prev = tokens[id as number];
      if (prev !== undefined && !(prev instanceof Uint8Array && !(t instanceof Uint8Array)))
        throw new ValueError(op, `id ${id} is used twice (${what})`);
      tokens[id as number] = t; // an added token replaces the model's entry of the same id (GPT-2's <|endoftext|>)
    };
    const addedIds = new Set<number>();
    for (const t of (o.added_tokens as unknown[] | undefined) ?? []) {
      const a = t as Record<string, unknown>;
      if (typeof a.content !== 'string' || a.content === '') throw new ValueError(op, 'an added token has no content');
      addedIds.add(a.id as number);
    }
    for (const [s, id] of Object.entries(model.vocab)) {
      if (addedIds.has(id as number)) continue;
      const bytes = tokenStringToBytes(s);
      if (bytes === null || bytes.length === 0)
        throw new ValueError(op, `vocabulary token ${JSON.stringify(s)} is not spelled with the ByteLevel byte characters`);
      setId(id, bytes, `vocabulary token ${JSON.stringify(s)}`);
    }
    for (const t of (o.added_tokens as unknown[] | undefined) ?? []) {
      const a = t as Record<string, unknown>;
      // A missing flag means false, as in Hugging Face's AddedToken.
      setId(a.id, { added: a.content as string, special: a.special === true, normalized: a.normalized === true }, `added token ${JSON.stringify(a.content)}`);
    }
    for (let id = 0; id < tokens.length; id++)
      if (tokens[id] === undefined) throw new ValueError(op, `ids are not contiguous: no token has id ${id} (the largest is ${tokens.length - 1})`);

    const vocab = model.vocab as Record<string, number>;
    const merges = new Int32Array(model.merges.length * 2);
    model.merges.forEach((m: unknown, r: number) => {
      let pair: unknown[];
      if (typeof m === 'string') {
        pair = m.split(' ');
      } else if (Array.isArray(m)) {
        pair = m;
      } else {
        throw new ValueError(op, `merge ${r} must be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
      }
      if (pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
        throw new ValueError(op, `merge ${r} must name two tokens, got ${JSON.stringify(m)}`);
      for (let k = 0; k < 2; k++) {
        const id = Object.hasOwn(vocab, pair[k] as string) ? vocab[pair[k] as string] : undefined;
        if (id === undefined) throw new ValueError(op, `merge ${r} uses ${JSON.stringify(pair[k])}, which is not in model.vocab`);
        merges[2 * r + k] = id;
      }
    });
    return new BpeTokenizer({
      tokens, merges, ignoreMerges: model.ignore_merges === true,
      normalizer: isObject(o.normalizer) ? (o.normalizer.type as NormalizationForm) : null,
      ...(opts.eotToken !== undefined ? { eotToken: opts.eotToken } : {}),
    });
  }
}

/** A growable Int32Array. */
class IdBuffer {
  #buf: Int32Array;
  #n = 0;
  constructor(capacity: number) {
    this.#buf = new Int32Array(capacity);
  }
  #grow(need: number): void {
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const b = new Int32Array(cap);
    b.set(this.#buf.subarray(0, this.#n));
    this.#buf = b;
  }
  push(ids: Int32Array): void {
    if (this.#n + ids.length > this.#buf.length) this.#grow(this.#n + ids.length);
    if (ids.length === 1) this.#buf[this.#n++] = ids[0]!;
    else {
      this.#buf.set(ids, this.#n);
      this.#n += ids.length;
    }
  }
  push1(id: number): void {
    if (this.#n + 1 > this.#buf.length) this.#grow(this.#n + 1);
    this.#buf[this.#n++] = id;
  }
  take(): Int32Array {
    return this.#buf.slice(0, this.#n);
  }
}

/** A binary min-heap of (rank, position) pairs, ordered by rank then position. */
class PairHeap {
  #rank: Int32Array;
  #pos: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.#rank = new Int32Array(Math.max(4, capacity));
    this.#pos = new Int32Array(Math.max(4, capacity));
  }
  #less(i: number, j: number): boolean {
    const a = this.#rank[i]!;
    const b = this.#rank[j]!;
    return a < b || (a === b && this.#pos[i]! < this.#pos[j]!);
  }
  #swap(i: number, j: number): void {
    const r = this.#rank[i]!;
    const p = this.#pos[i]!;
    this.#rank[i] = this.#rank[j]!;
    this.#pos[i] = this.#pos[j]!;
    this.#rank[j] = r;
    this.#pos[j] = p;
  }
  push(rank: number, pos: number): void {
    if (this.size === this.#rank.length) {
      const r = new Int32Array(this.size * 2);
      r.set(this.#rank);
      this.#rank = r;
      const p = new Int32Array(this.size * 2);
      p.set(this.#pos);
      this.#pos = p;
    }
    let i = this.size++;
    this.#rank[i] = rank;
    this.#pos[i] = pos;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  topRank(): number {
    return this.#rank[0]!;
  }
  pop(): number {
    const top = this.#pos[0]!;
    this.size--;
    if (this.size > 0) {
      this.#rank[0] = this.#rank[this.size]!;
      this.#pos[0] = this.#pos[this.size]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.size && this.#less(l, m)) m = l;
        if (r < this.size && this.#less(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}
