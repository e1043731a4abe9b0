/** Tokenizers, documents, token caches, splits, samplers and data statistics. */
export { ByteTokenizer, HuggingFaceTokenizer, loadTokenizer, tokenizerFromSpec } from './tokenizer.js';
export type { Tokenizer, TokenizerSpec } from './tokenizer.js';
export { BpeTokenizer } from './bpe.js';
export type { BpeAddedToken, BpeEncodeOptions, BpeParts, NormalizationForm } from './bpe.js';
export { countWords, trainBpe } from './bpe_train.js';
export type { BpeTrainOptions } from './bpe_train.js';
export { UNIGRAM_PIPELINE, UnigramTokenizer, unigramWords } from './unigram.js';
export type { UnigramAddedToken, UnigramEncodeOptions, UnigramParts } from './unigram.js';
export { trainUnigram } from './unigram_train.js';
export type { UnigramTrainOptions, UnigramTrainReport } from './unigram_train.js';
export { loadTokenizerFile } from './tokenizer_file.js';
export type { TokenizerFileOptions } from './tokenizer_file.js';
export { GPT2_SPLIT_PATTERN, pretokenize, wtf8Decode, wtf8Encode } from './pretokenize.js';
export { brownCorpus, brownTaggedCorpus, loadDocuments, readDocuments, stripBrownTags, taggedSentenceText, taggedText } from './documents.js';
export type { Document, DocumentSet, SkippedFile, TaggedDocument, TaggedWord } from './documents.js';
export {
  dataStats, hashUniform, packDocuments, RandomWindowSampler, SequentialSampler, splitDocuments, tokenizeDocuments,
} from './dataset.js';
export type { Batch, DataStats, Sampler, SamplerState, SplitOptions, TokenArray, TokenDataset, TokenizeOptions, TokenSplit } from './dataset.js';
