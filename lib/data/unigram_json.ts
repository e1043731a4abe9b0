/**
 * Unigram tokenizer.json in and out: which files UnigramTokenizer encodes exactly, reading their parts
 * (lmforge's own or, e.g., a SentencePiece conversion), and writing parts back.
 */
import { ValueError } from '../errors.js';
import { isObject } from './tokenizer_json.js';
import type { UnigramAddedToken, UnigramParts } from './unigram.js';
import { unsupportedPart } from './unigram_pipeline.js';

/**
 * Why lmforge cannot encode a Unigram tokenizer.json exactly (a normalizer, pre-tokenizer or decoder
 * it does not implement, an added token with single_word or matched on normalized text), or null.
 * loadTokenizerFile hands such files to the `tokenizers` package.
 */
export function unigramUnsupportedReason(obj: unknown): string | null {
  if (!isObject(obj)) return null; // not a reason to hand it on: unigramPartsFromJSON rejects it clearly
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

/** The parts of a tokenizer.json object with a Unigram model; refuses what unigramUnsupportedReason names. */
export function unigramPartsFromJSON(obj: unknown, op: string): UnigramParts {
  if (!isObject(obj)) throw new ValueError(op, 'a tokenizer.json must be a JSON object');
  const model = obj.model;
  if (!isObject(model)) throw new ValueError(op, 'tokenizer.json has no "model" object');
  if (model.type !== undefined && model.type !== 'Unigram') throw new ValueError(op, `model.type is ${JSON.stringify(model.type)}, not "Unigram"`);
  if (!Array.isArray(model.vocab)) throw new ValueError(op, 'model.vocab must be an array of [piece, score]');
  const unk = model.unk_id ?? null;
  if (unk !== null && typeof unk !== 'number') throw new ValueError(op, `model.unk_id must be a number or null, got ${JSON.stringify(unk)}`);
  const unsupported = unigramUnsupportedReason(obj);
  if (unsupported !== null) throw new ValueError(op, `${unsupported}; load the file with HuggingFaceTokenizer instead`);
  const addedRaw = obj.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) throw new ValueError(op, 'added_tokens must be an array');
  const added: UnigramAddedToken[] = addedRaw.map((a: unknown) => {
    if (!isObject(a) || typeof a.id !== 'number' || typeof a.content !== 'string')
      throw new ValueError(op, `added token ${JSON.stringify(a)} needs a numeric id and a string content`);
    // A missing flag means false, as in Hugging Face's AddedToken.
    return { id: a.id, content: a.content, special: a.special === true, lstrip: a.lstrip === true, rstrip: a.rstrip === true };
  });
  return {
    vocab: model.vocab as [string, number][],
    unkId: unk,
    byteFallback: model.byte_fallback === true,
    added,
    normalizer: obj.normalizer ?? null,
    preTokenizer: obj.pre_tokenizer ?? null,
    decoder: obj.decoder ?? null,
    postProcessor: obj.post_processor ?? null,
  };
}

/** A tokenizer.json object of `parts` (valid parts, as UnigramTokenizer checked them). */
export function unigramPartsToJSON(p: UnigramParts): Record<string, unknown> {
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
    model: { type: 'Unigram', unk_id: p.unkId, vocab: p.vocab.map(([piece, score]) => [piece, score]), byte_fallback: p.byteFallback === true },
  };
}
