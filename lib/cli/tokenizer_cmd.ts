/** `lmforge tokenizer train|stats`: train a BPE or Unigram tokenizer.json, and see what one does to a corpus. */
import { trainBpe } from '../data/bpe_train.js';
import { trainUnigram } from '../data/unigram_train.js';
import { splitDocuments } from '../data/dataset.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { tokenizerStats } from '../data/tokenizer_stats.js';
import { command, type CommandSpec } from './args.js';
import { documentsOf } from './train_cmd.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

const TEXT_HELP = `text: .txt/.md files, .jsonl (a 'text' field per line), folders (also their text
files without an extension; other files are skipped and counted); default the bundled Brown corpus`;

export const TOKENIZER_TRAIN = {
  name: 'tokenizer train',
  summary: 'train a BPE or Unigram tokenizer.json on the training documents',
  positionals: 'FILES/FOLDERS...',
  positionalsHelp: TEXT_HELP,
  options: [
    { name: 'type', type: 'string', choices: ['bpe', 'unigram'], default: 'bpe', help: 'byte-level BPE (GPT-2/NeoX style) or SentencePiece-style Unigram (byte fallback)' },
    { name: 'vocab', type: 'int', min: 1, default: 8192, help: 'vocabulary size, special tokens included' },
    { name: 'out', type: 'string', arg: 'FILE.json', required: true, help: 'where the tokenizer.json goes (loadable by Hugging Face tokenizers too)' },
    { name: 'special-tokens', type: 'list', help: 'special tokens; the end-of-document token is <|endoftext|> when listed, else the first', defaultText: '<|endoftext|>' },
    { name: 'min-frequency', type: 'int', min: 1, default: 2, help: 'ignore words/pairs seen fewer times' },
    { name: 'val-fraction', type: 'number', min: 0, below: 1, default: 0.05, help: "documents held out, as 'lmforge train' holds them out, so that validation text is unseen" },
    { name: 'split-seed', type: 'int', min: 0, default: 0, help: "seed of that split (as train's)" },
    { name: 'quiet', type: 'flag', help: 'no progress output' },
  ],
} as const satisfies CommandSpec;

export const TOKENIZER_STATS = {
  name: 'tokenizer stats',
  summary: 'bytes per token, vocabulary use, unknown and byte-fallback tokens',
  positionals: 'FILES/FOLDERS...',
  positionalsHelp: TEXT_HELP,
  options: [
    { name: 'tokenizer', type: 'string', arg: 'byte|FILE.json', default: 'byte', help: 'the tokenizer' },
    { name: 'top', type: 'int', min: 0, default: 10, help: 'how many of the most frequent tokens to list' },
    { name: 'json', type: 'flag', help: 'print the statistics as one JSON line' },
  ],
} as const satisfies CommandSpec;

export const tokenizerTrainCommand = command(TOKENIZER_TRAIN, async (a) => {
  const v = a.values;
  const { docs, label, skipped } = documentsOf(a.positionals);
  if (skipped && !v.quiet) err(skipped);
  const { train } = splitDocuments(docs.length, { valFraction: v['val-fraction'], seed: v['split-seed'] });
  const texts = train.map((i) => docs[i]!.text);
  const t0 = performance.now();
  const specialTokens = v['special-tokens'];
  const opts = { vocabSize: v.vocab, minFrequency: v['min-frequency'], ...(specialTokens ? { specialTokens } : {}) };
  const tok = v.type === 'bpe' ? trainBpe(texts, opts) : trainUnigram(texts, opts);
  const seconds = (performance.now() - t0) / 1000;
  tok.save(v.out);
  if (!v.quiet) err(`trained on ${texts.length} of ${docs.length} documents of ${label}`);
  out(`${v.type} tokenizer, vocabulary ${tok.vocabSize}, trained in ${seconds.toFixed(1)} s: wrote ${v.out}`);
});

export const tokenizerStatsCommand = command(TOKENIZER_STATS, async (a) => {
  const tok = loadTokenizer(a.values.tokenizer);
  const top = a.values.top;
  const { docs, label, skipped } = documentsOf(a.positionals);
  if (skipped) err(skipped);
  const s = await tokenizerStats(tok, docs, { top });
  if (a.values.json) return out(JSON.stringify(s));
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  out(`${label} with ${tok.name} (vocabulary ${s.vocabSize})`);
  out(`documents ${s.documents.toLocaleString('en-US')}, bytes ${s.bytes.toLocaleString('en-US')}, tokens ${s.tokens.toLocaleString('en-US')}`);
  out(`bytes per token ${s.bytesPerToken.toFixed(3)} (${s.tokensPerByte.toFixed(4)} tokens per byte); encoded in ${s.encodeSeconds.toFixed(1)} s`);
  out(`vocabulary use: ${s.idsUsed.toLocaleString('en-US')} of ${s.vocabSize.toLocaleString('en-US')} ids seen (${pct(s.vocabUse)})`);
  out(`unknown tokens: ${s.unknownTokens} (${pct(s.unknownTokens / Math.max(1, s.tokens))}); byte-fallback tokens: ${s.byteFallbackTokens} (${pct(s.byteFallbackTokens / Math.max(1, s.tokens))})`);
  if (s.top.length) out(`most frequent: ${s.top.map(([t, c]) => `${JSON.stringify(t)} ${c}`).join(', ')}`);
});
