/**
 * What lmforge's tokenizer.json encoders (BpeTokenizer, UnigramTokenizer) share: reading the file's
 * untyped JSON, matching added tokens in text, choosing the end-of-document token, and saving to a
 * file that `spec` then names.
 *
 * The added-token rule, the same for every lmforge encoder: added tokens that are not special (GPT-NeoX's
 * runs of spaces, a Unigram file's user-defined pieces) are ordinary vocabulary and are always matched in
 * text, as `tokenizers` does; special tokens are plain text unless `{ specialTokens: true }`, so a
 * document cannot inject an end-of-document id (the data pipeline inserts `eot` itself). With
 * `{ specialTokens: true }` the encodings equal those of `tokenizers`.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { ValueError } from '../errors.js';
import type { TokenizerSpec } from './tokenizer.js';

// Names of end-of-document tokens in common tokenizer.json files, tried in order. (Here rather than in
// tokenizer.ts so that this module imports no runtime code: the encoders extend TokenizerJsonFile while
// tokenizer.ts -> tokenizer_file.ts -> the encoders may still be loading.)
export const EOT_NAMES = ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>', '[SEP]', '<|im_end|>'];

export interface EncodeOptions {
  /** Match special tokens in the text and emit their ids. Default false: they are plain text. */
  specialTokens?: boolean;
}

/**
 * What lmforge's own encoders (BpeTokenizer, UnigramTokenizer) offer beyond Tokenizer; tokenizerStats
 * reads unkId and isByteFallback where a tokenizer has them.
 */
export interface TokenizerIntrospection {
  /** The unknown token's id, or null when the model has none. */
  readonly unkId: number | null;
  /** Whether an id is a byte-fallback piece (<0xXX>) standing for a byte the vocabulary lacks. */
  isByteFallback(id: number): boolean;
  /** The id of a token given by its tokenizer.json spelling, or null. */
  tokenToId(token: string): number | null;
  /** The tokenizer.json spelling of an id. */
  idToToken(id: number): string;
}

/** A plain JSON object (not null, not an array), as tokenizer.json's sections are. */
export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A global regex matching any of `texts`, or null for none. Longest first, so that the alternation
 * matches leftmost-longest as `tokenizers`' added-vocabulary matcher does.
 */
export function addedTokenRegex(texts: Iterable<string>): RegExp | null {
  const sorted = [...texts].sort((x, y) => y.length - x.length);
  return sorted.length > 0 ? new RegExp(sorted.map(escapeRegex).join('|'), 'g') : null;
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

/**
 * The end-of-document id: `eotToken` when given (looked up with `find`), else the first of EOT_NAMES
 * the vocabulary holds (looked up with `findName`), else `firstSpecial`. Both trainers and every file
 * loader go through here, so a tokenizer's eot never depends on how it was made.
 */
export function resolveEot(
  op: string,
  eotToken: string | undefined,
  find: (text: string) => number | undefined,
  findName: (text: string) => number | undefined,
  firstSpecial: number | undefined,
  none: string,
): number {
  if (eotToken !== undefined) {
    const id = find(eotToken);
    if (id === undefined) throw new ValueError(op, `eotToken ${JSON.stringify(eotToken)} is not in the vocabulary`);
    return id;
  }
  for (const name of EOT_NAMES) {
    const id = findName(name);
    if (id !== undefined) return id;
  }
  if (firstSpecial !== undefined) return firstSpecial;
  throw new ValueError(op, `no end-of-document token: ${none} (looked for ${EOT_NAMES.join(', ')}); pass eotToken`);
}

/**
 * The end-of-document token of a trained tokenizer: '<|endoftext|>' when it is among the special tokens,
 * else the first of them. Both trainers (BPE and Unigram) use it, so the same options give the same eot.
 */
export function trainedEotToken(specials: readonly string[]): string {
  return specials.includes('<|endoftext|>') ? '<|endoftext|>' : specials[0]!;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Base of the tokenizers that write their own tokenizer.json: `spec`, `setSource`, `toJSONString` and
 * `save` from the subclass's `toJSON`. An unsaved tokenizer's spec carries the hash of the text it would
 * write (path ''), so a manifest can still tell two unsaved tokenizers apart.
 */
export abstract class TokenizerJsonFile {
  readonly #className: string;
  #source: { path: string; sha256: string } | null = null;
  #unsavedHash: string | null = null;

  constructor(className: string) {
    this.#className = className;
  }

  /** The tokenizer as a Hugging Face tokenizer.json object. */
  abstract toJSON(): Record<string, unknown>;

  /** How to load this tokenizer again: its file and the file's sha256 (path '' until saved). */
  get spec(): TokenizerSpec {
    if (this.#source) return { kind: 'file', path: this.#source.path, sha256: this.#source.sha256 };
    this.#unsavedHash ??= sha256(this.toJSONString());
    return { kind: 'file', path: '', sha256: this.#unsavedHash };
  }

  /** Records the file this tokenizer was read from (loadTokenizerFile). */
  setSource(path: string, sha256Hex: string): void {
    this.#source = { path, sha256: sha256Hex };
  }

  /** toJSON() as the text that save() writes. */
  toJSONString(): string {
    return `${JSON.stringify(this.toJSON())}\n`;
  }

  /** Writes tokenizer.json; afterwards `spec` names this file. */
  save(path: string): void {
    const op = `${this.#className}.save`;
    if (typeof path !== 'string' || path === '') throw new ValueError(op, `path must be a non-empty string, got ${JSON.stringify(path)}`);
    const text = this.toJSONString();
    const abs = resolve(path);
    try {
      writeFileSync(abs, text);
    } catch (e) {
      throw new ValueError(op, `cannot write '${path}': ${e instanceof Error ? e.message : String(e)}`);
    }
    this.#source = { path: abs, sha256: sha256(text) };
  }
}
