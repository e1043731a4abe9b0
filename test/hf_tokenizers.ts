/**
 * The `tokenizers` npm package (Hugging Face's Rust tokenizers) for the suites that compare lmforge's
 * encoders with it: `hf` is the module or null, and `itHf` skips a test, saying why once, where the
 * package cannot be loaded (it ships prebuilt binaries; a platform without one has no reference).
 */
import { createRequire } from 'node:module';

import { it } from 'vitest';

export interface HfEncoding {
  getIds(): number[];
}
export interface HfTokenizer {
  encode(text: string, pair?: null, opts?: { addSpecialTokens?: boolean }): Promise<HfEncoding>;
  decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
}
export interface HfModule {
  Tokenizer: { fromString(s: string): HfTokenizer };
}

let loaded: HfModule | null = null;
let why = '';
try {
  loaded = createRequire(import.meta.url)('tokenizers') as HfModule;
} catch (e) {
  why = e instanceof Error ? e.message.split('\n')[0]! : String(e);
}
export const hf = loaded;

/** `it` when the package loads, else `it.skip` (and one line saying why, prefixed with `suite`). */
export function hfIt(suite: string): typeof it | typeof it.skip {
  if (hf) return it;
  console.log(`${suite}: 'tokenizers' package tests skipped: ${why}`);
  return it.skip;
}

/** A loaded tokenizer.json (the tests call this only inside hfIt tests, where `hf` is set). */
export function hfTokenizer(json: string): HfTokenizer {
  if (hf === null) throw new Error(`the 'tokenizers' package is not loaded: ${why}`);
  return hf.Tokenizer.fromString(json);
}
