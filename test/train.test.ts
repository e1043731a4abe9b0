import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { AdamW, GPT, SophiaG, ValueError, warmupDecaySchedule, copyInto, noGrad, full } from '../lib/index.js';
import { ByteTokenizer, tokenizeDocuments, type TokenDataset } from '../lib/data/index.js';
import { cleanStaleTemporaries, estimateTrainingMemory, loadCheckpoint, loadModel, saveCheckpoint, Trainer, type TrainerOptions } from '../lib/train/index.js';
import { tinyCorpus } from './tiny_corpus.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-train-'));

let cached: TokenDataset | undefined;
async function data(): Promise<TokenDataset> {
  cached ??= await tokenizeDocuments(tinyCorpus(), new ByteTokenizer(), { valFraction: 0.1, seed: 1 });
  return cached;
}

function setup(ds: TokenDataset, extra: Partial<TrainerOptions> = {}, dropout = 0): Trainer {
  const model = new GPT({ vocabSize: 257, seqLen: 32, layers: 2, dim: 32, heads: 2, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 3, dropout });
  const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
  return new Trainer({
    model, optimizer, data: ds, batchSize: 4, gradAccum: 2, maxSteps: 12, seed: 5, progress: 'none', evalBatches: 2,
    schedule: warmupDecaySchedule({ lr: 3e-3, warmupSteps: 3, totalSteps: 12, minLr: 3e-4 }), ...extra,
  });
}

describe('Trainer', () => {
  it('trains a tiny model: the loss falls, metrics and logs are written', async () => {
    const ds = await data();
    const dir = tmp();
    const losses: number[] = [];
    const evals: number[] = [];
    const t = setup(ds, { maxSteps: 60, evalEvery: 30, logFile: join(dir, 'log.jsonl'), onStep: (m) => losses.push(m.loss), onEval: (e) => evals.push(e.loss),
      schedule: warmupDecaySchedule({ lr: 1e-2, warmupSteps: 5, totalSteps: 60, minLr: 1e-3 }) });
    const r = t.fit();
    expect(r.steps).toBe(60);
    expect(losses.length).toBe(60);
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5, lastL = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(lastL).toBeLessThan(first * 0.6);
    expect(evals.length).toBe(2);
    expect(r.finalEval!.perPosition.length).toBe(32);
    expect(r.finalEval!.bitsPerByte).toBeGreaterThan(0);
    const lines = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.type === 'step').length).toBe(60);
    expect(lines.filter((l) => l.type === 'eval').length).toBe(2);
    const s = lines.find((l) => l.type === 'step')!;
    for (const k of ['loss', 'bitsPerByte', 'lr', 'gradNorm', 'tokensPerSec', 'memoryBytes']) expect(typeof s[k]).toBe('number');
  });

  it('drives SophiaG\'s Hessian hook every k steps', async () => {
    const ds = await data();
    const model = new GPT({ vocabSize: 257, seqLen: 32, layers: 1, dim: 32, heads: 2, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 3 });
    const optimizer = new SophiaG(model.parameters(), { lr: 1e-3, hessianInterval: 4 });
    const t = new Trainer({ model, optimizer, data: ds, batchSize: 2, maxSteps: 9, seed: 5, progress: 'none', evalBatches: 1, schedule: () => 1e-3 });
    t.fit();
    expect(optimizer.hessianUpdates).toBe(2); // after steps 4 and 8
  });

  it('a budget in tokens rounds up to whole steps', async () => {
    const t = setup(await data(), { maxSteps: undefined, maxTokens: 1000 }); // 4·2·32 = 256 tokens per step
    expect(t.totalSteps).toBe(4);
  });

  it.each([0, 0.2])('resume (dropout %s): N/2 steps + checkpoint + resume in a fresh Trainer gives the uninterrupted losses exactly', async (dropout) => {
    const ds = await data();
    const full12: number[] = [];
    setup(ds, { onStep: (m) => full12.push(m.loss) }, dropout).fit();

    const dir = tmp();
    const a = setup(ds, {}, dropout);
    const firstHalf = Array.from({ length: 6 }, () => a.trainStep().loss);
    a.saveCheckpoint(join(dir, 'ck'));

    const rest: number[] = [];
    const b = setup(ds, { onStep: (m) => rest.push(m.loss) }, dropout);
    b.resume(join(dir, 'ck'));
    expect(b.step).toBe(6);
    b.fit();
    expect(firstHalf).toEqual(full12.slice(0, 6));
    expect(rest).toEqual(full12.slice(6));
    // Not trivially equal: the loss moved over the run.
    expect(full12[11]).not.toBe(full12[0]);
  });

  it('stops with a clear error naming the step on a NaN loss', async () => {
    const t = setup(await data());
    t.trainStep();
    t.trainStep();
    noGrad(() => {
      const w = t.model.parameters()[0]!;
      copyInto(w, full(w.shape, NaN));
    });
    expect(() => t.trainStep()).toThrow(ValueError);
    expect(() => t.trainStep()).toThrow(/loss is NaN at step 3/);
  });

  it('stops after maxSkippedSteps skipped steps in a row, and fails a fit in which most steps were skipped', async () => {
    const ds = await data();
    // An optimizer that applies its first `apply` steps, then skips every step as if its gradients were NaN.
    const skipping = (t: Trainer, apply: number): void => {
      const opt = t.optimizer as AdamW;
      const step = opt.step.bind(opt);
      let n = 0;
      opt.step = () => {
        if (n++ < apply) return step();
        opt.skippedSteps += 1;
        return false;
      };
    };
    const long = setup(ds, { maxSteps: 30 });
    skipping(long, 1);
    expect(() => long.fit()).toThrow(ValueError);
    expect(long.step).toBe(11);
    expect(() => { const t = setup(ds, { maxSteps: 30 }); skipping(t, 1); t.fit(); }).toThrow(/Trainer: 10 steps in a row were skipped \(non-finite gradients\), the last at step 11 \(lr [\d.e+-]+\); training stopped/);
    const short = setup(ds, { maxSteps: 6 });
    skipping(short, 2);
    expect(() => short.fit()).toThrow(/4 of the 6 steps of this run were skipped/);
    const some = setup(ds, { maxSteps: 6 });
    skipping(some, 4);
    expect(some.fit().skippedSteps).toBe(2);
    const off = setup(ds, { maxSteps: 12, maxSkippedSteps: 0 });
    skipping(off, 0);
    expect(off.fit().skippedSteps).toBe(12);
    expect(() => setup(ds, { maxSkippedSteps: -1 })).toThrow(/maxSkippedSteps must be an integer >= 0/);
  });

  it('cleanStaleTemporaries removes what a killed save left behind, and only that', async () => {
    const t = setup(await data());
    t.trainStep();
    const root = join(tmp(), 'ck');
    t.saveCheckpoint(root);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const names = [`.tmp-step-00000002-${dead}`, `.old-step-00000001-${dead}`, `.latest.tmp-${dead}`, `.tmp-step-00000002-${process.ppid}`, '.tmp-notes', 'notes'];
    for (const n of names) (n.startsWith('.latest') || n === 'notes' ? writeFileSync(join(root, n), 'x') : mkdirSync(join(root, n)));
    expect(cleanStaleTemporaries(root).sort()).toEqual(names.slice(0, 3).sort());
    // A live writer's folder (the test runner's parent here), unrelated names, the checkpoint and `latest` stay.
    expect(readdirSync(root).sort()).toEqual([`.tmp-step-00000002-${process.ppid}`, '.tmp-notes', 'latest', 'notes', 'step-00000001'].sort());
    expect(cleanStaleTemporaries(join(root, 'missing'))).toEqual([]);
    // fit() cleans when it starts, before any save.
    mkdirSync(join(root, `.tmp-step-00000009-${dead}`));
    const u = setup(await data(), { checkpointDir: root, maxSteps: 1, onStep: () => expect(existsSync(join(root, `.tmp-step-00000009-${dead}`))).toBe(false) });
    u.fit();
  });

  it('estimateTrainingMemory: weights, gradients and optimizer state per parameter, activations per token', () => {
    const cfg = { vocabSize: 257, seqLen: 64, layers: 2, dim: 64, heads: 2 };
    const n = new GPT(cfg).numParameters();
    const a = estimateTrainingMemory(cfg, { batchSize: 4, optimizerBytesPerParam: 8 });
    expect(a.parameters).toBe(n);
    expect(a.stateBytes).toBe(16 * n);
    expect(estimateTrainingMemory({ ...cfg, precision: 'bf16' }, { batchSize: 4, optimizerBytesPerParam: 2 }).stateBytes).toBe(12 * n);
    const b = estimateTrainingMemory(cfg, { batchSize: 8, optimizerBytesPerParam: 8 });
    expect(b.activationBytes).toBe(2 * a.activationBytes);
    expect(estimateTrainingMemory(cfg, { batchSize: 4, seqLen: 32, optimizerBytesPerParam: 8 }).activationBytes).toBe(a.activationBytes / 2);
    expect(a.totalBytes).toBe(a.stateBytes + a.activationBytes);
  });

  it('a half-written checkpoint (temporary folder left behind) leaves the previous one loadable', async () => {
    const t = setup(await data());
    t.trainStep();
    const root = join(tmp(), 'ck');
    t.saveCheckpoint(root);
    // What a crash mid-write leaves: a temporary folder with a truncated weights file, and no `latest` update.
    const half = join(root, '.tmp-step-00000002-999');
    mkdirSync(half);
    writeFileSync(join(half, 'model.safetensors'), Buffer.from([1, 2, 3]));
    const ck = loadCheckpoint(root);
    expect(ck.trainer.step).toBe(1);
    const { model } = loadModel(root);
    expect(model.parameters()[0]!.dataSync()).toEqual(t.model.parameters()[0]!.dataSync());
  });

  it('SIGKILL during checkpoint writes leaves the latest complete checkpoint loadable', async () => {
    const root = join(tmp(), 'ck');
    // A child that saves checkpoints of a larger model in a loop until killed.
    const script = `
      import { GPT, AdamW } from ${JSON.stringify(join(process.cwd(), 'lib/index.ts'))};
      import { saveCheckpoint } from ${JSON.stringify(join(process.cwd(), 'lib/train/checkpoint.ts'))};
      const model = new GPT({ vocabSize: 4096, seqLen: 64, layers: 4, dim: 256, heads: 4, seed: 1 });
      const opt = new AdamW(model.parameters());
      const rng = { seed: 0, offset: 0 }, sampler = { kind: 'random', position: 0, seed: 0 };
      for (let step = 1; ; step++) {
        saveCheckpoint(${JSON.stringify(root)}, { model, optimizer: opt, state: { format: 'lmforge-checkpoint', version: 1, step, tokens: step, elapsed: 0, rng, sampler } });
        if (step === 1) process.stdout.write('saved\\n');
      }`;
    const file = join(tmp(), 'writer.ts');
    writeFileSync(file, script);
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => resolve());
      child.on('exit', (c) => reject(new Error(`writer exited early with ${c}`)));
    });
    // Let it get into later writes, then kill it at an arbitrary point.
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const ck = loadCheckpoint(root);
    expect(ck.trainer.step).toBeGreaterThanOrEqual(1);
    expect(Object.keys(ck.weights).length).toBeGreaterThan(0);
    expect(ck.optimizer!.optimizer).toBe('AdamW');
    expect(existsSync(join(ck.dir, 'model.safetensors'))).toBe(true);
    expect(readdirSync(root).some((n) => n === 'latest')).toBe(true);
  });
});

describe('examples/train.ts', () => {
  it('runs end to end (3 steps) and samples from its checkpoint', async () => {
    const { main } = await import('../examples/train.js');
    const r = await main(3, join(tmp(), 'run'));
    expect(Number.isFinite(r.firstLoss)).toBe(true);
    expect(r.valBitsPerByte).toBeGreaterThan(0);
    expect(r.sample.startsWith('The ')).toBe(true);
  });
});
