/**
 * Byte-level BPE (GPT-2 / GPT-NeoX style): the encoder and the decoder (tokenizer.json in and out is
 * bpe_json.ts).
 *
 * Encoding: the text is split by the GPT-2 regex (pretokenize.ts); each piece becomes its WTF-8 bytes,
 * one symbol per byte, and merges apply by rank: repeatedly the adjacent pair with the lowest rank,
 * leftmost first (the order Hugging Face's `tokenizers` applies them, so encodings agree id for id).
 * Pieces are cached, so a corpus costs about one regex pass plus a map lookup per piece.
 *
 * Added tokens follow the rule in tokenizer_json.ts: special ones ("<|endoftext|>") are plain text unless
 * `{ specialTokens: true }`, non-special ones (GPT-NeoX's runs of spaces) are always matched.
 *
 * Files with a Unicode normalizer (NFC, NFD, NFKC, NFKD; GPT-NeoX uses NFC) are supported; the order is
 * that of `tokenizers`: added tokens with normalized: false are matched on the raw text, the rest is
 * normalized, then added tokens with normalized: true are matched, then the rest is split and merged.
 */
import { ValueError } from '../errors.js';
import { bpePartsFromJSON, bpePartsToJSON, bpeUnsupportedReason, NORMALIZATION_FORMS } from './bpe_json.js';
import { PairHeap } from './pair_heap.js';
import { bytesToTokenString, gpt2SplitRegex, wtf8Decode, wtf8EncodeInto } from './pretokenize.js';
import type { Tokenizer } from './tokenizer.js';
import { addedTokenRegex, type EncodeOptions, isObject, resolveEot, type TokenizerIntrospection, TokenizerJsonFile } from './tokenizer_json.js';

export type BpeEncodeOptions = EncodeOptions;

/** Everything that defines a byte-level BPE tokenizer, by id. */
export interface BpeParts {
  /**
   * Per id: the token's bytes, or an added token: its text, whether it is special (default true) and
   * whether it is matched on normalized text (default false). Ids are contiguous from 0.
   */
  tokens: (Uint8Array | BpeAddedToken)[];
  /** Merges in rank order, as pairs of ids; the result is the id whose bytes are the concatenation. */
  merges: ArrayLike<number>;
  /** The end-of-document token's text; default: the first of <|endoftext|>, </s>, ... present, else the first special token (resolveEot). */
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

// The per-piece cache stops growing here (a corpus of rare long pieces must not hold them all).
const CACHE_LIMIT = 1 << 18;
const CACHE_MAX_PIECE = 256;
// Pieces up to this many bytes merge with a plain scan; longer ones with a heap (no quadratic blow-up).
const SCAN_MAX = 48;

/** A byte-level BPE tokenizer. Build one with `trainBpe`, `BpeTokenizer.fromJSON` or `loadTokenizerFile`. */
export class BpeTokenizer extends TokenizerJsonFile implements Tokenizer, TokenizerIntrospection {
  readonly name: string;
  readonly vocabSize: number;
  readonly eot: number;
  /** Texts of the special (added) tokens, by ascending id. */
  readonly specialTokens: readonly string[];
  /** Number of merges (ranks). */
  readonly numMerges: number;
  /** Always null: every string is bytes, and every byte is a token, so nothing is unknown. */
  readonly unkId: number | null = null;

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

  constructor(parts: BpeParts) {
    super('BpeTokenizer');
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
    if (norm !== null && !NORMALIZATION_FORMS.includes(norm))
      throw new ValueError(op, `normalizer must be one of ${NORMALIZATION_FORMS.join(', ')} or null, got ${JSON.stringify(norm)}`);
    this.#normalizer = norm;
    const regex = (pick: (t: { special: boolean; normalized: boolean }) => boolean) =>
      addedTokenRegex([...this.#added.values()].filter(pick).map((t) => t.text));
    this.#rawRe = [regex((t) => !t.normalized && !t.special), regex((t) => !t.normalized)];
    this.#normRe = [regex((t) => t.normalized && !t.special), regex((t) => t.normalized)];

    this.eot = resolveEot(
      op, parts.eotToken, (t) => this.tokenToId(t) ?? undefined, (t) => this.#addedByText.get(t),
      specials.length > 0 ? this.#addedByText.get(specials[0]!) : undefined, 'the vocabulary has no special tokens',
    );
    this.name = `bpe-${n}`;
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

  /** The tokenizer.json spelling of an id: an added token's text, or its bytes in GPT-2's byte characters. */
  idToToken(id: number): string {
    const b = this.tokenBytes(id);
    return b ? bytesToTokenString(b) : this.#added.get(id)!.text;
  }

  /** Always false: a byte-level BPE has no byte-fallback pieces (its byte tokens are ordinary ones). */
  isByteFallback(_id: number): boolean {
    return false;
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

  // ---- tokenizer.json (bpe_json.ts) ----

  /** Everything that defines this tokenizer (what the constructor takes). */
  parts(): BpeParts {
    const tokens: BpeParts['tokens'] = this.#bytes.map((b, id) => {
      if (b) return b.slice();
      const t = this.#added.get(id)!;
      return { added: t.text, special: t.special, normalized: t.normalized };
    });
    const merges = new Int32Array(2 * this.numMerges);
    for (let r = 0; r < this.numMerges; r++) {
      merges[2 * r] = this.#mergeLeft[r]!;
      merges[2 * r + 1] = this.#mergeRight[r]!;
    }
    const eot = this.#bytes[this.eot];
    return {
      tokens, merges, ignoreMerges: this.#ignoreMerges, normalizer: this.#normalizer,
      eotToken: eot ? bytesToTokenString(eot) : this.#added.get(this.eot)!.text,
    };
  }

  /** The tokenizer as a Hugging Face tokenizer.json object (BPE model, ByteLevel pre-tokenizer and decoder). */
  toJSON(): Record<string, unknown> {
    return bpePartsToJSON(this.parts(), 'BpeTokenizer.toJSON');
  }

  /** See bpeUnsupportedReason. */
  static unsupportedReason(obj: unknown): string | null {
    return bpeUnsupportedReason(obj);
  }

  /** Reads a tokenizer.json object (as JSON.parse returns it); see bpePartsFromJSON. */
  static fromJSON(obj: unknown, opts: { eotToken?: string } = {}): BpeTokenizer {
    const parts = bpePartsFromJSON(obj, 'BpeTokenizer.fromJSON');
    return new BpeTokenizer({ ...parts, ...(opts.eotToken !== undefined ? { eotToken: opts.eotToken } : {}) });
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
