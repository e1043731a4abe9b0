/** Tokenizers, documents, token caches, splits, samplers and data statistics. */
export { ByteTokenizer, HuggingFaceTokenizer, loadTokenizer, tokenizerFromSpec } from './tokenizer.js';
export type { Tokenizer, TokenizerSpec } from './tokenizer.js';
export { brownCorpus, loadDocuments, stripBrownTags } from './documents.js';
export type { Document } from './documents.js';
export {
  dataStats, hashUniform, packDocuments, RandomWindowSampler, SequentialSampler, splitDocuments, tokenizeDocuments,
} from './dataset.js';
export type { Batch, DataStats, Sampler, SamplerState, SplitOptions, TokenArray, TokenDataset, TokenizeOptions, TokenSplit } from './dataset.js';
