/**
 * The Trainer: a training loop with a budget in steps or tokens, micro-batches with gradient
 * accumulation, a learning-rate schedule, gradient clipping, periodic evaluation, checkpoints, JSONL
 * logs, a progress line, and callbacks. Each micro-batch runs inside tidy(), so memory stays flat.
 *
 * Losses are in nats per token; bits per byte = loss · tokens / (ln 2 · bytes), where tokens/bytes is
 * the split's ratio (UTF-8 bytes of its text), which makes runs with different tokenizers comparable.
 *
 * A run that diverges stops with a ValueError instead of running on: at once on a NaN or infinite loss,
 * after maxSkippedSteps optimizer steps in a row skipped for non-finite gradients, and at the end of a fit
 * in which more than half of the steps were skipped (a run that did not train is not a success).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { ArgumentTypeError, ValueError } from '../errors.js';
import { noGrad } from '../autograd/grad_mode.js';
import { memory, tidy } from '../memory.js';
import { getRngState, setRngState, tensor } from '../ops/creation.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { Dropout } from '../nn/dropout.js';
import { GPT, parameterCount, resolveGPTConfig, type GPTConfig, type Precision } from '../nn/gpt.js';
import { isGated } from '../nn/mlp.js';
import { clipGradNorm, gradNorm } from '../optim/clip.js';
import { Optimizer } from '../optim/optimizer.js';
import { checkFinite, checkInt, checkObject, describe } from '../ops/util.js';
import type { Schedule } from '../optim/schedule.js';
import type { Tensor } from '../tensor.js';
import { checkSplit, documentIds, RandomWindowSampler, SequentialSampler, type TokenDataset, type TokenSplit } from '../data/dataset.js';
import { cleanStaleTemporaries, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';

export interface StepMetrics {
  step: number;
  /** Mean training loss of the step's micro-batches (nats per token). */
  loss: number;
  bitsPerByte: number;
  lr: number;
  /** Total gradient norm before clipping. */
  gradNorm: number;
  /** False when the optimizer skipped the step (a non-finite gradient). */
  applied: boolean;
  /** Training tokens consumed so far. */
  tokens: number;
  /** This step's tokens per second. */
  tokensPerSec: number;
  /** Live tensor bytes and their peak, and the process's resident set size. */
  memoryBytes: number;
  peakBytes: number;
  rssBytes: number;
  seconds: number;
}

export interface EvalMetrics {
  step: number;
  loss: number;
  bitsPerByte: number;
  /** Tokens scored. */
  tokens: number;
  /** Mean loss at each position of the context window (index 0 predicts the second token of a window). */
  perPosition: number[];
}

export interface TrainResult {
  steps: number;
  tokens: number;
  seconds: number;
  lastLoss: number;
  finalEval: EvalMetrics | null;
  /** Steps of this fit that the optimizer skipped (non-finite gradients). */
  skippedSteps: number;
}

export interface TrainerOptions {
  model: GPT;
  optimizer: Optimizer<never> | Optimizer;
  data: TokenDataset;
  /** Rows per micro-batch (default 8). */
  batchSize?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Window length (default the model's seqLen). */
  seqLen?: number;
  /**
   * Attention stays inside each document of a window (document ids from the data's end-of-document tokens);
   * default false: windows of the packed stream attend across document ends.
   */
  docMask?: boolean;
  /** The budget: optimizer steps, or training tokens (rounded up to whole steps). One is required. */
  maxSteps?: number;
  maxTokens?: number;
  /** Learning rate by step; default: the optimizer's lr throughout. */
  schedule?: Schedule;
  /** The schedule's options, recorded in checkpoints (for the reader; the schedule itself is code). */
  scheduleInfo?: Record<string, unknown>;
  /** Clip the total gradient norm to this (default 1; 0 turns clipping off). */
  clip?: number;
  /** Evaluate every this many steps (default 0: only at the end). */
  evalEvery?: number;
  /** Validation batches per periodic evaluation (default 8; capped at the whole validation split). */
  evalBatches?: number;
  /** Validation batches of the final evaluation (default: the whole validation split, so the last figure is the split's). */
  finalEvalBatches?: number;
  /** Seed of the training window sampler (default 0). */
  seed?: number;
  /** JSONL log file (appended). */
  logFile?: string;
  /** 'auto' (default): a carriage-return progress line on a TTY, plain lines otherwise; 'none' prints nothing. */
  progress?: 'auto' | 'tty' | 'plain' | 'none';
  /** Plain-line progress every this many steps (default 10). */
  printEvery?: number;
  /** Where progress goes (default process.stderr); structural, not NodeJS.WritableStream, so that the .d.ts needs no @types/node. */
  stream?: { write(chunk: string): unknown; isTTY?: boolean };
  /**
   * Stop with a ValueError after this many optimizer steps in a row were skipped for NaN or infinite
   * gradients, or at the end of a fit when more than half of its steps were (default 10; 0: never stop).
   */
  maxSkippedSteps?: number;
  /**
   * Checkpoint folder; saved every checkpointEvery steps (default: only at the end). Temporary folders
   * that a killed run left there are removed when fit() starts.
   */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Stored in the checkpoints' trainer.json (the CLI keeps its config here). */
  runInfo?: Record<string, unknown>;
  onStep?: (m: StepMetrics) => void;
  /**
   * Compute precision of the model's forward and backward: 'bf16' is mixed precision (bfloat16 compute,
   * float32 master weights that the optimizer updates); default: the model's own setting.
   */
  precision?: Precision;
  onEval?: (m: EvalMetrics) => void;
}

const LN2 = Math.log(2);

function checkModel(op: string, model: unknown): asserts model is GPT {
  if (!(model instanceof GPT)) throw new ArgumentTypeError(op, `model must be a GPT, got ${describe(model)}`);
}

function posInt(op: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ValueError(op, `${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** Tokens per UTF-8 byte of a split (end-of-document tokens included: the model predicts them too). */
export function tokensPerByte(split: TokenSplit): number {
  checkSplit('tokensPerByte', 'split', split);
  return split.bytes > 0 ? split.tokens.length / split.bytes : 1;
}

export interface TrainingMemoryEstimate {
  parameters: number;
  /** Float32 weights (plus their bfloat16 copies under 'bf16' precision), gradients and optimizer state. */
  stateBytes: number;
  /** What one micro-batch's forward keeps for the backward, roughly. */
  activationBytes: number;
  totalBytes: number;
}

/**
 * A rough figure of the memory a training run needs, from the model's config alone (nothing is
 * allocated): per parameter 4 bytes of weights (+2 for bf16 compute copies), 4 of gradient and the
 * optimizer's state bytes; per token of a micro-batch of batchSize × seqLen, about 10·dim + 2·(MLP
 * up-projection width) float32 values kept per layer, plus the logits and their gradient (2·vocab).
 * Attention is tiled, so nothing grows with seqLen². Good to a factor of about two: meant to refuse a run
 * that cannot fit, not to plan one that barely does.
 */
export function estimateTrainingMemory(config: GPTConfig, opts: { batchSize: number; seqLen?: number; optimizerBytesPerParam: number }): TrainingMemoryEstimate {
  const op = 'estimateTrainingMemory';
  checkObject(op, 'options', opts);
  checkInt(op, 'batchSize', opts.batchSize, 1);
  if (opts.seqLen !== undefined) checkInt(op, 'seqLen', opts.seqLen, 1);
  checkFinite(op, 'optimizerBytesPerParam', opts.optimizerBytesPerParam, 0);
  const c = resolveGPTConfig(config);
  const parameters = parameterCount(config);
  const up = isGated(c.activation) ? 2 * c.mlpHidden : c.mlpHidden;
  const tokens = opts.batchSize * (opts.seqLen ?? c.seqLen);
  const stateBytes = parameters * (4 + (c.precision === 'bf16' ? 2 : 0) + 4 + opts.optimizerBytesPerParam);
  const activationBytes = 4 * tokens * (c.layers * (10 * c.dim + 2 * up) + 2 * c.vocabSize);
  return { parameters, stateBytes, activationBytes, totalBytes: stateBytes + activationBytes };
}

export interface EvaluateOptions {
  batchSize?: number;
  seqLen?: number;
  /** Batches to score (default: the whole split, in non-overlapping windows). */
  batches?: number;
  step?: number;
  /** As TrainerOptions.docMask, with the split's end-of-document id (a split does not know it); default off. */
  docMask?: false | { eot: number };
}

/** The document ids of a batch as a tensor, or undefined without a mask. */
function docIdsOf(eot: number | null, inputs: Int32Array, rows: number, T: number): { docIds?: Tensor<'int32'> } {
  return eot === null ? {} : { docIds: tensor(documentIds(inputs, rows, T, eot), [rows, T]) };
}

/**
 * Scores a split in non-overlapping windows from its start (deterministic): mean loss, bits per byte
 * and the mean loss at each position of the window. Runs in eval mode under noGrad.
 */
export function evaluate(model: GPT, split: TokenSplit, opts: EvaluateOptions = {}): EvalMetrics {
  const op = 'evaluate';
  checkModel(op, model);
  checkSplit(op, 'split', split);
  checkObject(op, 'options', opts);
  const T = posInt(op, 'seqLen', opts.seqLen ?? model.config.seqLen);
  const B = posInt(op, 'batchSize', opts.batchSize ?? 8);
  const sampler = new SequentialSampler(split.tokens, T);
  const maxBatches = Math.max(1, Math.floor(sampler.perEpoch / B));
  const batches = Math.min(opts.batches === undefined ? maxBatches : posInt(op, 'batches', opts.batches), maxBatches);
  // With fewer windows than one batch, score them all in one smaller batch.
  const rows = Math.min(B, sampler.perEpoch);
  const dm = opts.docMask;
  if (dm !== undefined && dm !== false && !(typeof dm === 'object' && dm !== null && Number.isInteger(dm.eot) && dm.eot >= 0))
    throw new ValueError(op, `docMask must be false or { eot: <end-of-document id> }, got ${JSON.stringify(dm)}`);
  const eot = dm ? dm.eot : null;
  const perPos = new Float64Array(T);
  let total = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (let i = 0; i < batches; i++) {
        const b = sampler.next(rows);
        tidy(() => {
          const { logits } = model.forward(tensor(b.inputs, [rows, T]), undefined, docIdsOf(eot, b.inputs, rows, T));
          const losses = crossEntropy(logits, tensor(b.targets, [rows, T], 'int32', model.device), { reduction: 'none' }).astype('float64').dataSync() as Float64Array;
          for (let j = 0; j < losses.length; j++) {
            perPos[j % T] += losses[j]!;
            total += losses[j]!;
          }
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const n = batches * rows;
  const loss = total / (n * T);
  return { step: opts.step ?? 0, loss, bitsPerByte: (loss * tokensPerByte(split)) / LN2, tokens: n * T, perPosition: Array.from(perPos, (x) => x / n) };
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

function fmtRate(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

export class Trainer {
  readonly model: GPT;
  readonly optimizer: Optimizer<never> | Optimizer;
  readonly data: TokenDataset;
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly seqLen: number;
  readonly totalSteps: number;
  readonly sampler: RandomWindowSampler;
  /** Optimizer steps completed. */
  step = 0;
  /** Training tokens consumed. */
  tokens = 0;
  /** Training seconds, carried across resumes. */
  elapsed = 0;
  readonly #o: TrainerOptions;
  readonly #schedule: Schedule;
  readonly #clip: number;
  /** The end-of-document id when attention is masked to documents, else null. */
  readonly #eot: number | null;
  readonly #stream: { write(chunk: string): unknown; isTTY?: boolean };
  readonly #mode: 'tty' | 'plain' | 'none';
  #lastLine = 0;

  constructor(opts: TrainerOptions) {
    const op = 'Trainer';
    checkObject(op, 'options', opts);
    checkModel(op, opts.model);
    if (!(opts.optimizer instanceof Optimizer)) throw new ArgumentTypeError(op, `optimizer must be an Optimizer, got ${describe(opts.optimizer)}`);
    checkObject(op, 'data', opts.data);
    checkSplit(op, 'data.train', opts.data.train);
    checkSplit(op, 'data.val', opts.data.val);
    posInt(op, 'data.vocabSize', opts.data.vocabSize);
    this.#o = opts;
    this.model = opts.model;
    this.optimizer = opts.optimizer;
    this.data = opts.data;
    if (opts.precision !== undefined) {
      if (opts.precision !== 'fp32' && opts.precision !== 'bf16')
        throw new ValueError(op, `precision must be 'fp32' or 'bf16', got ${JSON.stringify(opts.precision)}`);
      this.model.precision = opts.precision;
    }
    this.batchSize = posInt(op, 'batchSize', opts.batchSize ?? 8);
    this.gradAccum = posInt(op, 'gradAccum', opts.gradAccum ?? 1);
    this.seqLen = posInt(op, 'seqLen', opts.seqLen ?? opts.model.config.seqLen);
    if (this.seqLen > opts.model.config.seqLen) throw new ValueError(op, `seqLen ${this.seqLen} exceeds the model's seqLen ${opts.model.config.seqLen}`);
    if (opts.data.vocabSize > opts.model.config.vocabSize)
      throw new ValueError(op, `the data's vocabulary (${opts.data.vocabSize}) is larger than the model's vocabSize ${opts.model.config.vocabSize}`);
    const perStep = this.batchSize * this.gradAccum * this.seqLen;
    if (opts.maxSteps !== undefined && opts.maxTokens !== undefined) throw new ValueError(op, 'give maxSteps or maxTokens, not both');
    if (opts.maxSteps !== undefined) this.totalSteps = posInt(op, 'maxSteps', opts.maxSteps);
    else if (opts.maxTokens !== undefined) this.totalSteps = Math.ceil(posInt(op, 'maxTokens', opts.maxTokens) / perStep);
    else throw new ValueError(op, 'a budget is required: maxSteps or maxTokens');
    this.#clip = opts.clip ?? 1;
    if (typeof this.#clip !== 'number' || !(this.#clip >= 0)) throw new ValueError(op, `clip must be a number >= 0, got ${JSON.stringify(opts.clip)}`);
    for (const k of ['evalEvery', 'checkpointEvery', 'maxSkippedSteps'] as const) if (opts[k] !== undefined) posInt(op, k, opts[k], 0);
    const initialLr = opts.optimizer.paramGroups[0]?.lr ?? 0;
    this.#schedule = opts.schedule ?? (() => initialLr);
    if (opts.docMask !== undefined && typeof opts.docMask !== 'boolean') throw new ValueError(op, `docMask must be true or false, got ${JSON.stringify(opts.docMask)}`);
    this.#eot = opts.docMask ? opts.data.eot : null;
    this.sampler = new RandomWindowSampler(opts.data.train.tokens, this.seqLen, opts.seed ?? 0);
    if (opts.data.val.tokens.length < this.seqLen + 1)
      throw new ValueError(op, `the validation split has ${opts.data.val.tokens.length} tokens, fewer than seqLen + 1 = ${this.seqLen + 1} (raise valFraction or use more text)`);
    this.#stream = opts.stream ?? process.stderr;
    const p = opts.progress ?? 'auto';
    this.#mode = p === 'none' ? 'none' : p === 'tty' || (p === 'auto' && this.#stream.isTTY) ? 'tty' : 'plain';
    if (opts.logFile) mkdirSync(dirname(opts.logFile), { recursive: true });
  }

  #log(record: Record<string, unknown>): void {
    if (this.#o.logFile) appendFileSync(this.#o.logFile, `${JSON.stringify(record)}\n`);
  }

  #print(line: string, final: boolean): void {
    if (this.#mode === 'none') return;
    if (this.#mode === 'tty') {
      // Pad over the previous line's tail; a final line ends with a newline so the next print starts fresh.
      const pad = Math.max(0, this.#lastLine - line.length);
      this.#stream.write(`\r${line}${' '.repeat(pad)}${final ? '\n' : ''}`);
      this.#lastLine = final ? 0 : line.length;
    } else {
      this.#stream.write(`${line}\n`);
    }
  }

  /** One optimizer step: gradAccum micro-batches, clipping, the update. Throws on a NaN or infinite loss. */
  trainStep(): StepMetrics {
    const t0 = performance.now();
    const lr = this.#schedule(this.step);
    this.optimizer.setLr(lr);
    this.model.train();
    const B = this.batchSize, T = this.seqLen;
    let lossSum = 0;
    let lastInputs: Int32Array | undefined;
    for (let k = 0; k < this.gradAccum; k++) {
      const batch = this.sampler.next(B);
      lastInputs = batch.inputs;
      const loss = tidy(() => {
        const out = this.model.forward(tensor(batch.inputs, [B, T]), tensor(batch.targets, [B, T]), docIdsOf(this.#eot, batch.inputs, B, T));
        const l = out.loss!;
        const value = l.item();
        if (!Number.isFinite(value)) return value; // checked below, before any gradient is used
        // Scaled so the accumulated gradient is that of the mean over all micro-batches.
        (this.gradAccum === 1 ? l : l.mul(1 / this.gradAccum)).backward();
        return value;
      });
      if (!Number.isFinite(loss)) {
        this.optimizer.zeroGrad();
        throw new ValueError('Trainer', `loss is ${loss} at step ${this.step + 1} (micro-batch ${k + 1} of ${this.gradAccum}, lr ${lr.toExponential(3)}); training stopped. Lower the learning rate or check the data`);
      }
      lossSum += loss;
    }
    const params = this.optimizer.params;
    const norm = this.#clip > 0 ? clipGradNorm(params, this.#clip) : gradNorm(params);
    const applied = this.optimizer.step();
    this.optimizer.zeroGrad();
    // Work between steps (SophiaG's Hessian refresh every k steps, a second backward pass on labels sampled
    // from the model's own outputs), on the step's last micro-batch; seeded by the step so that a resumed
    // run draws the same labels.
    if (lastInputs) {
      const inputs = lastInputs;
      this.optimizer.afterStep({ logits: () => this.model.forward(tensor(inputs, [B, T]), undefined, docIdsOf(this.#eot, inputs, B, T)).logits, seed: this.step });
    }
    this.step += 1;
    const stepTokens = B * T * this.gradAccum;
    this.tokens += stepTokens;
    const seconds = (performance.now() - t0) / 1000;
    this.elapsed += seconds;
    const loss = lossSum / this.gradAccum;
    const mem = memory();
    return {
      step: this.step, loss, bitsPerByte: (loss * tokensPerByte(this.data.train)) / LN2, lr, gradNorm: norm, applied, tokens: this.tokens,
      tokensPerSec: stepTokens / seconds, memoryBytes: mem.bytes, peakBytes: mem.peakBytes, rssBytes: process.memoryUsage.rss(), seconds,
    };
  }

  /** Validation loss, bits per byte and per-position loss over `batches` batches from the split's start ('all': the whole split). */
  evaluate(batches: number | 'all' = this.#o.evalBatches ?? 8): EvalMetrics {
    return evaluate(this.model, this.data.val, { batchSize: this.batchSize, seqLen: this.seqLen, step: this.step, ...(this.#eot === null ? {} : { docMask: { eot: this.#eot } }), ...(batches === 'all' ? {} : { batches }) });
  }

  // Seeded dropout modules draw mask n from (seed, n): their counts are part of the run's state.
  #dropouts(): [string, Dropout][] {
    return this.model.namedModules().filter((e): e is [string, Dropout] => e[1] instanceof Dropout && e[1].seed !== undefined);
  }

  /** The state a resumed run needs besides weights and optimizer state. */
  state(): TrainerState {
    return {
      format: 'lmforge-checkpoint', version: 1, step: this.step, tokens: this.tokens, elapsed: this.elapsed, rng: getRngState(), sampler: this.sampler.state(),
      dropoutCalls: Object.fromEntries(this.#dropouts().map(([name, d]) => [name, d.calls])),
      ...(this.#o.scheduleInfo ? { schedule: this.#o.scheduleInfo } : {}),
      tokenizer: this.data.tokenizer,
      ...(this.#o.runInfo ? { run: this.#o.runInfo } : {}),
    };
  }

  /** Saves a checkpoint under checkpointDir (or `dir`); returns its folder. */
  saveCheckpoint(dir = this.#o.checkpointDir): string {
    if (!dir) throw new ValueError('Trainer.saveCheckpoint', 'no checkpoint folder: pass one or set checkpointDir');
    return saveCheckpoint(dir, { model: this.model, optimizer: this.optimizer, state: this.state() });
  }

  /**
   * Restores weights, optimizer state, step, tokens, RNG and sampler position from a checkpoint, so the
   * run continues as if it had not stopped (same losses on the CPU with the same thread count).
   */
  resume(path: string): void {
    const op = 'Trainer.resume';
    const ck = loadCheckpoint(path);
    try {
      this.model.loadStateDict(ck.weights);
    } finally {
      for (const t of Object.values(ck.weights)) t.dispose();
    }
    if (!ck.optimizer) throw new ValueError(op, `${ck.dir} has no optimizer state, so the run cannot continue exactly`);
    this.optimizer.loadStateDict(ck.optimizer);
    const s = ck.trainer;
    this.sampler.setState(s.sampler);
    setRngState(s.rng);
    for (const [name, d] of this.#dropouts()) {
      const n = s.dropoutCalls?.[name];
      // Older checkpoints did not record the count: exact resume was then only promised without dropout.
      if (n === undefined) {
        if (d.active) throw new ValueError(op, `${ck.dir} does not record dropout module '${name}''s mask count, so the run cannot continue exactly`);
      } else d.calls = n;
    }
    this.step = s.step;
    this.tokens = s.tokens;
    this.elapsed = s.elapsed ?? 0;
    if (this.step > this.totalSteps) throw new ValueError(op, `the checkpoint is at step ${this.step}, past this run's budget of ${this.totalSteps} steps`);
  }

  /** Trains until the budget is spent; evaluates and checkpoints on the way and at the end. */
  fit(): TrainResult {
    const o = this.#o;
    const evalEvery = o.evalEvery ?? 0;
    const ckEvery = o.checkpointEvery ?? 0;
    const printEvery = o.printEvery ?? 10;
    const maxSkipped = o.maxSkippedSteps ?? 10;
    const start = performance.now();
    const startTokens = this.tokens;
    const startStep = this.step;
    let skipped = 0, skippedInARow = 0;
    if (o.checkpointDir) cleanStaleTemporaries(o.checkpointDir);
    const stop = (message: string): never => {
      if (this.#mode === 'tty' && this.#lastLine > 0) this.#stream.write('\n');
      this.#lastLine = 0;
      throw new ValueError('Trainer', `${message}; training stopped. Lower the learning rate or check the data`);
    };
    let last: StepMetrics | null = null;
    let lastEval: EvalMetrics | null = null;
    const runEval = (final: boolean): EvalMetrics => {
      const e = this.evaluate(final ? (o.finalEvalBatches ?? 'all') : (o.evalBatches ?? 8));
      lastEval = e;
      this.#log({ type: 'eval', step: e.step, final, loss: e.loss, bitsPerByte: e.bitsPerByte, tokens: e.tokens, perPosition: e.perPosition });
      // Position 1 (no context), then the mean over each quarter of the window: single positions are noisy.
      const P = e.perPosition.length;
      const quarter = (k: number): string => {
        const a = Math.floor((k * P) / 4), b = Math.max(a + 1, Math.floor(((k + 1) * P) / 4));
        return (e.perPosition.slice(a, b).reduce((x, y) => x + y, 0) / (b - a)).toFixed(2);
      };
      this.#print(`eval step ${e.step}${final ? ' (whole validation split)' : ''}: val loss ${e.loss.toFixed(4)}, ${e.bitsPerByte.toFixed(3)} bits/byte; loss by position: first ${e.perPosition[0]!.toFixed(2)}, quarters ${[0, 1, 2, 3].map(quarter).join(' ')}`, true);
      o.onEval?.(e);
      return e;
    };
    while (this.step < this.totalSteps) {
      const m = this.trainStep();
      last = m;
      this.#log({ type: 'step', ...m });
      o.onStep?.(m);
      const avg = (this.tokens - startTokens) / ((performance.now() - start) / 1000);
      const eta = (this.totalSteps - this.step) * ((this.batchSize * this.gradAccum * this.seqLen) / avg);
      const line = `step ${this.step}/${this.totalSteps} | loss ${m.loss.toFixed(4)} | ${m.bitsPerByte.toFixed(3)} bpb | lr ${m.lr.toExponential(2)} | gnorm ${m.gradNorm.toFixed(2)} | ${fmtRate(avg)} tok/s | mem ${(m.memoryBytes / 2 ** 20).toFixed(0)} MiB | eta ${fmtTime(eta)}${m.applied ? '' : ' | step skipped (non-finite gradient)'}`;
      if (this.#mode === 'tty') this.#print(line, false);
      else if (this.step % printEvery === 0 || this.step === 1 || this.step === this.totalSteps) this.#print(line, false);
      skippedInARow = m.applied ? 0 : skippedInARow + 1;
      if (!m.applied) skipped += 1;
      if (maxSkipped > 0 && skippedInARow >= maxSkipped)
        stop(`${skippedInARow} steps in a row were skipped (non-finite gradients), the last at step ${this.step} (lr ${m.lr.toExponential(3)})`);
      const isLast = this.step === this.totalSteps;
      if (evalEvery > 0 && this.step % evalEvery === 0 && !isLast) runEval(false);
      if (o.checkpointDir && ckEvery > 0 && this.step % ckEvery === 0 && !isLast) this.saveCheckpoint();
    }
    const ran = this.step - startStep;
    if (maxSkipped > 0 && skipped > ran / 2) stop(`${skipped} of the ${ran} steps of this run were skipped (non-finite gradients)`);
    if (this.#mode === 'tty' && this.#lastLine > 0) this.#stream.write('\n');
    this.#lastLine = 0;
    const finalEval = runEval(true);
    if (o.checkpointDir) this.saveCheckpoint();
    return { steps: this.step, tokens: this.tokens, seconds: (performance.now() - start) / 1000, lastLoss: last?.loss ?? NaN, finalEval: finalEval ?? lastEval, skippedSteps: skipped };
  }
}
