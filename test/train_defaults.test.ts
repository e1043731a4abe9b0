// Issue 18's defects in `lmforge train` and `eval`: short-run warm-up, per-optimizer defaults, gated MLP
// widths, document masks, and evaluation at another length or on other text.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { resolveOptimizer, defaultConfig, OPTIMIZER_DEFAULTS } from '../lib/cli/config.js';
import { dataStats, documentIds } from '../lib/data/dataset.js';
import { GPT, parameterCount } from '../lib/nn/gpt.js';
import { tensor } from '../lib/ops/creation.js';
import { lmforge, oneLineError } from './cli_run.js';

const TINY = ['--layers', '1', '--dim', '32', '--heads', '2', '--seq-len', '32', '--batch-size', '2', '--eval-every', '0', '--eval-batches', '1', '--checkpoint-every', '0', '--sample-tokens', '0', '--val-fraction', '0.2'];

function corpus(d: string): string {
  // Documents of 225 bytes: the validation split (a fifth) holds several windows of 32 bytes.
  const f = join(d, 'text.jsonl');
  writeFileSync(f, Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `${i} ${'The quick brown fox jumps over the lazy dog. '.repeat(5)}` })).join('\n'));
  return f;
}

const config = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

describe('train: schedule and optimizer defaults', () => {
  it('a short run warms up for a tenth of it and decays; the train: line prints the resolved values', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lmf-defaults-'));
    const r = await lmforge(['train', corpus(d), ...TINY, '--steps', '40', '--out', join(d, 'run')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/train: adamw lr 0\.003 \(warmup 4, cosine to 0\.0003\), weight decay 0\.1, betas \(0\.9, 0\.95\), 40 steps/);
    expect(config(join(d, 'run')).optimizer).toMatchObject({ warmupSteps: 4, lr: 3e-3, weightDecay: 0.1 });
  }, 120_000);

  it('refuses an explicit warm-up that fills the run', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lmf-defaults-'));
    oneLineError(await lmforge(['train', corpus(d), ...TINY, '--steps', '40', '--warmup-steps', '40', '--out', join(d, 'run')]), /warmupSteps 40 is not below the run's 40 steps/);
  }, 60_000);

  it('each optimizer gets its own defaults; given values win', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lmf-defaults-'));
    const f = corpus(d);
    const [adam, lion, given] = await Promise.all([
      lmforge(['train', f, ...TINY, '--steps', '3', '--optimizer', 'adam', '--out', join(d, 'adam')]),
      lmforge(['train', f, ...TINY, '--steps', '3', '--optimizer', 'lion', '--out', join(d, 'lion')]),
      lmforge(['train', f, ...TINY, '--steps', '3', '--optimizer', 'lion', '--lr', '0.0005', '--weight-decay', '0.05', '--out', join(d, 'given')]),
    ]);
    for (const r of [adam, lion, given]) expect(r.code, r.stderr).toBe(0);
    expect(adam.stderr).toMatch(/train: adam lr 0\.003 .*weight decay 0,/);
    expect(config(join(d, 'adam')).optimizer.weightDecay).toBe(0);
    expect(config(join(d, 'lion')).optimizer).toMatchObject({ lr: 1e-3, weightDecay: 0.3, beta1: 0.9, beta2: 0.99 });
    expect(config(join(d, 'given')).optimizer).toMatchObject({ lr: 5e-4, weightDecay: 0.05, beta2: 0.99 });
  }, 120_000);

  it('resolveOptimizer: Lion and Sophia as published, SGD with momentum; explicit config keys win', () => {
    const o = defaultConfig().optimizer;
    const lion = resolveOptimizer({ ...o, name: 'lion' }, 900), adamw = resolveOptimizer(o, 900);
    expect(adamw.lr / lion.lr).toBeGreaterThanOrEqual(2.999);
    expect(lion.weightDecay / adamw.weightDecay).toBeGreaterThanOrEqual(2.999);
    expect(resolveOptimizer({ ...o, name: 'sophia' }, 900)).toMatchObject({ beta1: 0.965, beta2: 0.99, weightDecay: 0.1 });
    expect(resolveOptimizer({ ...o, name: 'sgd' }, 900)).toMatchObject({ momentum: 0.9, weightDecay: 0 });
    expect(resolveOptimizer({ ...o, name: 'sgd', lr: 0.05, warmupSteps: 7 }, 900)).toMatchObject({ lr: 0.05, warmupSteps: 7, minLr: 0.005 });
    expect(resolveOptimizer(o, 900).warmupSteps).toBe(50);
    expect(Object.keys(OPTIMIZER_DEFAULTS).sort()).toEqual(['adam', 'adamw', 'adamw8bit', 'lion', 'sgd', 'sophia']);
  });
});

describe('gated MLP width', () => {
  it("matches the 4·dim MLP's parameter count within 1% for the train default", () => {
    const base = { vocabSize: 256, seqLen: 128, layers: 4, dim: 128, heads: 4, position: 'rope', norm: 'rmsnorm', bias: false } as const;
    const relu = parameterCount({ ...base, activation: 'relu' }), swiglu = parameterCount({ ...base, activation: 'swiglu' });
    expect(Math.abs(swiglu - relu) / relu).toBeLessThan(0.01);
  });
});

describe('document masks', () => {
  it('documentIds counts end-of-document tokens before each position, per row', () => {
    expect(Array.from(documentIds(Int32Array.of(5, 0, 7, 8, 0, 0, 1, 2), 2, 4, 0))).toEqual([0, 0, 1, 1, 0, 1, 2, 2]);
  });

  it('GPT.forward with docIds scores a packed document as if it were alone', () => {
    const m = new GPT({ vocabSize: 16, seqLen: 12, layers: 2, dim: 16, heads: 2, position: 'alibi', seed: 3 });
    const packed = Int32Array.of(3, 4, 5, 0, 6, 7, 8, 9);
    const ids = documentIds(packed, 1, 8, 0);
    const masked = m.forward(tensor(packed, [1, 8]), undefined, { docIds: tensor(ids, [1, 8]) }).logits.dataSync() as Float32Array;
    const alone = m.forward(tensor(Int32Array.of(6, 7, 8, 9), [1, 4])).logits.dataSync() as Float32Array;
    const unmasked = m.forward(tensor(packed, [1, 8])).logits.dataSync() as Float32Array;
    const second = (a: Float32Array) => Array.from(a.subarray(4 * 16));
    second(masked).forEach((x, i) => expect(x).toBeCloseTo(alone[i]!, 4));
    expect(Math.max(...second(unmasked).map((x, i) => Math.abs(x - alone[i]!)))).toBeGreaterThan(1e-3);
  });

  it('train --doc-mask true records it in the run config; data stats says what train draws', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lmf-docmask-'));
    const r = await lmforge(['train', corpus(d), ...TINY, '--steps', '3', '--doc-mask', 'true', '--out', join(d, 'run')]);
    expect(r.code, r.stderr).toBe(0);
    expect(config(join(d, 'run')).train.docMask).toBe(true);
    expect(r.stderr).toMatch(/attention inside documents/);
    const s = await lmforge(['data', 'stats', join(d, 'text.jsonl'), '--seq-len', '32']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/training windows of 32 tokens are drawn anywhere in the packed documents: 13\.\d% of them cross a document end/);
    expect(s.stdout).toMatch(/not what train does/);
  }, 120_000);

  it('dataStats: the share of packed windows crossing a document end', () => {
    // Documents of 2 and 7 tokens packed with eot: 11 tokens, 11 − 4 + 1 = 8 offsets; 0 + 5 stay inside.
    expect(dataStats([2, 7], 4).packed.crossingShare).toBeCloseTo(3 / 8, 12);
  });
});

describe('eval --seq-len and --data', () => {
  it('evaluates RoPE beyond the trained length and other text in bits per byte; refuses learned positions', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lmf-evalcmd-'));
    const f = corpus(d);
    const other = join(d, 'other.txt');
    writeFileSync(other, 'Pack my box with five dozen liquor jugs. '.repeat(100));
    const [rope, learned] = await Promise.all([
      lmforge(['train', f, ...TINY, '--steps', '3', '--quiet', '--out', join(d, 'rope')]),
      lmforge(['train', f, ...TINY, '--steps', '3', '--quiet', '--position', 'learned', '--out', join(d, 'learned')]),
    ]);
    expect(rope.code, rope.stderr).toBe(0);
    expect(learned.code, learned.stderr).toBe(0);
    const long = await lmforge(['eval', '--checkpoint', join(d, 'rope'), '--seq-len', '64', '--json']);
    expect(long.code, long.stderr).toBe(0);
    const e = JSON.parse(long.stdout);
    expect(e.seqLen).toBe(64);
    expect(e.perPosition).toHaveLength(64);
    const onOther = await lmforge(['eval', '--checkpoint', join(d, 'rope'), '--data', other]);
    expect(onOther.code, onOther.stderr).toBe(0);
    expect(onOther.stdout).toMatch(/other\.txt: loss [\d.]+ nats\/token, [\d.]+ bits per byte over [\d,]+ tokens/);
    oneLineError(await lmforge(['eval', '--checkpoint', join(d, 'learned'), '--seq-len', '64']), /--seq-len 64 exceeds the trained length 32.*learned position/);
  }, 180_000);
});
