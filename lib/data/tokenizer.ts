/**
 * Tokenizers behind one interface: the built-in byte-level tokenizer (no training, no files) and any
 * Hugging Face tokenizer.json through the `tokenizers` npm package (Hugging Face's Rust library).
 *
 * encode/decode are async because the Hugging Face binding is; the byte tokenizer also offers sync forms.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

import { ArgumentTypeError, NativeError, ValueError } from '../errors.js';
import { checkObject, describe } from '../ops/util.js';
import { loadTokenizerFile } from './tokenizer_file.js';
import { EOT_NAMES } from './tokenizer_json.js';

/**
 * What a manifest or checkpoint records so the same tokenizer can be loaded again. 'file' is a
 * tokenizer.json read by loadTokenizerFile (lmforge's own encoders where it has one, else `tokenizers`);
 * 'huggingface' (older records) always goes through `tokenizers`. Both are checked against the sha256.
 */
export type TokenizerSpec =
  | { kind: 'byte' }
  | { kind: 'huggingface'; path: string; sha256: string }
  | { kind: 'file'; path: string; sha256: string };

export interface Tokenizer {
  /** A short name for logs ('byte', 'hf:gpt2.json'). */
  readonly name: string;
  /** Ids run over [0, vocabSize). */
  readonly vocabSize: number;
  /** The end-of-document id placed between packed documents. */
  readonly eot: number;
  /** How to load this tokenizer again (recorded in token-cache manifests and checkpoints). */
  readonly spec: TokenizerSpec;
  encode(text: string): Promise<Int32Array>;
  /** Text of the ids; end-of-document ids are dropped. */
  decode(ids: ArrayLike<number>): Promise<string>;
}

const utf8Encoder = new TextEncoder();
// fatal: false: a model's sampled bytes need not be valid UTF-8; the bad ones become U+FFFD.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** 256 byte values plus end-of-document (id 256): vocabSize 257. Every string round-trips exactly. */
export class ByteTokenizer implements Tokenizer {
  readonly name = 'byte';
  readonly vocabSize = 257;
  readonly eot = 256;
  readonly spec: TokenizerSpec = { kind: 'byte' };

  encodeSync(text: string): Int32Array {
    if (typeof text !== 'string') throw new ValueError('ByteTokenizer.encode', `text must be a string, got ${typeof text}`);
    return Int32Array.from(utf8Encoder.encode(text));
  }

  decodeSync(ids: ArrayLike<number>): string {
    if (!Array.isArray(ids) && !(ArrayBuffer.isView(ids) && !(ids instanceof DataView)))
      throw new ArgumentTypeError('ByteTokenizer.decode', `ids must be an array or typed array of token ids, got ${describe(ids)}`);
    const bytes = new Uint8Array(ids.length);
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id > 256) throw new ValueError('ByteTokenizer.decode', `ids[${i}] = ${id} is outside the vocabulary [0, 257)`);
      if (id !== 256) bytes[n++] = id;
    }
    return utf8Decoder.decode(bytes.subarray(0, n));
  }

  async encode(text: string): Promise<Int32Array> {
    return this.encodeSync(text);
  }

  async decode(ids: ArrayLike<number>): Promise<string> {
    return this.decodeSync(ids);
  }
}

// The slice of the `tokenizers` package's API that lmforge uses.
interface HfEncoding {
  getIds(): number[];
}
interface HfTokenizer {
  encode(text: string, pair?: null, opts?: { addSpecialTokens?: boolean }): Promise<HfEncoding>;
  decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
  getVocabSize(withAddedTokens?: boolean): number;
  tokenToId(token: string): number | null;
}
interface HfModule {
  Tokenizer: { fromString(s: string): HfTokenizer };
}

function loadTokenizersPackage(op: string): HfModule {
  try {
    return createRequire(import.meta.url)('tokenizers') as HfModule;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new NativeError(op, `the 'tokenizers' npm package (Hugging Face tokenizers) could not be loaded: ${why}. Install it with 'npm install tokenizers' (it ships prebuilt binaries for Linux, macOS and Windows), or use the byte tokenizer`);
  }
}

export { EOT_NAMES };

/** A Hugging Face tokenizer.json (GPT-2, GPT-NeoX, SentencePiece conversions) loaded through `tokenizers`. */
export class HuggingFaceTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly eot: number;
  readonly spec: TokenizerSpec;
  readonly #tok: HfTokenizer;

  private constructor(tok: HfTokenizer, path: string, sha256: string, eot: number) {
    this.#tok = tok;
    this.name = `hf:${path.split(/[\\/]/).pop()}`;
    this.vocabSize = tok.getVocabSize(true);
    this.eot = eot;
    this.spec = { kind: 'huggingface', path, sha256 };
  }

  /**
   * Loads tokenizer.json. The end-of-document id is `eotToken` when given, else the first of the usual
   * names (<|endoftext|>, </s>, ...) that the vocabulary holds; a file with none of them is an error.
   */
  static fromFile(path: string, opts: { eotToken?: string } = {}): HuggingFaceTokenizer {
    const op = 'HuggingFaceTokenizer.fromFile';
    const abs = resolve(path);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      throw new ValueError(op, `cannot read tokenizer file '${path}': ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    const mod = loadTokenizersPackage(op);
    let tok: HfTokenizer;
    try {
      tok = mod.Tokenizer.fromString(text);
    } catch (e) {
      throw new ValueError(op, `'${path}' is not a valid tokenizer.json: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    const names = opts.eotToken !== undefined ? [opts.eotToken] : EOT_NAMES;
    let eot: number | null = null;
    for (const n of names) {
      eot = tok.tokenToId(n);
      if (eot !== null && eot !== undefined) break;
    }
    if (eot === null || eot === undefined)
      throw new ValueError(op, `'${path}' has no end-of-document token (looked for ${names.join(', ')}); pass eotToken`);
    return new HuggingFaceTokenizer(tok, abs, createHash('sha256').update(text).digest('hex'), eot);
  }

  async encode(text: string): Promise<Int32Array> {
    if (typeof text !== 'string') throw new ValueError('HuggingFaceTokenizer.encode', `text must be a string, got ${typeof text}`);
    // No special tokens: documents are packed with the end-of-document id by the data pipeline instead.
    const enc = await this.#tok.encode(text, null, { addSpecialTokens: false });
    return Int32Array.from(enc.getIds());
  }

  async decode(ids: ArrayLike<number>): Promise<string> {
    const list: number[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i] !== this.eot) list.push(ids[i]!);
    return this.#tok.decode(list, false);
  }
}

/** Loads the tokenizer a spec describes; a Hugging Face file must still hash to the recorded digest. */
export function tokenizerFromSpec(spec: TokenizerSpec): Tokenizer {
  checkObject('tokenizerFromSpec', 'spec', spec);
  if (spec.kind === 'byte') return new ByteTokenizer();
  if (spec.kind === 'huggingface') {
    const t = HuggingFaceTokenizer.fromFile(spec.path);
    if (t.spec.kind === 'huggingface' && t.spec.sha256 !== spec.sha256)
      throw new ValueError('tokenizerFromSpec', `tokenizer file '${spec.path}' changed since it was recorded (sha256 ${t.spec.sha256.slice(0, 12)}…, expected ${spec.sha256.slice(0, 12)}…)`);
    return t;
  }
  if (spec.kind === 'file') {
    if (spec.path === '') throw new ValueError('tokenizerFromSpec', 'the tokenizer was never saved to a file (call save(path) before recording it)');
    const t = loadTokenizerFile(spec.path);
    if ('sha256' in t.spec && t.spec.sha256 !== spec.sha256)
      throw new ValueError('tokenizerFromSpec', `tokenizer file '${spec.path}' changed since it was recorded (sha256 ${t.spec.sha256.slice(0, 12)}…, expected ${spec.sha256.slice(0, 12)}…)`);
    return t;
  }
  throw new ValueError('tokenizerFromSpec', `unknown tokenizer kind ${JSON.stringify((spec as { kind: unknown }).kind)} (expected 'byte', 'file' or 'huggingface')`);
}

/** 'byte' or a path to a tokenizer.json (see loadTokenizerFile). */
export function loadTokenizer(nameOrPath: string): Tokenizer {
  if (nameOrPath === 'byte') return new ByteTokenizer();
  return loadTokenizerFile(nameOrPath);
}
