/**
 * `lmforge compare tokenizers`: byte, BPE and Unigram tokenizers trained on the same documents, the same GPT
 * trained on each for the same number of bytes, compared in validation bits per byte — the one loss that does
 * not depend on the tokenizer.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { trainBpe } from '../data/bpe_train.js';
import { trainUnigram } from '../data/unigram_train.js';
import { splitDocuments, tokenizeDocuments } from '../data/dataset.js';
import { ByteTokenizer, loadTokenizer, type Tokenizer } from '../data/tokenizer.js';
import { GPT } from '../nn/gpt.js';
import { numThreads, setNumThreads } from '../runtime.js';
import { Trainer } from '../train/trainer.js';
import { readRuns, runsCharts, runsMarkdown, summarize } from '../research/compare_runs.js';
import { command, type CommandSpec } from './args.js';
import { defaultConfig, resolveOptimizer } from './config.js';
import { documentsOf, makeOptimizer, modelConfigOf, scheduleOf } from './train_cmd.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

export const COMPARE_TOKENIZERS = {
  name: 'compare tokenizers',
  summary: 'the same GPT trained on byte, BPE and Unigram tokens, in bits per byte',
  positionals: 'FILES/FOLDERS...',
  positionalsHelp: 'the text (default the bundled Brown corpus)',
  options: [
    { name: 'vocab', type: 'ints', default: [2048, 8192], help: 'vocabulary sizes of the BPE and Unigram tokenizers' },
    { name: 'bytes', type: 'int', min: 1, help: 'training text per model, in UTF-8 bytes', defaultText: '2000000; --quick 300000' },
    { name: 'seq-len', type: 'int', min: 1, help: "the model's context in tokens", defaultText: String(defaultConfig().model.seqLen) },
    { name: 'threads', type: 'int', min: 1, help: 'CPU threads', defaultText: 'one per core' },
    { name: 'out', type: 'string', arg: 'DIR', help: 'write DIR/tokenizers.json, DIR/tokenizers.md and the trained tokenizer.json files' },
    { name: 'quick', type: 'flag', help: 'less training text (noisier)' },
  ],
  notes: `Tokenizers are trained on the training documents of the text (the validation documents, 5% chosen with
seed 0, are held out); every model is the 'lmforge train' default GPT (4 layers, dim 128, seq 128 tokens,
batch 16, AdamW with warmup and cosine decay) and sees the same number of bytes.`,
} as const satisfies CommandSpec;

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

export const compareTokenizersCommand = command(COMPARE_TOKENIZERS, async (a) => {
  const v = a.values;
  const vocabs = v.vocab;
  const bytes = v.bytes ?? (v.quick ? 300_000 : 2_000_000);
  if (v.threads !== undefined) setNumThreads(v.threads);
  const outDir = v.out;
  const tokDir = typeof outDir === 'string' ? join(outDir, 'tokenizers') : mkdtempSync(join(tmpdir(), 'lmforge-compare-'));
  mkdirSync(tokDir, { recursive: true });

  const cfg = defaultConfig();
  if (v['seq-len'] !== undefined) cfg.model.seqLen = v['seq-len'];
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
      const opt = resolveOptimizer(cfg.optimizer, steps);
      const optimizer = makeOptimizer(opt, model);
      const { schedule, info } = scheduleOf(opt, steps);
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
    const report = { command: `lmforge compare tokenizers ${a.argv.join(' ')}`.trim(), threads: numThreads(), bytes, runs };
    writeFileSync(join(outDir, 'tokenizers.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, 'tokenizers.md'), `${md}\n`);
    err(`wrote ${join(outDir, 'tokenizers.json')} and ${join(outDir, 'tokenizers.md')}`);
  }
});

export const COMPARE_RUNS = {
  name: 'compare runs',
  summary: 'training and validation curves of run folders, and a table of their final metrics',
  positionals: 'RUN_DIRS...',
  positionalsHelp: "run folders of 'lmforge train' (or any folder with the Trainer's log.jsonl)",
  options: [
    { name: 'out', type: 'string', arg: 'DIR', help: 'write DIR/runs.md, DIR/runs.json, DIR/runs_train_loss.svg and DIR/runs_val_bpb.svg' },
    { name: 'x', type: 'string', choices: ['tokens', 'steps'], default: 'tokens', help: "the charts' x axis" },
  ],
  notes: `The table: parameters and optimizer state bytes per parameter (from config.json, or log.jsonl's 'run'
record), the last step and tokens, the final validation loss and bits per byte, tokens/s over the summed step
times, and the peak resident memory of the steps. Without --out only the table is printed.`,
} as const satisfies CommandSpec;

export const compareRunsCommand = command(COMPARE_RUNS, (a) => {
  const runs = readRuns(a.positionals);
  const rows = runs.map(summarize);
  const md = runsMarkdown(rows);
  out(md);
  const outDir = a.values.out;
  if (outDir === undefined) return;
  mkdirSync(outDir, { recursive: true });
  const charts = runsCharts(runs, a.values.x);
  for (const c of charts) writeFileSync(join(outDir, c.file), c.svg);
  const report = { command: `lmforge compare runs ${a.argv.join(' ')}`.trim(), runs: rows, curves: runs.map((r) => ({ name: r.name, evals: r.evals })) };
  writeFileSync(join(outDir, 'runs.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'runs.md'), `${md}\n\n${charts.map((c) => `![${c.file}](${c.file})`).join('\n')}\n`);
  err(`wrote runs.md, runs.json, ${charts.map((c) => c.file).join(', ')} in ${outDir}`);
});
