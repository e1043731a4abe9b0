/**
 * Byte-level BPE tokenizer.json in and out: which files BpeTokenizer encodes exactly, reading their
 * parts (GPT-2 style files made elsewhere, merges as "a b" strings or [a, b] pairs, and lmforge's own),
 * and writing parts back as a file the `tokenizers` package loads.
 */
import { ValueError } from '../errors.js';
import type { BpeParts, NormalizationForm } from './bpe.js';
import { bytesToTokenString, tokenStringToBytes } from './pretokenize.js';
import { isObject, tokenizerJsonModelType } from './tokenizer_json.js';

export const NORMALIZATION_FORMS: readonly string[] = ['NFC', 'NFD', 'NFKC', 'NFKD'];

/**
 * Why a tokenizer.json object is not a plain byte-level BPE that BpeTokenizer encodes exactly, or null
 * when it is. loadTokenizerFile hands the others to the `tokenizers` package.
 */
export function bpeUnsupportedReason(obj: unknown): string | null {
  if (!isObject(obj)) return 'not a JSON object';
  const model = obj.model;
  if (!isObject(model) || tokenizerJsonModelType(obj) !== 'BPE') return 'model.type is not BPE';
  const pre = obj.pre_tokenizer;
  if (!isObject(pre) || pre.type !== 'ByteLevel') return 'the pre-tokenizer is not ByteLevel';
  if (pre.add_prefix_space === true) return 'ByteLevel add_prefix_space is true';
  if (pre.use_regex === false) return 'ByteLevel use_regex is false';
  const norm = obj.normalizer;
  if (norm !== null && norm !== undefined && !(isObject(norm) && typeof norm.type === 'string' && NORMALIZATION_FORMS.includes(norm.type)))
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

/** The parts of a tokenizer.json object (as JSON.parse returns it) that bpeUnsupportedReason accepts. */
export function bpePartsFromJSON(obj: unknown, op: string): BpeParts {
  const why = bpeUnsupportedReason(obj);
  if (why !== null) throw new ValueError(op, `not a byte-level BPE tokenizer.json this encoder supports: ${why}`);
  const o = obj as Record<string, unknown>;
  const model = o.model as Record<string, unknown>;
  if (!isObject(model.vocab)) throw new ValueError(op, 'model.vocab must be an object of token -> id');
  if (!Array.isArray(model.merges)) throw new ValueError(op, 'model.merges must be a list');
  const addedRaw = (o.added_tokens as Record<string, unknown>[] | undefined) ?? [];

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
  for (const a of addedRaw) {
    if (typeof a.content !== 'string' || a.content === '') throw new ValueError(op, `added token ${JSON.stringify(a)} has no content`);
    addedIds.add(a.id as number);
  }
  for (const [s, id] of Object.entries(model.vocab)) {
    if (addedIds.has(id as number)) continue;
    const bytes = tokenStringToBytes(s);
    if (bytes === null || bytes.length === 0)
      throw new ValueError(op, `vocabulary token ${JSON.stringify(s)} is not spelled with the ByteLevel byte characters`);
    setId(id, bytes, `vocabulary token ${JSON.stringify(s)}`);
  }
  for (const a of addedRaw)
    // A missing flag means false, as in Hugging Face's AddedToken.
    setId(a.id, { added: a.content as string, special: a.special === true, normalized: a.normalized === true }, `added token ${JSON.stringify(a.content)}`);
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
  return {
    tokens, merges, ignoreMerges: model.ignore_merges === true,
    normalizer: isObject(o.normalizer) ? (o.normalizer.type as NormalizationForm) : null,
  };
}

/** A tokenizer.json object of `parts` (BPE model, ByteLevel pre-tokenizer and decoder); parts must be valid. */
export function bpePartsToJSON(parts: BpeParts, op: string): Record<string, unknown> {
  const spell = (t: BpeParts['tokens'][number]) => (t instanceof Uint8Array ? bytesToTokenString(t) : t.added);
  const vocab: Record<string, number> = {};
  parts.tokens.forEach((t, id) => {
    const s = spell(t);
    if (Object.hasOwn(vocab, s)) throw new ValueError(op, `token ${id} and token ${vocab[s]} are both spelled '${s}' in tokenizer.json`);
    vocab[s] = id;
  });
  const merges: [string, string][] = [];
  for (let r = 0; 2 * r < parts.merges.length; r++) merges.push([spell(parts.tokens[parts.merges[2 * r]!]!), spell(parts.tokens[parts.merges[2 * r + 1]!]!)]);
  const added_tokens: Record<string, unknown>[] = [];
  parts.tokens.forEach((t, id) => {
    if (!(t instanceof Uint8Array))
      added_tokens.push({ id, content: t.added, single_word: false, lstrip: false, rstrip: false, normalized: t.normalized === true, special: t.special !== false });
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: parts.normalizer ? { type: parts.normalizer } : null,
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
      ignore_merges: parts.ignoreMerges === true,
      vocab,
      merges,
    },
  };
}
