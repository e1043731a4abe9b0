/**
 * Scoring tasks with a GPT: log-likelihoods of choices (per UTF-8 byte) and greedy last words, in batches
 * of windows, in eval mode under noGrad, each batch in its own tidy() scope.
 */
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentTypeError, ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import { GPT } from '../nn/gpt.js';
import { tensor } from '../ops/creation.js';
import { argmax } from '../ops/reduce.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { checkInt, checkObject, checkOptions, describe, showValue } from '../ops/util.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { checkTasks } from './check.js';
import type { ChoiceExample, LastWordExample, Task, TaskResult } from './types.js';

export interface EvaluateTasksOptions {
  /** Windows per forward pass (default 16; fewer where a batch's logits would pass 64 MiB). */
  batchSize?: number;
}

/** One window to run: predictions at input positions from..end are read against `targets` (-1: argmax only). */
interface Row {
  input: Int32Array;
  from: number;
  targets: Int32Array;
}

interface RowResult {
  /** Sum of the log-probabilities of the row's targets. */
  logprob: number;
  /** The most likely token at each read position (last-word rows only). */
  argmax: Int32Array | null;
}

const LOGITS_LIMIT = 2 ** 24; // floats of logits per batch: 64 MiB

/** Runs rows in batches of similar length (right-padded: causal attention never looks at the padding). */
function runRows(model: GPT, rows: readonly Row[], batchSize: number, pad: number, wantArgmax: boolean): RowResult[] {
  const results: RowResult[] = new Array(rows.length);
  const order = rows.map((_, i) => i).sort((a, b) => rows[b]!.input.length - rows[a]!.input.length);
  const V = model.config.vocabSize;
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (let s = 0; s < order.length; ) {
        const L = rows[order[s]!]!.input.length;
        const B = Math.min(batchSize, order.length - s, Math.max(1, Math.floor(LOGITS_LIMIT / (L * V))));
        const batch = order.slice(s, s + B);
        s += B;
        const inputs = new Int32Array(B * L).fill(pad);
        const targets = new Int32Array(B * L).fill(-100);
        batch.forEach((r, b) => {
          const row = rows[r]!;
          inputs.set(row.input, b * L);
          row.targets.forEach((t, j) => {
            if (t >= 0) targets[b * L + row.from + j] = t;
          });
        });
        tidy(() => {
          const { logits } = model.forward(tensor(inputs, [B, L]));
          const nll = crossEntropy(logits, tensor(targets, [B, L], 'int32', model.device), { reduction: 'none' }).astype('float64').dataSync() as Float64Array;
          const best = wantArgmax ? (argmax(logits, -1).dataSync() as Int32Array) : null;
          batch.forEach((r, b) => {
            const row = rows[r]!;
            let lp = 0;
            row.targets.forEach((t, j) => {
              if (t >= 0) lp -= nll[b * L + row.from + j]!;
            });
            results[r] = { logprob: lp, argmax: best ? best.slice(b * L + row.from, b * L + row.input.length) : null };
          });
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return results;
}

/**
 * The tokenizer's ids for `text`, checked: a tokenizer written by a user may return anything, and an id the
 * model has no embedding for, or a fraction that an Int32Array would truncate, must not be scored silently.
 */
async function encodeIds(model: GPT, tok: Tokenizer, text: string): Promise<Int32Array> {
  const op = 'evaluateTasks';
  const ids: unknown = await tok.encode(text);
  if (!(ids instanceof Int32Array || Array.isArray(ids))) throw new ArgumentTypeError(op, `tokenizer.encode must give an Int32Array of ids, got ${describe(ids)}`);
  const V = model.config.vocabSize;
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= V)
      throw new ValueError(op, `tokenizer.encode(${JSON.stringify(text.slice(0, 40))}) gave id ${showValue(id)} at ${i}: ids must be integers in the model's vocabulary [0, ${V})`);
  }
  return ids instanceof Int32Array ? ids : Int32Array.from(ids as number[]);
}

async function decodeText(tok: Tokenizer, ids: ArrayLike<number>): Promise<string> {
  const text: unknown = await tok.decode(ids);
  if (typeof text !== 'string') throw new ArgumentTypeError('evaluateTasks', `tokenizer.decode must give a string, got ${describe(text)}`);
  return text;
}

/** The context's tokens; an empty context is the start of a document (the end-of-document token), as in lm-evaluation-harness. */
async function contextIds(model: GPT, tok: Tokenizer, context: string): Promise<Int32Array> {
  return context === '' ? Int32Array.of(tok.eot) : encodeIds(model, tok, context);
}

/**
 * Windows that score `cont` after `ctx` with a model of window W: the continuation in chunks of W tokens,
 * each predicted by one window that holds the W tokens before the chunk's last token (so the context is
 * cut from the left). As in lm-evaluation-harness's rolling windows, a continuation longer than the window
 * is scored whole, the first tokens of a later chunk with less context than W.
 */
function choiceRows(ctx: Int32Array, cont: Int32Array, W: number): Row[] {
  const s = new Int32Array(ctx.length + cont.length);
  s.set(ctx);
  s.set(cont, ctx.length);
  const rows: Row[] = [];
  for (let p = ctx.length; p < s.length; p += W) {
    const q = Math.min(s.length, p + W);
    const st = Math.max(0, q - 1 - W);
    rows.push({ input: s.slice(st, q - 1), from: p - 1 - st, targets: s.slice(p, q) });
  }
  return rows;
}

/** The log-likelihood (natural log) of each choice of each example given its context. */
export async function choiceLogLikelihoods(model: GPT, tok: Tokenizer, examples: readonly ChoiceExample[], batchSize: number): Promise<Float64Array[]> {
  const W = model.config.seqLen;
  const rows: Row[] = [];
  // owner[i] = [example, choice] of rows[i]
  const owner: [number, number][] = [];
  for (let e = 0; e < examples.length; e++) {
    const ex = examples[e]!;
    const ctx = await contextIds(model, tok, ex.context);
    for (let c = 0; c < ex.choices.length; c++) {
      const cont = await encodeIds(model, tok, ex.choices[c]!);
      if (cont.length === 0) throw new ValueError('evaluateTasks', `choice ${c} of example ${e} encodes to no tokens`);
      for (const r of choiceRows(ctx, cont, W)) {
        rows.push(r);
        owner.push([e, c]);
      }
    }
  }
  const res = runRows(model, rows, batchSize, tok.eot, false);
  const scores = examples.map((ex) => new Float64Array(ex.choices.length));
  res.forEach((r, i) => (scores[owner[i]![0]]![owner[i]![1]] += r.logprob));
  return scores;
}

async function choiceCorrect(model: GPT, tok: Tokenizer, examples: readonly ChoiceExample[], batchSize: number): Promise<boolean[]> {
  const scores = await choiceLogLikelihoods(model, tok, examples, batchSize);
  return examples.map((ex, e) => {
    // Per UTF-8 byte of the choice (acc_norm); the first of equal scores wins.
    const norm = Array.from(scores[e]!, (lp, c) => lp / Buffer.byteLength(ex.choices[c]!));
    return norm.indexOf(Math.max(...norm)) === ex.gold;
  });
}

const startsWord = (s: string): boolean => /^[\p{L}\p{N}]/u.test(s);

/** The text a last-word example must be continued with: ' ' + target, without the space after whitespace or at a document start. */
function expected(ex: LastWordExample): string {
  return ex.context === '' || /\s$/.test(ex.context) ? ex.target : ` ${ex.target}`;
}

/**
 * Whether greedy decoding continues each context with its target as a whole word (the text after it does
 * not go on with a letter or digit). One teacher-forced pass reads the greedy token at every position of
 * the target's own tokenization; where greedy takes another token that still spells the target's text (a
 * different split of the same word), that example is decoded greedily for real.
 */
export async function lastWordCorrect(model: GPT, tok: Tokenizer, examples: readonly LastWordExample[], batchSize: number): Promise<boolean[]> {
  const W = model.config.seqLen;
  const rows: Row[] = [];
  const conts: Int32Array[] = [];
  const ctxs: Int32Array[] = [];
  for (let e = 0; e < examples.length; e++) {
    const ex = examples[e]!;
    const ctx = await contextIds(model, tok, ex.context);
    const cont = await encodeIds(model, tok, expected(ex));
    if (cont.length === 0 || cont.length >= W) throw new ValueError('evaluateTasks', `the target of example ${e} ('${ex.target}') is ${cont.length} tokens: it needs 1 to ${W - 1} to fit the model's window of ${W}`);
    const s = new Int32Array(ctx.length + cont.length);
    s.set(ctx);
    s.set(cont, ctx.length);
    const input = s.slice(Math.max(0, s.length - W));
    // Reads the prediction after each context token that precedes a target token, and after the target.
    rows.push({ input, from: input.length - cont.length - 1, targets: Int32Array.from([...cont, -1]) });
    ctxs.push(ctx);
    conts.push(cont);
  }
  const res = runRows(model, rows, batchSize, tok.eot, true);
  const out: boolean[] = [];
  for (let e = 0; e < examples.length; e++) {
    const cont = conts[e]!, greedy = res[e]!.argmax!;
    let k = 0;
    while (k < cont.length && greedy[k] === cont[k]) k++;
    if (k === cont.length) {
      const after = greedy[k]!;
      out.push(after === tok.eot || !startsWord(await decodeText(tok, [after])));
      continue;
    }
    const rest = await decodeText(tok, cont.subarray(k));
    const took = await decodeText(tok, [greedy[k]!]);
    if (took === '' || !(rest.startsWith(took) || took.startsWith(rest))) {
      out.push(false);
      continue;
    }
    out.push(await greedyMatches(model, tok, ctxs[e]!, cont.subarray(0, k), rest));
  }
  return out;
}

/** Decodes greedily after ctx + prefix and checks the new text is `rest` followed by no letter or digit. */
async function greedyMatches(model: GPT, tok: Tokenizer, ctx: Int32Array, prefix: Int32Array, rest: string): Promise<boolean> {
  const W = model.config.seqLen;
  // Every token spells at least one byte, so this many new tokens cover the rest and one more character.
  const n = Math.min(Buffer.byteLength(rest) + 1, W - 1);
  const all = new Int32Array(ctx.length + prefix.length);
  all.set(ctx);
  all.set(prefix, ctx.length);
  const prompt = all.slice(Math.max(0, all.length - (W - n)));
  const ids = tidy(() => model.generate(tensor(prompt, [prompt.length]), { maxTokens: n, temperature: 0 }).dataSync() as Int32Array).subarray(prompt.length);
  const eot = ids.indexOf(tok.eot);
  const text = await decodeText(tok, eot >= 0 ? ids.subarray(0, eot) : ids);
  return text.startsWith(rest) && !startsWord(text.slice(rest.length));
}

/** Which examples of a task the model answers right. */
export async function taskCorrect(model: GPT, tok: Tokenizer, task: Task, batchSize = 16): Promise<boolean[]> {
  return task.kind === 'choice' ? choiceCorrect(model, tok, task.examples, batchSize) : lastWordCorrect(model, tok, task.examples, batchSize);
}

/** The baseline of a task (see TaskResult.chance). */
export function chanceOf(task: Task): number {
  if (task.kind === 'choice') return task.examples.reduce((a, e) => a + 1 / e.choices.length, 0) / task.examples.length;
  const counts = new Map<string, number>();
  for (const e of task.examples) counts.set(e.target, (counts.get(e.target) ?? 0) + 1);
  return Math.max(...counts.values()) / task.examples.length;
}

/**
 * Scores tasks with a model and its tokenizer: accuracy with its standard error and the chance baseline.
 * Choice tasks pick the choice of highest log-likelihood per UTF-8 byte given the context
 * (lm-evaluation-harness's acc_norm, comparable across tokenizers); last-word tasks count the examples
 * whose greedy continuation is the target word. Contexts longer than the model's window are cut from the left.
 */
export async function evaluateTasks(model: GPT, tokenizer: Tokenizer, tasks: Task[], opts: EvaluateTasksOptions = {}): Promise<TaskResult[]> {
  const op = 'evaluateTasks';
  if (!(model instanceof GPT)) throw new ArgumentTypeError(op, `model must be a GPT, got ${describe(model)}`);
  const t = checkObject(op, 'tokenizer', tokenizer);
  if (typeof t.encode !== 'function' || typeof t.decode !== 'function' || !Number.isInteger(t.eot))
    throw new ArgumentTypeError(op, `tokenizer must be a Tokenizer (encode, decode, eot), got ${describe(tokenizer)}`);
  const V = model.config.vocabSize;
  if ((t.eot as number) < 0 || (t.eot as number) >= V) throw new ValueError(op, `the tokenizer's eot ${t.eot} is outside the model's vocabulary [0, ${V})`);
  checkTasks(op, tasks);
  checkOptions(op, opts, ['batchSize']);
  const batchSize = checkInt(op, 'batchSize', opts.batchSize ?? 16, 1, 65536);
  const results: TaskResult[] = [];
  for (const task of tasks) {
    const correct = await taskCorrect(model, tokenizer, task, batchSize);
    const n = correct.length;
    const accuracy = correct.filter(Boolean).length / n;
    results.push({ name: task.name, kind: task.kind, examples: n, accuracy, stderr: Math.sqrt((accuracy * (1 - accuracy)) / n), chance: chanceOf(task) });
  }
  return results;
}
