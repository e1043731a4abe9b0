/**
 * `lmforge context`: the context-use report. Trains the same model at each sequence length on the same token
 * budget (or evaluates given checkpoints), then writes context.md, context.json and context.svg (research/context.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ValueError } from '../errors.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { numThreads, setNumThreads } from '../runtime.js';
import { contextChart, contextData, contextEntry, contextMarkdown, type ContextEntry, type ContextReport } from '../research/context.js';
import { evaluate } from '../train/trainer.js';
import { loadModel } from '../train/checkpoint.js';
import { command, type CommandSpec } from './args.js';
import { absolutePaths, applyFlag, configOptions, defaultConfig, FLAGS, mergeConfig, readConfigFile, resolveOptimizer, type RunConfig } from './config.js';
import { buildData, checkFinite, describeOptimizer, runConfigOf, stamp, startRun, totalStepsOf } from './train_cmd.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

export const CONTEXT = {
  name: 'context',
  summary: 'does the model use a longer context? loss by position for several sequence lengths, and the data side',
  positionals: 'FILES/FOLDERS...',
  positionalsHelp: 'the text, as for train (default the bundled Brown corpus); with --checkpoint, each run\'s own data',
  options: [
    { name: 'seq-lens', type: 'ints', min: 1, help: 'train one model per sequence length, on the same budget' },
    { name: 'checkpoint', type: 'string', arg: 'DIR', repeat: true, help: 'evaluate this run (instead of training), at its own sequence length' },
    { name: 'out', type: 'string', arg: 'DIR', help: 'context.md, context.json, context.svg, and runs/T<length>/ (one run folder per length)', defaultText: 'runs/context-<date-time>' },
    { name: 'config', type: 'string', arg: 'FILE', help: "a run config as for train (its model.seqLen is the reference for the batch)" },
    { name: 'quiet', type: 'flag', help: 'no progress output' },
    // Every train flag but --seq-len: the lengths are --seq-lens.
    ...configOptions().filter((o) => o.name !== 'seq-len'),
  ],
  notes: `Every length trains the same number of steps, with the same tokens per step: batch = round(batch-size ×
model.seqLen / T) rows of T tokens (at least 1), so the learning-rate schedule and the budget (--steps, or
--tokens) are the same for all. The loss by position is the final evaluation over the whole validation split,
in non-overlapping windows of T; bins of positions are [1], [2,3], [4,7], ... (the last folded into the one
before when under half full). The data side is 'data stats' for each T over the training documents.`,
} as const satisfies CommandSpec;

type Values = Record<string, unknown> & { 'seq-lens'?: number[]; checkpoint: string[]; out?: string; config?: string; quiet: boolean };

/** The shared config: defaults, --config, then the train flags given. */
function baseConfig(v: Values, given: ReadonlySet<string>, files: string[]): RunConfig {
  let cfg = defaultConfig();
  if (v.config !== undefined) cfg = mergeConfig(cfg, readConfigFile(v.config), v.config);
  for (const k of given) if (k in FLAGS) applyFlag(cfg, k, v[k]);
  if (files.length) cfg.data.files = [...cfg.data.files, ...files];
  if (cfg.train.tokens !== null && given.has('tokens') && !given.has('steps')) cfg.train.steps = null;
  if (cfg.train.steps !== null && cfg.train.tokens !== null) throw new ValueError('context', 'give train.steps or train.tokens, not both (set the other to null)');
  if (cfg.train.steps === null && cfg.train.tokens === null) throw new ValueError('context', 'a budget is needed: train.steps or train.tokens');
  // The final evaluation gives the loss by position; a sample is not part of the report.
  cfg.train.sampleTokens = 0;
  absolutePaths(cfg);
  return cfg;
}

async function trainLengths(base: RunConfig, seqLens: number[], outDir: string, quiet: boolean): Promise<{ entries: ContextEntry[]; data: string; setup: string }> {
  const steps = totalStepsOf(base);
  const stepTokens = base.train.batchSize * base.model.seqLen;
  const tok = loadTokenizer(base.data.tokenizer);
  const { ds, label, skipped } = await buildData(base, quiet, tok);
  if (skipped && !quiet) err(skipped);
  const entries: ContextEntry[] = [];
  let setup = '';
  for (const T of seqLens) {
    const cfg = structuredClone(base);
    cfg.model.seqLen = T;
    cfg.train.batchSize = Math.max(1, Math.round(stepTokens / T));
    cfg.train.steps = steps;
    cfg.train.tokens = null;
    const opt = (cfg.optimizer = resolveOptimizer(cfg.optimizer, steps));
    if (ds.val.tokens.length < T + 1) throw new ValueError('context', `the validation split holds ${ds.val.tokens.length} tokens, fewer than T + 1 = ${T + 1} (use more text or a larger valFraction)`);
    const runDir = join(outDir, 'runs', `T${T}`);
    if (!quiet) err(`T = ${T}: ${steps} steps of ${cfg.train.batchSize} × ${T} tokens, run folder ${runDir}`);
    const { model, trainer } = startRun(cfg, opt, ds, runDir, steps, { progress: quiet ? 'none' : 'auto' });
    const r = trainer.fit();
    const e = r.finalEval!;
    entries.push(contextEntry({
      seqLen: T, source: `runs/T${T}`, parameters: model.numParameters(), steps: r.steps, tokens: r.tokens, valLoss: e.loss, valBitsPerByte: e.bitsPerByte,
      valTokens: e.tokens, perPosition: e.perPosition, data: contextData(ds.train.docLengths, T, r.tokens),
    }));
    const m = cfg.model;
    setup = `GPT ${m.layers} layers, dim ${m.dim}, ${m.heads} heads, ${m.position}, ${m.activation}, ${m.norm} (${model.numParameters().toLocaleString('en-US')} parameters at T = ${T}); ` +
      `${describeOptimizer(opt)}; for every T ${steps} steps of about ${stepTokens.toLocaleString('en-US')} tokens (round(${base.train.batchSize} × ${base.model.seqLen} / T) rows of T), seed ${cfg.train.seed}, ${numThreads()} thread${numThreads() === 1 ? '' : 's'}` +
      `${cfg.train.docMask ? ', attention inside documents' : ''}`;
    model.dispose();
  }
  return { entries, data: `${label}, ${tok.name} tokenizer (vocab ${tok.vocabSize})`, setup };
}

async function evaluateCheckpoints(dirs: string[]): Promise<{ entries: ContextEntry[]; data: string; setup: string }> {
  const entries: ContextEntry[] = [];
  const labels = new Set<string>();
  for (const dir of dirs) {
    const { model, checkpoint } = loadModel(dir);
    try {
      const cfg = runConfigOf(checkpoint, 'context', 'holds no run config, so its validation data is unknown');
      checkFinite('context', model, checkpoint.dir);
      const tok = loadTokenizer(cfg.data.tokenizer);
      const { ds, label } = await buildData(cfg, true, tok);
      labels.add(`${label}, ${tok.name} tokenizer (vocab ${tok.vocabSize})`);
      const T = model.config.seqLen;
      const e = evaluate(model, ds.val, { seqLen: T, batchSize: cfg.train.batchSize, step: checkpoint.trainer.step, docMask: cfg.train.docMask && { eot: tok.eot } });
      if (!Number.isFinite(e.loss)) throw new ValueError('context', `the validation loss of ${checkpoint.dir} is ${e.loss}`);
      if (entries.some((x) => x.seqLen === T)) throw new ValueError('context', `two checkpoints have sequence length ${T} (${entries.find((x) => x.seqLen === T)!.source} and ${checkpoint.dir}): give one per length`);
      entries.push(contextEntry({
        seqLen: T, source: checkpoint.dir, parameters: model.numParameters(), steps: checkpoint.trainer.step, tokens: checkpoint.trainer.tokens, valLoss: e.loss,
        valBitsPerByte: e.bitsPerByte, valTokens: e.tokens, perPosition: e.perPosition, data: contextData(ds.train.docLengths, T, checkpoint.trainer.tokens),
      }));
    } finally {
      model.dispose();
    }
  }
  return { entries, data: [...labels].join('; '), setup: `checkpoints ${entries.map((e) => e.source).join(', ')}` };
}

export const contextCommand = command(CONTEXT, async (a) => {
  const v = a.values as Values;
  const seqLens = v['seq-lens'];
  const checkpoints = v.checkpoint;
  if (seqLens !== undefined && checkpoints.length > 0) throw new ValueError('context', 'give --seq-lens (train one model per length) or --checkpoint (evaluate runs), not both');
  if (seqLens === undefined && checkpoints.length === 0) throw new ValueError('context', 'give --seq-lens 128,512,... (train one model per length) or --checkpoint DIR for each run to evaluate');
  if (seqLens !== undefined) {
    const dup = seqLens.find((T, i) => seqLens.indexOf(T) !== i);
    if (dup !== undefined) throw new ValueError('context', `--seq-lens lists ${dup} twice`);
  }
  if (checkpoints.length > 0 && a.positionals.length > 0) throw new ValueError('context', "--checkpoint evaluates each run on its own validation data: leave out the files");
  // A checkpoint brings its own config: a train flag would be silently ignored (--threads aside).
  const ignored = checkpoints.length > 0 ? [...a.given].find((k) => k in FLAGS && k !== 'threads') : undefined;
  if (ignored !== undefined) throw new ValueError('context', `--${ignored} does not apply with --checkpoint (each run keeps its own config)`);
  const base = baseConfig(v, a.given, a.positionals);
  if (base.train.threads !== null) setNumThreads(base.train.threads);
  const outDir = resolve(v.out ?? join('runs', `context-${stamp()}`));
  mkdirSync(outDir, { recursive: true });
  const made = seqLens !== undefined ? await trainLengths(base, [...seqLens].sort((x, y) => x - y), outDir, v.quiet) : await evaluateCheckpoints(checkpoints);
  const report: ContextReport = { command: `lmforge context ${a.argv.join(' ')}`.trim(), ...made };
  const md = contextMarkdown(report);
  writeFileSync(join(outDir, 'context.md'), md);
  writeFileSync(join(outDir, 'context.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'context.svg'), contextChart(report));
  out(md.trimEnd());
  if (!v.quiet) err(`wrote context.md, context.json and context.svg in ${outDir}`);
});
