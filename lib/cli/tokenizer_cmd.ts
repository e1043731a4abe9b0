/** `lmforge tokenizer train|stats`: train a BPE or Unigram tokenizer.json, and see what one does to a corpus. */
import { ValueError } from '../errors.js';
import { trainBpe } from '../data/bpe_train.js';
import { trainUnigram } from '../data/unigram_train.js';
import { splitDocuments } from '../data/dataset.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { tokenizerStats } from '../data/tokenizer_stats.js';
import { parseArgs } from './args.js';
import { documentsOf } from './train_cmd.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

export const TOKENIZER_HELP = `lmforge tokenizer — train and inspect tokenizers

Usage:
  lmforge tokenizer train --type bpe|unigram --vocab N --out FILE.json [FILES/FOLDERS...] [options]
      --type bpe|unigram      byte-level BPE (GPT-2/NeoX style) or SentencePiece-style Unigram (byte fallback)
      --vocab N               vocabulary size, special tokens included (default 8192)
      --out FILE.json         where the tokenizer.json goes (loadable by Hugging Face tokenizers too)
      --special-tokens A,B    special tokens (default <|endoftext|>); the end-of-document token is
                              <|endoftext|> when listed, else the first
      --min-frequency N       ignore words/pairs seen fewer times (default 2)
      --val-fraction F        hold out the documents 'lmforge train' validates on with the same
      --split-seed S          fraction and seed (defaults 0.05 and 0, as train's), so validation text is unseen
  lmforge tokenizer stats --tokenizer byte|FILE.json [FILES/FOLDERS...] [--json]
      bytes per token, vocabulary use, unknown and byte-fallback tokens, the most frequent tokens
Text: .txt/.md files, .jsonl (a 'text' field per line), folders (also their text files without an extension;
other files are skipped and counted); default the bundled Brown corpus.`;

function num(op: string, a: { options: Map<string, string | true> }, name: string, fallback: number, check: (v: number) => boolean, what: string): number {
  if (!a.options.has(name)) return fallback;
  const v = Number(a.options.get(name));
  if (!check(v)) throw new ValueError(op, `--${name} must be ${what}, got '${String(a.options.get(name))}'`);
  return v;
}

async function trainCmd(argv: string[]): Promise<void> {
  const op = 'tokenizer train';
  const a = parseArgs(argv, ['help', 'quiet'], ['type', 'vocab', 'out', 'special-tokens', 'min-frequency', 'val-fraction', 'split-seed']);
  if (a.options.has('help')) return out(TOKENIZER_HELP);
  const type = a.options.get('type') ?? 'bpe';
  if (type !== 'bpe' && type !== 'unigram') throw new ValueError(op, `--type must be bpe or unigram, got '${String(type)}'`);
  const outPath = a.options.get('out');
  if (typeof outPath !== 'string') throw new ValueError(op, '--out FILE.json is required');
  const vocabSize = num(op, a, 'vocab', 8192, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const minFrequency = num(op, a, 'min-frequency', 2, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
  const valFraction = num(op, a, 'val-fraction', 0.05, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const seed = num(op, a, 'split-seed', 0, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const special = a.options.get('special-tokens');
  const specialTokens = typeof special === 'string' ? special.split(',').filter((s) => s.length > 0) : undefined;
  const { docs, label, skipped } = documentsOf(a.positionals);
  if (skipped && !a.options.has('quiet')) err(skipped);
  const { train } = splitDocuments(docs.length, { valFraction, seed });
  const texts = train.map((i) => docs[i]!.text);
  const t0 = performance.now();
  const opts = { vocabSize, minFrequency, ...(specialTokens ? { specialTokens } : {}) };
  const tok = type === 'bpe' ? trainBpe(texts, opts) : trainUnigram(texts, opts);
  const seconds = (performance.now() - t0) / 1000;
  tok.save(outPath);
  if (!a.options.has('quiet')) err(`trained on ${texts.length} of ${docs.length} documents of ${label}`);
  out(`${type} tokenizer, vocabulary ${tok.vocabSize}, trained in ${seconds.toFixed(1)} s: wrote ${outPath}`);
}

async function statsCmd(argv: string[]): Promise<void> {
  const a = parseArgs(argv, ['help', 'json'], ['tokenizer', 'top']);
  if (a.options.has('help')) return out(TOKENIZER_HELP);
  const tok = loadTokenizer((a.options.get('tokenizer') as string | undefined) ?? 'byte');
  const top = num('tokenizer stats', a, 'top', 10, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const { docs, label, skipped } = documentsOf(a.positionals);
  if (skipped) err(skipped);
  const s = await tokenizerStats(tok, docs, { top });
  if (a.options.has('json')) return out(JSON.stringify(s));
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  out(`${label} with ${tok.name} (vocabulary ${s.vocabSize})`);
  out(`documents ${s.documents.toLocaleString('en-US')}, bytes ${s.bytes.toLocaleString('en-US')}, tokens ${s.tokens.toLocaleString('en-US')}`);
  out(`bytes per token ${s.bytesPerToken.toFixed(3)} (${s.tokensPerByte.toFixed(4)} tokens per byte); encoded in ${s.encodeSeconds.toFixed(1)} s`);
  out(`vocabulary use: ${s.idsUsed.toLocaleString('en-US')} of ${s.vocabSize.toLocaleString('en-US')} ids seen (${pct(s.vocabUse)})`);
  out(`unknown tokens: ${s.unknownTokens} (${pct(s.unknownTokens / Math.max(1, s.tokens))}); byte-fallback tokens: ${s.byteFallbackTokens} (${pct(s.byteFallbackTokens / Math.max(1, s.tokens))})`);
  if (s.top.length) out(`most frequent: ${s.top.map(([t, c]) => `${JSON.stringify(t)} ${c}`).join(', ')}`);
}

export async function tokenizerCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === 'help') return out(TOKENIZER_HELP);
  if (sub === 'train') return trainCmd(rest);
  if (sub === 'stats') return statsCmd(rest);
  throw new ValueError('tokenizer', `unknown subcommand '${sub}' (available: train, stats)`);
}
