/** What a tokenizer does to a corpus: bytes per token, how much of the vocabulary is used, unknowns. */
import { ValueError } from '../errors.js';
import type { Document } from './documents.js';
import type { Tokenizer } from './tokenizer.js';
import type { TokenizerIntrospection } from './tokenizer_json.js';

export interface TokenizerStats {
  tokenizer: string;
  vocabSize: number;
  documents: number;
  /** UTF-8 bytes of the text. */
  bytes: number;
  /** Tokens of the text, end-of-document tokens not counted. */
  tokens: number;
  bytesPerToken: number;
  tokensPerByte: number;
  /** Distinct ids seen, and their share of the vocabulary. */
  idsUsed: number;
  vocabUse: number;
  /** Ids of the unknown token (0 when the tokenizer has none or never emits it). */
  unknownTokens: number;
  /** Byte-fallback tokens (<0xNN> pieces of a Unigram vocabulary): characters the vocabulary lacks. */
  byteFallbackTokens: number;
  /** The most frequent tokens, as [decoded text, count]. */
  top: [string, number][];
  encodeSeconds: number;
}

export async function tokenizerStats(tok: Tokenizer, docs: readonly Document[], opts: { top?: number } = {}): Promise<TokenizerStats> {
  const op = 'tokenizerStats';
  if (docs.length === 0) throw new ValueError(op, 'no documents');
  const counts = new Float64Array(tok.vocabSize);
  let bytes = 0;
  let tokens = 0;
  const t0 = performance.now();
  for (const d of docs) {
    bytes += Buffer.byteLength(d.text);
    const ids = await tok.encode(d.text);
    tokens += ids.length;
    for (let i = 0; i < ids.length; i++) counts[ids[i]!]!++;
  }
  const encodeSeconds = (performance.now() - t0) / 1000;
  // lmforge's encoders say which ids are unknown and which stand for raw bytes; the others do not.
  const x = tok as Tokenizer & Partial<TokenizerIntrospection>;
  let idsUsed = 0;
  let byteFallbackTokens = 0;
  for (let id = 0; id < counts.length; id++) {
    if (counts[id]! > 0) idsUsed++;
    if (x.isByteFallback?.(id)) byteFallbackTokens += counts[id]!;
  }
  const unknownTokens = typeof x.unkId === 'number' ? counts[x.unkId]! : 0;
  const order = Array.from(counts.keys()).filter((id) => counts[id]! > 0).sort((a, b) => counts[b]! - counts[a]! || a - b);
  const top: [string, number][] = [];
  for (const id of order.slice(0, opts.top ?? 10)) top.push([await tok.decode([id]), counts[id]!]);
  return {
    tokenizer: tok.name, vocabSize: tok.vocabSize, documents: docs.length, bytes, tokens,
    bytesPerToken: tokens > 0 ? bytes / tokens : 0, tokensPerByte: bytes > 0 ? tokens / bytes : 0,
    idsUsed, vocabUse: idsUsed / tok.vocabSize, unknownTokens, byteFallbackTokens, top, encodeSeconds,
  };
}
