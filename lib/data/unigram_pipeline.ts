/**
 * The normalizers, pre-tokenizers and decoders of Unigram tokenizer.json files that lmforge implements,
 * each replaying `tokenizers`' behaviour, and lmforge's own pipeline (UNIGRAM_PIPELINE). Anything else
 * is a clear error naming the component (loadTokenizerFile hands such files to `tokenizers`).
 */
import { ValueError } from '../errors.js';
import { checkString } from '../ops/util.js';
import { wtf8Decode, wtf8Encode } from './pretokenize.js';
import { escapeRegex, isObject } from './tokenizer_json.js';

/** SentencePiece's meta space: stands for a space, and starts every word. */
export const META = '\u2581';

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

export type Normalizer = (s: string) => string;
/** Splits a normalized segment into words; `first` when the segment starts the input text. */
export type PreTokenizer = (s: string, first: boolean) => string[];
export type Decoder = (tokens: string[]) => string[];

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

export function parseNormalizer(n: unknown, op: string): Normalizer | null {
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

export function parsePreTokenizer(p: unknown, op: string): PreTokenizer {
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

/** The name of the byte-fallback piece of byte `b`: "<0x41>" (upper-case hex, as SentencePiece writes it). */
export function bytePieceName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** The byte a <0xXX> piece stands for, or -1. `tokenizers` accepts either case of hex digit here. */
export function bytePieceValue(piece: string): number {
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

export function parseDecoder(d: unknown, op: string): Decoder {
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
export function unsupportedPart(section: keyof typeof SUPPORTED, x: unknown): string | null {
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

const defaultNormalize = parseNormalizer(UNIGRAM_PIPELINE.normalizer, 'unigramWords')!;
const defaultPreTokenize = parsePreTokenizer(UNIGRAM_PIPELINE.pre_tokenizer, 'unigramWords');

/** The words lmforge's Unigram pipeline makes of a text segment (what the trainer counts). */
export function unigramWords(segment: string, first = true): string[] {
  checkString('unigramWords', 'segment', segment);
  return defaultPreTokenize(defaultNormalize(segment), first);
}
