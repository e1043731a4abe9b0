/**
 * Unigram (SentencePiece-style) tokenizer: the encoder, the decoder, and tokenizer.json in and out.
 *
 * Encoding follows Hugging Face's `tokenizers` step for step, so both give the same ids for the same
 * tokenizer.json: added tokens are split out (only with `{ specialTokens: true }`, see below), each
 * remaining segment is normalized and pre-tokenized, and each pre-token ("word") is segmented by Viterbi
 * over its lattice of vocabulary pieces. The Viterbi keeps `tokenizers`' exact rules: float64 path scores
 * summed left to right, starts visited left to right and piece lengths short to long, a candidate wins
 * only when strictly better (ties keep the piece that starts earliest), a character no piece starts with
 * becomes an unknown node scored min(score) - 10, consecutive unknown nodes fuse into one token, and with
 * byte_fallback an unknown token becomes the <0xXX> pieces of its bytes. Words are cached.
 *
 * Special tokens are NOT recognised in text by default (as in BpeTokenizer): a document holding the
 * characters "<|endoftext|>" is encoded as those characters, and added tokens never take part in the
 * Viterbi, so text cannot inject an end-of-document id. With `{ specialTokens: true }` they are split
 * out first, which is what `tokenizers` always does; the encodings are then identical.
 *
 * lmforge's own files (trainUnigram) use a pipeline chosen so that decode(encode(s)) === s for every
 * string without U+2581 or special-token text, lone surrogates included (see UNIGRAM_PIPELINE).
 * Other files may use the normalizers, pre-tokenizers and decoders listed in the parse functions below;
 * anything else is a clear error (load such a file with HuggingFaceTokenizer instead).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { ValueError } from '../errors.js';
import { wtf8Decode, wtf8Encode } from './pretokenize.js';
import { EOT_NAMES, type Tokenizer, type TokenizerSpec } from './tokenizer.js';

/** SentencePiece's meta space: stands for a space, and starts every word. */
export const META = '\u2581';

/** `tokenizers` scores an unknown node this far below the lowest piece score (K_UNK_PENALTY). */
const UNK_PENALTY = 10;
const CACHE_LIMIT = 1 << 18;
const CACHE_MAX_WORD = 256;

/**
 * The normalizer, pre-tokenizer and decoder of lmforge's Unigram files. Why each part:
 * - Prepend('▁') (only to a non-empty segment) instead of Metaspace's prepend_scheme: Metaspace prepends
 *   only when the text does not already start with '▁', so "a" and " a" would both become "▁a" and the
 *   leading space would be lost. Always prepending makes " a" → "▁▁a", and the decoder's Strip takes
 *   exactly that one space off again.
 * - Replace('\n', '\n▁'): a newline ends a word, so the next line's first word starts with '▁' like any
 *   other word (Brown has one sentence per line); the decoder's Replace('\n ', '\n') after Fuse removes
 *   exactly the space this added.
 * - Metaspace (prepend never, split): spaces become '▁' and each '▁' starts a new word.
 * - ByteFallback: unknown characters travel as <0xXX> pieces of their (WTF-8) bytes.
 * A literal '▁' in the input decodes as a space, as in SentencePiece.
 */
export const UNIGRAM_PIPELINE = {
  normalizer: {
    type: 'Sequence',
    normalizers: [
      { type: 'Prepend', prepend: META },
      { type: 'Replace', pattern: { String: '\n' }, content: `\n${META}` },
    ],
  },
  pre_tokenizer: { type: 'Metaspace', replacement: META, prepend_scheme: 'never', split: true },
  decoder: {
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: META }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
      { type: 'Replace', pattern: { String: '\n ' }, content: '\n' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 },
    ],
  },
} as const;

// ---- pipeline parts, from tokenizer.json ----

type Normalizer = (s: string) => string;
/** Splits a normalized segment into words; `first` when the segment starts the input text. */
type PreTokenizer = (s: string, first: boolean) => string[];
type Decoder = (tokens: string[]) => string[];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A Replace pattern ({ String } or { Regex }) as a global RegExp. */
function patternRegex(p: unknown, op: string, where: string): RegExp {
  if (isObject(p) && typeof p.String === 'string' && p.String !== '') return new RegExp(escapeRegex(p.String), 'gu');
  if (isObject(p) && typeof p.Regex === 'string') {
    try {
      return new RegExp(p.Regex, 'gu');
    } catch (e) {
      throw new ValueError(op, `${where}: regex ${JSON.stringify(p.Regex)} is not valid here: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new ValueError(op, `${where}: pattern must be { "String": text } or { "Regex": pattern }, got ${JSON.stringify(p)}`);
}

function stringField(o: Record<string, unknown>, key: string, op: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new ValueError(op, `${where}: "${key}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function parseNormalizer(n: unknown, op: string): Normalizer | null {
  if (n === null || n === undefined) return null;
  if (!isObject(n)) throw new ValueError(op, `normalizer must be an object or null, got ${JSON.stringify(n)}`);
  const where = `normalizer ${String(n.type)}`;
  switch (n.type) {
    case 'Sequence': {
      if (!Array.isArray(n.normalizers)) throw new ValueError(op, `${where}: "normalizers" must be an array`);
      const parts = n.normalizers.map((x) => parseNormalizer(x, op)).filter((x): x is Normalizer => x !== null);
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    case 'Prepend': {
      const pre = stringField(n, 'prepend', op, where);
      return (s) => (s === '' ? s : pre + s);
    }
    case 'Replace': {
      const re = patternRegex(n.pattern, op, where);
      const content = stringField(n, 'content', op, where);
      return (s) => s.replace(re, () => content);
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = n.type;
      return (s) => s.normalize(form);
    }
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'Strip': {
      const left = n.strip_left !== false;
      const right = n.strip_right !== false;
      return (s) => {
        let r = s;
        if (left) r = r.replace(/^\p{White_Space}+/u, '');
        if (right) r = r.replace(/\p{White_Space}+$/u, '');
        return r;
      };
    }
    default:
      throw new ValueError(op, `normalizer type ${JSON.stringify(n.type)} is not supported by lmforge's Unigram encoder (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip); load the file with HuggingFaceTokenizer instead`);
  }
}

/** Splits before every `rep` (Hugging Face's MergedWithNext): "a▁b▁▁" → ["a", "▁b", "▁", "▁"]. */
function splitBefore(s: string, rep: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = s.indexOf(rep, 1); i !== -1; i = s.indexOf(rep, i + rep.length)) {
    if (i > start) out.push(s.slice(start, i));
    start = i;
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

function parsePreTokenizer(p: unknown, op: string): PreTokenizer {
  if (p === null || p === undefined) return (s) => (s === '' ? [] : [s]);
  if (!isObject(p)) throw new ValueError(op, `pre_tokenizer must be an object or null, got ${JSON.stringify(p)}`);
  const where = `pre_tokenizer ${String(p.type)}`;
  switch (p.type) {
    case 'Sequence': {
      if (!Array.isArray(p.pretokenizers)) throw new ValueError(op, `${where}: "pretokenizers" must be an array`);
      const parts = p.pretokenizers.map((x) => parsePreTokenizer(x, op));
      return (s, first) => {
        // Only the first word of the input text is "first" for the parts that follow.
        let words = s === '' ? [] : [s];
        for (const f of parts) words = words.flatMap((w, i) => f(w, first && i === 0));
        return words;
      };
    }
    case 'Metaspace': {
      const rep = stringField(p, 'replacement', op, where);
      if ([...rep].length !== 1) throw new ValueError(op, `${where}: replacement must be one character, got ${JSON.stringify(rep)}`);
      const scheme = p.prepend_scheme ?? (p.add_prefix_space === false ? 'never' : 'always');
      if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never')
        throw new ValueError(op, `${where}: prepend_scheme must be "always", "first" or "never", got ${JSON.stringify(scheme)}`);
      const split = p.split !== false;
      return (s, first) => {
        if (s === '') return [];
        let r = s.replaceAll(' ', rep);
        if ((scheme === 'always' || (scheme === 'first' && first)) && !r.startsWith(rep)) r = rep + r;
        return split ? splitBefore(r, rep) : [r];
      };
    }
    case 'WhitespaceSplit':
      return (s) => s.split(/\p{White_Space}+/u).filter((w) => w !== '');
    default:
      throw new ValueError(op, `pre_tokenizer type ${JSON.stringify(p.type)} is not supported by lmforge's Unigram encoder (supported: Sequence, Metaspace, WhitespaceSplit); load the file with HuggingFaceTokenizer instead`);
  }
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/** The byte a <0xXX> piece stands for, or -1. */
function bytePieceValue(piece: string): number {
  const m = BYTE_PIECE.exec(piece);
  return m ? parseInt(m[1]!, 16) : -1;
}

/**
 * Text of a run of byte pieces. Valid UTF-8 decodes as `tokenizers` decodes it; lmforge also accepts
 * WTF-8 (encoded lone surrogates, which its encoder produces for them) so that such strings round-trip;
 * anything else becomes one U+FFFD per byte, as in `tokenizers`.
 */
function decodeByteRun(bytes: number[]): string {
  const b = Uint8Array.from(bytes);
  const s = wtf8Decode(b);
  const back = wtf8Encode(s);
  if (back.length === b.length && back.every((x, i) => x === b[i])) return s;
  return '\uFFFD'.repeat(b.length);
}

function parseDecoder(d: unknown, op: string): Decoder {
  if (d === null || d === undefined) return (t) => [t.join(' ')];
  if (!isObject(d)) throw new ValueError(op, `decoder must be an object or null, got ${JSON.stringify(d)}`);
  const where = `decoder ${String(d.type)}`;
  switch (d.type) {
    case 'Sequence': {
      if (!Array.isArray(d.decoders)) throw new ValueError(op, `${where}: "decoders" must be an array`);
      const parts = d.decoders.map((x) => parseDecoder(x, op));
      return (t) => parts.reduce((acc, f) => f(acc), t);
    }
    case 'Replace': {
      const re = patternRegex(d.pattern, op, where);
      const content = stringField(d, 'content', op, where);
      return (t) => t.map((s) => s.replace(re, () => content));
    }
    case 'ByteFallback':
      return (t) => {
        const out: string[] = [];
        let run: number[] = [];
        for (const s of t) {
          const b = bytePieceValue(s);
          if (b >= 0) {
            run.push(b);
            continue;
          }
          if (run.length > 0) out.push(decodeByteRun(run));
          run = [];
          out.push(s);
        }
        if (run.length > 0) out.push(decodeByteRun(run));
        return out;
      };
    case 'Fuse':
      return (t) => [t.join('')];
    case 'Strip': {
      const content = stringField(d, 'content', op, where);
      const start = Number(d.start ?? 0);
      const stop = Number(d.stop ?? 0);
      if ([...content].length !== 1 || !Number.isInteger(start) || !Number.isInteger(stop) || start < 0 || stop < 0)
        throw new ValueError(op, `${where}: needs one character "content" and non-negative integer "start"/"stop"`);
      return (t) =>
        t.map((s) => {
          const chars = [...s];
          let a = 0;
          while (a < start && a < chars.length && chars[a] === content) a++;
          let b = chars.length;
          while (chars.length - b < stop && b > a && chars[b - 1] === content) b--;
          return chars.slice(a, b).join('');
        });
    }
    case 'Metaspace': {
      // As `tokenizers` does it: every replacement character becomes a space, except that in the first
      // token they are dropped when a prefix was prepended (prepend_scheme other than "never").
      const rep = stringField(d, 'replacement', op, where);
      const scheme = d.prepend_scheme ?? (d.add_prefix_space === false ? 'never' : 'always');
      const strip = scheme !== 'never';
      return (t) => t.map((s, i) => s.replaceAll(rep, i === 0 && strip ? '' : ' '));
    }
    default:
      throw new ValueError(op, `decoder type ${JSON.stringify(d.type)} is not supported by lmforge's Unigram decoder (supported: Sequence, Replace, ByteFallback, Fuse, Strip, Metaspace); load the file with HuggingFaceTokenizer instead`);
  }
}

const SUPPORTED = {
  normalizer: { key: 'normalizers', types: ['Sequence', 'Prepend', 'Replace', 'NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'Strip'] },
  pre_tokenizer: { key: 'pretokenizers', types: ['Sequence', 'Metaspace', 'WhitespaceSplit'] },
  decoder: { key: 'decoders', types: ['Sequence', 'Replace', 'ByteFallback', 'Fuse', 'Strip', 'Metaspace'] },
} as const;

/** The first component type of a section (walking Sequences) that lmforge does not implement, or null. */
function unsupportedPart(section: keyof typeof SUPPORTED, x: unknown): string | null {
  if (x === null || x === undefined || !isObject(x)) return null; // null is fine; malformed is parse's error
  const { key, types } = SUPPORTED[section];
  if (!(types as readonly unknown[]).includes(x.type)) return `${section} type ${JSON.stringify(x.type)}`;
  if (x.type === 'Sequence' && Array.isArray(x[key]))
    for (const y of x[key] as unknown[]) {
      const r = unsupportedPart(section, y);
      if (r !== null) return r;
    }
  return null;
}

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

export interface UnigramEncodeOptions {
  /** Match added (special) tokens in the text and emit their ids, as `tokenizers` does. Default false. */
  specialTokens?: boolean;
}

/** A Unigram tokenizer. Build one with `trainUnigram`, `UnigramTokenizer.fromJSON` or `loadTokenizerFile`. */
export class UnigramTokenizer implements Tokenizer {
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
  readonly #addedRe: RegExp | null;
  readonly #normalize: Normalizer | null;
  readonly #preTokenize: PreTokenizer;
  readonly #decode: Decoder;
  readonly #cache = new Map<string, Int32Array>();
  #source: { path: string; sha256: string } | null = null;
  #unsavedHash: string | null = null;

  constructor(parts: UnigramParts) {
    const op = 'UnigramTokenizer';
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
      const id = this.#ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id !== undefined) this.#byteIds[b] = id;
    }
    for (let id = 0; id < n; id++) this.#byteOf[id] = bytePieceValue(this.#pieces[id]!);

    const texts = [...this.#added.keys()].sort((x, y) => y.length - x.length);
    this.#addedRe = texts.length > 0 ? new RegExp(texts.map(escapeRegex).join('|'), 'g') : null;
    this.#normalize = parseNormalizer(parts.normalizer, op);
    this.#preTokenize = parsePreTokenizer(parts.preTokenizer, op);
    this.#decode = parseDecoder(parts.decoder, op);

    let eot: number | undefined;
    const lookup = (t: string) => this.#added.get(t)?.id ?? this.#ids.get(t);
    if (parts.eotToken !== undefined) {
      eot = lookup(parts.eotToken);
      if (eot === undefined) throw new ValueError(op, `eotToken ${JSON.stringify(parts.eotToken)} is not in the vocabulary`);
    } else {
      for (const t of EOT_NAMES) if ((eot = lookup(t)) !== undefined) break;
      if (eot === undefined) {
        const first = parts.added.filter((a) => a.special && a.id !== this.unkId).sort((x, y) => x.id - y.id)[0];
        eot = first?.id;
      }
      if (eot === undefined)
        throw new ValueError(op, `no end-of-document token: the vocabulary has no special tokens besides <unk> (looked for ${EOT_NAMES.join(', ')}); pass eotToken`);
    }
    this.eot = eot;
    this.name = `unigram-${size}`;
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

  encodeSync(text: string, opts: UnigramEncodeOptions = {}): Int32Array {
    if (typeof text !== 'string') throw new ValueError('UnigramTokenizer.encode', `text must be a string, got ${typeof text}`);
    const out: number[] = [];
    if (opts.specialTokens && this.#addedRe) {
      const re = this.#addedRe;
      re.lastIndex = 0;
      let at = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const a = this.#added.get(m[0])!;
        let end = m.index;
        // lstrip/rstrip: the token takes the whitespace next to it.
        if (a.lstrip) while (end > at && /\s/u.test(text[end - 1]!)) end--;
        if (end > at) this.#encodeSegment(text.slice(at, end), at === 0, out);
        out.push(a.id);
        at = m.index + m[0].length;
        if (a.rstrip) while (at < text.length && /\s/u.test(text[at]!)) at++;
        re.lastIndex = at;
      }
      if (at < text.length) this.#encodeSegment(text.slice(at), at === 0, out);
    } else {
      this.#encodeSegment(text, true, out);
    }
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

  // ---- tokenizer.json ----

  /** The tokenizer as a Hugging Face tokenizer.json object (Unigram model). */
  toJSON(): Record<string, unknown> {
    const p = this.#parts;
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [...p.added]
        .sort((x, y) => x.id - y.id)
        .map((a) => ({ id: a.id, content: a.content, single_word: false, lstrip: a.lstrip === true, rstrip: a.rstrip === true, normalized: false, special: a.special })),
      normalizer: p.normalizer ?? null,
      pre_tokenizer: p.preTokenizer ?? null,
      post_processor: p.postProcessor ?? null,
      decoder: p.decoder ?? null,
      model: { type: 'Unigram', unk_id: this.unkId, vocab: this.vocab(), byte_fallback: this.byteFallback },
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
      throw new ValueError('UnigramTokenizer.save', `cannot write '${path}': ${e instanceof Error ? e.message : String(e)}`);
    }
    this.#source = { path: abs, sha256: createHash('sha256').update(text).digest('hex') };
  }

  /**
   * Why lmforge cannot encode a Unigram tokenizer.json exactly (a normalizer, pre-tokenizer or decoder
   * it does not implement, an added token with single_word or matched on normalized text), or null.
   * loadTokenizerFile hands such files to the `tokenizers` package.
   */
  static unsupportedReason(obj: unknown): string | null {
    if (!isObject(obj)) return null;
    for (const section of ['normalizer', 'pre_tokenizer', 'decoder'] as const) {
      const r = unsupportedPart(section, obj[section]);
      if (r !== null) return `${r} is not supported by lmforge's Unigram tokenizer`;
    }
    if (Array.isArray(obj.added_tokens))
      for (const a of obj.added_tokens as unknown[]) {
        if (!isObject(a)) continue;
        if (a.single_word === true) return `added token ${JSON.stringify(a.content)} sets single_word, which lmforge does not implement`;
        if (a.normalized === true && obj.normalizer !== null && obj.normalizer !== undefined)
          return `added token ${JSON.stringify(a.content)} is matched on normalized text (normalized: true), which lmforge does not implement`;
      }
    return null;
  }

  /**
   * Reads a tokenizer.json object with a Unigram model (lmforge's own or, e.g., a SentencePiece
   * conversion). Files that unsupportedReason() names are refused with that reason.
   */
  static fromJSON(obj: unknown, opts: { eotToken?: string } = {}): UnigramTokenizer {
    const op = 'UnigramTokenizer.fromJSON';
    if (!isObject(obj)) throw new ValueError(op, 'a tokenizer.json must be a JSON object');
    const model = obj.model;
    if (!isObject(model)) throw new ValueError(op, 'tokenizer.json has no "model" object');
    if (model.type !== undefined && model.type !== 'Unigram') throw new ValueError(op, `model.type is ${JSON.stringify(model.type)}, not "Unigram"`);
    if (!Array.isArray(model.vocab)) throw new ValueError(op, 'model.vocab must be an array of [piece, score]');
    const unk = model.unk_id ?? null;
    if (unk !== null && typeof unk !== 'number') throw new ValueError(op, `model.unk_id must be a number or null, got ${JSON.stringify(unk)}`);
    const unsupported = UnigramTokenizer.unsupportedReason(obj);
    if (unsupported !== null) throw new ValueError(op, `${unsupported}; load the file with HuggingFaceTokenizer instead`);
    const addedRaw = obj.added_tokens ?? [];
    if (!Array.isArray(addedRaw)) throw new ValueError(op, 'added_tokens must be an array');
    const added: UnigramAddedToken[] = addedRaw.map((a: unknown) => {
      if (!isObject(a) || typeof a.id !== 'number' || typeof a.content !== 'string')
        throw new ValueError(op, `added token ${JSON.stringify(a)} needs a numeric id and a string content`);
      return { id: a.id, content: a.content, special: a.special === true, lstrip: a.lstrip === true, rstrip: a.rstrip === true };
    });
    return new UnigramTokenizer({
      vocab: model.vocab as [string, number][],
      unkId: unk,
      byteFallback: model.byte_fallback === true,
      added,
      normalizer: obj.normalizer ?? null,
      preTokenizer: obj.pre_tokenizer ?? null,
      decoder: obj.decoder ?? null,
      postProcessor: obj.post_processor ?? null,
      ...(opts.eotToken !== undefined ? { eotToken: opts.eotToken } : {}),
    });
  }
}

const defaultNormalize = parseNormalizer(UNIGRAM_PIPELINE.normalizer, 'unigramWords')!;
const defaultPreTokenize = parsePreTokenizer(UNIGRAM_PIPELINE.pre_tokenizer, 'unigramWords');

/** The words lmforge's Unigram pipeline makes of a text segment (what the trainer counts). */
export function unigramWords(segment: string, first = true): string[] {
  return defaultPreTokenize(defaultNormalize(segment), first);
}
