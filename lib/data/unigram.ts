/**
 * Unigram (SentencePiece-style) tokenizer: the encoder and the decoder (the pipeline components are
 * unigram_pipeline.ts, tokenizer.json in and out unigram_json.ts).
 *
 * Encoding follows Hugging Face's `tokenizers` step for step, so both give the same ids for the same
 * tokenizer.json: added tokens are split out (the rule in tokenizer_json.ts: special ones only with
 * `{ specialTokens: true }`, as in BpeTokenizer), each remaining segment is normalized and pre-tokenized,
 * and each pre-token ("word") is segmented by Viterbi over its lattice of vocabulary pieces. The Viterbi
 * keeps `tokenizers`' exact rules: float64 path scores summed left to right, starts visited left to right
 * and piece lengths short to long, a candidate wins only when strictly better (ties keep the piece that
 * starts earliest), a character no piece starts with becomes an unknown node scored min(score) - 10,
 * consecutive unknown nodes fuse into one token, and with byte_fallback an unknown token becomes the
 * <0xXX> pieces of its bytes. Words are cached. Added tokens never take part in the Viterbi, so text
 * cannot spell a special token's id.
 *
 * lmforge's own files (trainUnigram) use a pipeline chosen so that decode(encode(s)) === s for every
 * string without U+2581 or special-token text, lone surrogates included (see UNIGRAM_PIPELINE).
 */
import { ValueError } from '../errors.js';
import { wtf8Encode } from './pretokenize.js';
import type { Tokenizer } from './tokenizer.js';
import { addedTokenRegex, type EncodeOptions, isObject, resolveEot, type TokenizerIntrospection, TokenizerJsonFile } from './tokenizer_json.js';
import { unigramPartsFromJSON, unigramPartsToJSON, unigramUnsupportedReason } from './unigram_json.js';
import {
  bytePieceName, bytePieceValue, type Decoder, type Normalizer, parseDecoder, parseNormalizer, parsePreTokenizer,
  type PreTokenizer,
} from './unigram_pipeline.js';

export { META, UNIGRAM_PIPELINE, unigramWords } from './unigram_pipeline.js';

/** `tokenizers` scores an unknown node this far below the lowest piece score (K_UNK_PENALTY). */
const UNK_PENALTY = 10;
const CACHE_LIMIT = 1 << 18;
const CACHE_MAX_WORD = 256;
const WHITE_SPACE = /\p{White_Space}/u;

// ---- the tokenizer ----

export interface UnigramAddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
}

/** Everything that defines a Unigram tokenizer. */
export interface UnigramParts {
  /** [piece, score] by id, as tokenizer.json's model.vocab. */
  vocab: [string, number][];
  unkId: number | null;
  byteFallback: boolean;
  /** Added tokens (the special tokens and, in lmforge's files, <unk>). */
  added: UnigramAddedToken[];
  /** tokenizer.json sections, kept as given (UNIGRAM_PIPELINE for lmforge's own files). */
  normalizer: unknown;
  preTokenizer: unknown;
  decoder: unknown;
  postProcessor?: unknown;
  /** The end-of-document token's text; default: the first of <|endoftext|>, </s>, ... present, else the first special token. */
  eotToken?: string;
}

export type UnigramEncodeOptions = EncodeOptions;

/** A Unigram tokenizer. Build one with `trainUnigram`, `UnigramTokenizer.fromJSON` or `loadTokenizerFile`. */
export class UnigramTokenizer extends TokenizerJsonFile implements Tokenizer, TokenizerIntrospection {
  readonly name: string;
  readonly vocabSize: number;
  readonly eot: number;
  /** The unknown token's id (null when the vocabulary has none). */
  readonly unkId: number | null;
  readonly byteFallback: boolean;
  readonly #parts: UnigramParts;
  readonly #pieces: string[];
  readonly #scores: Float64Array;
  /** Piece → id for every model piece (a repeated piece keeps its last id, as in `tokenizers`). */
  readonly #ids = new Map<string, number>();
  /** The pieces the Viterbi may use: the model's pieces less the added tokens. */
  readonly #match = new Map<string, number>();
  readonly #maxLen: number;
  readonly #unkScore: number;
  /** <0xXX> piece id per byte value (-1: missing), and the byte of each id (-1: not a byte piece). */
  readonly #byteIds = new Int32Array(256).fill(-1);
  readonly #byteOf: Int32Array;
  readonly #idText: string[];
  readonly #added: Map<string, UnigramAddedToken>;
  /** Added-token regexes: [non-special only, all] (see encodeSync). */
  readonly #addedRe: [RegExp | null, RegExp | null];
  readonly #normalize: Normalizer | null;
  readonly #preTokenize: PreTokenizer;
  readonly #decode: Decoder;
  readonly #cache = new Map<string, Int32Array>();

  constructor(parts: UnigramParts) {
    super('UnigramTokenizer');
    const op = 'UnigramTokenizer';
    if (!isObject(parts)) throw new ValueError(op, `parts must be an object with vocab, unkId, byteFallback and added, got ${JSON.stringify(parts)}`);
    if (!Array.isArray(parts.added)) throw new ValueError(op, 'parts.added must be an array of added tokens (may be empty)');
    if (!Array.isArray(parts.vocab) || parts.vocab.length === 0) throw new ValueError(op, 'vocab must be a non-empty array of [piece, score]');
    this.#parts = parts;
    const n = parts.vocab.length;
    this.#pieces = new Array<string>(n);
    this.#scores = new Float64Array(n);
    let minScore = Infinity;
    parts.vocab.forEach((e, id) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number' || !Number.isFinite(e[1]))
        throw new ValueError(op, `vocab[${id}] must be [piece, finite score], got ${JSON.stringify(e)}`);
      if (e[0] === '') throw new ValueError(op, `vocab[${id}] is an empty piece`);
      this.#pieces[id] = e[0];
      this.#scores[id] = e[1];
      this.#ids.set(e[0], id);
      minScore = Math.min(minScore, e[1]);
    });
    this.#unkScore = minScore - UNK_PENALTY;
    if (parts.unkId !== null && (!Number.isInteger(parts.unkId) || parts.unkId < 0 || parts.unkId >= n))
      throw new ValueError(op, `unk_id ${parts.unkId} is outside the vocabulary [0, ${n})`);
    this.unkId = parts.unkId;
    this.byteFallback = parts.byteFallback === true;

    let size = n;
    this.#added = new Map();
    for (const a of parts.added) {
      if (!isObject(a) || !Number.isInteger(a.id) || a.id < 0 || typeof a.content !== 'string' || a.content === '')
        throw new ValueError(op, `added token ${JSON.stringify(a)} needs an integer id >= 0 and non-empty content`);
      if (a.id < n && this.#pieces[a.id] !== a.content)
        throw new ValueError(op, `added token ${JSON.stringify(a.content)} has id ${a.id}, which the vocabulary holds as ${JSON.stringify(this.#pieces[a.id])}`);
      this.#added.set(a.content, a);
      size = Math.max(size, a.id + 1);
    }
    this.vocabSize = size;
    this.#idText = new Array<string>(size);
    for (let id = 0; id < n; id++) this.#idText[id] = this.#pieces[id]!;
    for (const a of parts.added) this.#idText[a.id] = a.content;
    for (let id = 0; id < size; id++)
      if (this.#idText[id] === undefined) throw new ValueError(op, `id ${id} is neither a piece nor an added token (ids must be contiguous)`);

    let maxLen = 0;
    for (const [piece, id] of this.#ids) {
      if (this.#added.get(piece)?.id === id) continue;
      this.#match.set(piece, id);
      let len = 0;
      for (const _ of piece) len++;
      maxLen = Math.max(maxLen, len);
    }
    this.#maxLen = maxLen;
    this.#byteOf = new Int32Array(size).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = this.#ids.get(bytePieceName(b));
      if (id !== undefined) this.#byteIds[b] = id;
    }
    for (let id = 0; id < n; id++) this.#byteOf[id] = bytePieceValue(this.#pieces[id]!);

    const added = [...this.#added.values()];
    this.#addedRe = [addedTokenRegex(added.filter((a) => !a.special).map((a) => a.content)), addedTokenRegex(added.map((a) => a.content))];
    this.#normalize = parseNormalizer(parts.normalizer, op);
    this.#preTokenize = parsePreTokenizer(parts.preTokenizer, op);
    this.#decode = parseDecoder(parts.decoder, op);

    const lookup = (t: string) => this.tokenToId(t) ?? undefined;
    const firstSpecial = parts.added.filter((a) => a.special && a.id !== this.unkId).sort((x, y) => x.id - y.id)[0];
    this.eot = resolveEot(op, parts.eotToken, lookup, lookup, firstSpecial?.id, 'the vocabulary has no special tokens besides <unk>');
    this.name = `unigram-${size}`;
  }

  /** The piece (or added token text) of an id. */
  idToToken(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ValueError('UnigramTokenizer.idToToken', `id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return this.#idText[id]!;
  }

  /** The id of a piece or added token, or null. */
  tokenToId(token: string): number | null {
    return this.#added.get(token)?.id ?? this.#ids.get(token) ?? null;
  }

  /** The model's [piece, score] list by id (a copy). */
  vocab(): [string, number][] {
    return this.#pieces.map((p, i) => [p, this.#scores[i]!]);
  }

  /** Whether an id is a <0xXX> byte-fallback piece. */
  isByteFallback(id: number): boolean {
    return id >= 0 && id < this.#byteOf.length && this.#byteOf[id]! >= 0;
  }

  /**
   * The words the normalizer and pre-tokenizer make of a text (special tokens not split out), as the
   * trainer counts them.
   */
  words(text: string): string[] {
    const n = this.#normalize ? this.#normalize(text) : text;
    return this.#preTokenize(n, true);
  }

  // ---- encoding ----

  /** Ids of `text`; added tokens as in tokenizer_json.ts (special ones only with `{ specialTokens: true }`). */
  encodeSync(text: string, opts: UnigramEncodeOptions = {}): Int32Array {
    if (typeof text !== 'string') throw new ValueError('UnigramTokenizer.encode', `text must be a string, got ${typeof text}`);
    const out: number[] = [];
    const re = this.#addedRe[opts.specialTokens ? 1 : 0];
    if (re === null) {
      this.#encodeSegment(text, true, out);
      return Int32Array.from(out);
    }
    re.lastIndex = 0;
    let at = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const a = this.#added.get(m[0])!;
      let end = m.index;
      // lstrip/rstrip: the token takes the whitespace next to it (White_Space, as Rust's char::is_whitespace
      // that `tokenizers` uses; JavaScript's \s differs on U+0085 and U+FEFF).
      if (a.lstrip) while (end > at && WHITE_SPACE.test(text[end - 1]!)) end--;
      if (end > at) this.#encodeSegment(text.slice(at, end), at === 0, out);
      out.push(a.id);
      at = m.index + m[0].length;
      if (a.rstrip) while (at < text.length && WHITE_SPACE.test(text[at]!)) at++;
      re.lastIndex = at;
    }
    if (at < text.length) this.#encodeSegment(text.slice(at), at === 0, out);
    return Int32Array.from(out);
  }

  async encode(text: string, opts?: UnigramEncodeOptions): Promise<Int32Array> {
    return this.encodeSync(text, opts);
  }

  #encodeSegment(seg: string, first: boolean, out: number[]): void {
    const n = this.#normalize ? this.#normalize(seg) : seg;
    for (const w of this.#preTokenize(n, first)) {
      let ids = this.#cache.get(w);
      if (ids === undefined) {
        ids = this.#encodeWord(w);
        if (w.length <= CACHE_MAX_WORD) {
          if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
          this.#cache.set(w, ids);
        }
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
  }

  /** Viterbi segmentation of one word, then unknown fusion and byte fallback (see the file comment). */
  #encodeWord(word: string): Int32Array {
    // Character boundaries in UTF-16 units; a lone surrogate is a character of its own.
    const bounds: number[] = [0];
    for (let i = 0; i < word.length; ) {
      const c = word.charCodeAt(i);
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < word.length && (word.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      i += pair ? 2 : 1;
      bounds.push(i);
    }
    const L = bounds.length - 1;
    const best = new Float64Array(L + 1);
    const from = new Int32Array(L + 1).fill(-1);
    const node = new Int32Array(L + 1);
    for (let s = 0; s < L; s++) {
      const till = best[s]!;
      let single = false;
      const lim = Math.min(L, s + this.#maxLen);
      for (let e = s + 1; e <= lim; e++) {
        const id = this.#match.get(word.slice(bounds[s], bounds[e]));
        if (id === undefined) continue;
        const cand = this.#scores[id]! + till;
        if (from[e]! < 0 || cand > best[e]!) {
          best[e] = cand;
          from[e] = s;
          node[e] = id;
        }
        if (e === s + 1) single = true;
      }
      if (!single) {
        if (this.unkId === null)
          throw new ValueError('UnigramTokenizer.encode', `character ${JSON.stringify(word.slice(bounds[s], bounds[s + 1]))} is not in the vocabulary and the model has no unknown token`);
        const cand = this.#unkScore + till;
        if (from[s + 1]! < 0 || cand > best[s + 1]!) {
          best[s + 1] = cand;
          from[s + 1] = s;
          node[s + 1] = this.unkId;
        }
      }
    }
    // Back from the end; consecutive unknown nodes fuse into one token.
    const toks: string[] = [];
    const isUnk: boolean[] = [];
    for (let e = L; e > 0; ) {
      const s = from[e]!;
      const text = word.slice(bounds[s], bounds[e]);
      const unk = node[e] === this.unkId;
      if (unk && isUnk.length > 0 && isUnk[isUnk.length - 1]) toks[toks.length - 1] = text + toks[toks.length - 1];
      else {
        toks.push(text);
        isUnk.push(unk);
      }
      e = s;
    }
    const ids: number[] = [];
    for (let k = toks.length - 1; k >= 0; k--) {
      const t = toks[k]!;
      const id = isUnk[k] ? this.#ids.get(t) : this.#match.get(t);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      if (this.byteFallback) {
        const bytes = wtf8Encode(t);
        if (bytes.every((b) => this.#byteIds[b]! >= 0)) {
          for (const b of bytes) ids.push(this.#byteIds[b]!);
          continue;
        }
      }
      ids.push(this.unkId!);
    }
    return Int32Array.from(ids);
  }

  // ---- decoding ----

  /** Text of the ids through the decoder; end-of-document ids are dropped, other added tokens give their text. */
  decodeSync(ids: ArrayLike<number>): string {
    const toks: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
        throw new ValueError('UnigramTokenizer.decode', `ids[${i}] = ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      if (id !== this.eot) toks.push(this.#idText[id]!);
    }
    return this.#decode(toks).join('');
  }

  async decode(ids: ArrayLike<number>): Promise<string> {
    return this.decodeSync(ids);
  }

  // ---- tokenizer.json (unigram_json.ts) ----

  /** Everything that defines this tokenizer (what the constructor took). */
  parts(): UnigramParts {
    return structuredClone(this.#parts);
  }

  /** The tokenizer as a Hugging Face tokenizer.json object (Unigram model). */
  toJSON(): Record<string, unknown> {
    return unigramPartsToJSON(this.#parts);
  }

  /** See unigramUnsupportedReason. */
  static unsupportedReason(obj: unknown): string | null {
    return unigramUnsupportedReason(obj);
  }

  /**
   * Reads a tokenizer.json object with a Unigram model (lmforge's own or, e.g., a SentencePiece
   * conversion). Files that unsupportedReason() names are refused with that reason.
   */
  static fromJSON(obj: unknown, opts: { eotToken?: string } = {}): UnigramTokenizer {
    const parts = unigramPartsFromJSON(obj, 'UnigramTokenizer.fromJSON');
    return new UnigramTokenizer({ ...parts, ...(opts.eotToken !== undefined ? { eotToken: opts.eotToken } : {}) });
  }
}
