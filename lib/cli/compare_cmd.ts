/**
 * `lmforge compare tokenizers`: byte, BPE and Unigram tokenizers trained on the same documents, the same GPT
 * trained on each for the same number of bytes, compared in validation bits per byte — the one loss that does
 * not depend on the tokenizer.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ValueError } from '../errors.js';
import { trainBpe } from '../data/bpe_train.js';
import { trainUnigram } from '../data/unigram_train.js';
import { splitDocuments, tokenizeDocuments } from '../data/dataset.js';
import { ByteTokenizer, loadTokenizer, type Tokenizer } from '../data/tokenizer.js';
import { GPT } from '../nn/gpt.js';
import { numThreads, setNumThreads } from '../runtime.js';
import { Trainer } from '../train/trainer.js';
import { intList, parseArgs } from './args.js';
import { defaultConfig } from './config.js';
import { documentsOf, makeOptimizer, modelConfigOf, scheduleOf } from './train_cmd.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

export const COMPARE_HELP = `lmforge compare tokenizers — the same GPT trained on byte, BPE and Unigram tokens, in bits per byte

Usage: lmforge compare tokenizers [FILES/FOLDERS...] [--vocab 2048,8192] [--bytes N] [--seq-len N] [--threads N] [--out DIR] [--quick]
  --vocab A,B      vocabulary sizes of the BPE and Unigram tokenizers (default 2048,8192)
  --bytes N        training text per model, in UTF-8 bytes (default 2000000; --quick 300000)
  --seq-len N      the model's context in tokens (default 128)
  --out DIR        write DIR/tokenizers.json, DIR/tokenizers.md and the trained tokenizer.json files
Tokenizers are trained on the training documents of the text (default the bundled Brown corpus; the validation documents,
5% chosen with seed 0, are held out); every model is the 'lmforge train' default GPT (4 layers, dim 128,
seq 128 tokens, batch 16, AdamW with warmup and cosine decay) and sees the same number of bytes.`;

export interface TokenizerRun {
  tokenizer: string;
  type: 'byte' | 'bpe' | 'unigram';
  vocabSize: number;
  trainTokenizerSeconds: number;
  /** On the validation split, end-of-document tokens included. */
  bytesPerToken: number;
  parameters: number;
  steps: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  bytesPerSecond: number;
  valLoss: number;
  valBitsPerByte: number;
}

export function compareMarkdown(runs: TokenizerRun[], bytes: number, label: string): string {
  const lines = [
    `Same GPT (lmforge train defaults), ${bytes.toLocaleString('en-US')} training bytes each, ${label}; validation on held-out documents.`,
    '',
    '| tokenizer | vocab | train tokenizer (s) | bytes/token (val, with end-of-document) | parameters | steps | tokens/s | bytes/s | val loss (nats/token) | val bits/byte |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of runs)
    lines.push(`| ${r.type} | ${r.vocabSize} | ${r.trainTokenizerSeconds.toFixed(1)} | ${r.bytesPerToken.toFixed(2)} | ${(r.parameters / 1e6).toFixed(2)}M | ${r.steps} | ${r.tokensPerSecond.toFixed(0)} | ${r.bytesPerSecond.toFixed(0)} | ${r.valLoss.toFixed(3)} | ${r.valBitsPerByte.toFixed(3)} |`);
  return lines.join('\n');
}

async function compareTokenizers(argv: string[]): Promise<void> {
  const op = 'compare tokenizers';
  const a = parseArgs(argv, ['help', 'quick'], ['vocab', 'bytes', 'seq-len', 'threads', 'out']);
  if (a.options.has('help')) return out(COMPARE_HELP);
  const quick = a.options.has('quick');
  const vocabs = a.options.has('vocab') ? intList('vocab', a.options.get('vocab') as string) : [2048, 8192];
  const bytes = a.options.has('bytes') ? intList('bytes', a.options.get('bytes') as string)[0]! : quick ? 300_000 : 2_000_000;
  if (a.options.has('threads')) setNumThreads(intList('threads', a.options.get('threads') as string)[0]!);
  const outDir = a.options.get('out');
  const tokDir = typeof outDir === 'string' ? join(outDir, 'tokenizers') : mkdtempSync(join(tmpdir(), 'lmforge-compare-'));
  mkdirSync(tokDir, { recursive: true });

  const cfg = defaultConfig();
  if (a.options.has('seq-len')) cfg.model.seqLen = intList('seq-len', a.options.get('seq-len') as string)[0]!;
  const { docs, label, skipped } = documentsOf(a.positionals);
  if (skipped) err(skipped);
  const split = { valFraction: cfg.data.valFraction, seed: cfg.data.splitSeed };
  const trainTexts = splitDocuments(docs.length, split).train.map((i) => docs[i]!.text);
  const runs: TokenizerRun[] = [];
  try {
    const plan: { type: TokenizerRun['type']; vocab: number }[] = [{ type: 'byte', vocab: 257 }];
    for (const v of vocabs) plan.push({ type: 'bpe', vocab: v }, { type: 'unigram', vocab: v });
    // Every tokenizer first: a vocabulary that cannot be built fails before any model trains.
    const toks: { type: TokenizerRun['type']; tok: Tokenizer; seconds: number }[] = [];
    for (const p of plan) {
      const t0 = performance.now();
      let tok: Tokenizer;
      if (p.type === 'byte') tok = new ByteTokenizer();
      else {
        const trained = (p.type === 'bpe' ? trainBpe : trainUnigram)(trainTexts, { vocabSize: p.vocab });
        const path = join(tokDir, `${p.type}-${p.vocab}.json`);
        trained.save(path);
        tok = loadTokenizer(path);
      }
      toks.push({ type: p.type, tok, seconds: (performance.now() - t0) / 1000 });
    }
    for (const { type, tok, seconds: trainTokenizerSeconds } of toks) {
      const ds = await tokenizeDocuments(docs, tok, split);
      const perStep = cfg.train.batchSize * cfg.model.seqLen;
      const trainTokensPerByte = ds.train.tokens.length / ds.train.bytes;
      const steps = Math.max(1, Math.ceil((bytes * trainTokensPerByte) / perStep));
      using model = new GPT(modelConfigOf(cfg, tok.vocabSize));
      const optimizer = makeOptimizer(cfg, model);
      const { schedule, info } = scheduleOf(cfg, steps);
      const trainer = new Trainer({
        model, optimizer, data: ds, batchSize: cfg.train.batchSize, maxSteps: steps, schedule, scheduleInfo: info,
        clip: cfg.optimizer.clip, seed: cfg.train.seed, progress: 'none',
      });
      err(`${type} ${tok.vocabSize}: tokenizer ${trainTokenizerSeconds.toFixed(1)} s, ${steps} steps of ${perStep} tokens on ${numThreads()} threads...`);
      const r = trainer.fit();
      const e = r.finalEval!;
      const run: TokenizerRun = {
        tokenizer: tok.name, type, vocabSize: tok.vocabSize, trainTokenizerSeconds,
        bytesPerToken: ds.val.bytes / ds.val.tokens.length, parameters: model.numParameters(), steps: r.steps, tokens: r.tokens,
        seconds: r.seconds, tokensPerSecond: r.tokens / r.seconds, bytesPerSecond: r.tokens / trainTokensPerByte / r.seconds,
        valLoss: e.loss, valBitsPerByte: e.bitsPerByte,
      };
      err(`  val ${run.valBitsPerByte.toFixed(3)} bits/byte, ${run.tokensPerSecond.toFixed(0)} tokens/s`);
      runs.push(run);
    }
  } finally {
    if (typeof outDir !== 'string') rmSync(tokDir, { recursive: true, force: true });
  }
  const md = compareMarkdown(runs, bytes, label);
  out(md);
  if (typeof outDir === 'string') {
    const report = { command: `lmforge compare tokenizers ${argv.join(' ')}`.trim(), threads: numThreads(), bytes, runs };
    writeFileSync(join(outDir, 'tokenizers.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, 'tokenizers.md'), `${md}\n`);
    err(`wrote ${join(outDir, 'tokenizers.json')} and ${join(outDir, 'tokenizers.md')}`);
  }
}

export async function compareCommand(argv: string[]): Promise<void> {
  const [what, ...rest] = argv;
  if (what === undefined || what === '--help' || what === 'help') return out(COMPARE_HELP);
  if (what === 'tokenizers') return compareTokenizers(rest);
  throw new ValueError('compare', `unknown comparison '${what}' (available: tokenizers)`);
}
