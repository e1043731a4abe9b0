/**
 * tokenizer.json files: reads one and picks the encoder by model type. Byte-level BPE files are encoded
 * by lmforge itself (BpeTokenizer); Unigram files whose parts it implements by UnigramTokenizer; anything
 * else (WordPiece, BPE with other pre-tokenizers, ...) by Hugging Face's `tokenizers` package when installed.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

import { ValueError } from '../errors.js';
import { BpeTokenizer } from './bpe.js';
import { HuggingFaceTokenizer, type Tokenizer } from './tokenizer.js';
import { tokenizerJsonModelType } from './tokenizer_json.js';
import { UnigramTokenizer } from './unigram.js';

export interface TokenizerFileOptions {
  /** The end-of-document token's text (default: <|endoftext|>, </s>, ... or the first special token). */
  eotToken?: string;
}

/** Loads a tokenizer.json; its `spec` records the path and the file's sha256. */
export function loadTokenizerFile(path: string, opts: TokenizerFileOptions = {}): Tokenizer {
  const op = 'loadTokenizerFile';
  if (typeof path !== 'string' || path === '') throw new ValueError(op, `path must be a non-empty string, got ${JSON.stringify(path)}`);
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ValueError(op, `cannot read tokenizer file '${path}': ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ValueError(op, `'${path}' is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const model = typeof obj === 'object' && obj !== null ? (obj as { model?: unknown }).model : undefined;
  if (typeof model !== 'object' || model === null)
    throw new ValueError(op, `'${path}' is not a tokenizer.json: it has no "model" object`);
  const type = tokenizerJsonModelType(obj);
  const sha256 = createHash('sha256').update(text).digest('hex');

  const own =
    type === 'BPE' && BpeTokenizer.unsupportedReason(obj) === null ? BpeTokenizer
    : type === 'Unigram' && UnigramTokenizer.unsupportedReason(obj) === null ? UnigramTokenizer
    : null;
  if (own !== null) {
    let tok: BpeTokenizer | UnigramTokenizer;
    try {
      tok = own.fromJSON(obj, opts);
    } catch (e) {
      throw new ValueError(op, `'${path}': ${e instanceof Error ? e.message : String(e)}`);
    }
    tok.setSource(abs, sha256);
    return tok;
  }
  return HuggingFaceTokenizer.fromFile(abs, opts);
}
