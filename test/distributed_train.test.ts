// Data-parallel training (lib/distributed/data_parallel.ts, zero.ts, the Trainer's `distributed` option).
// The first part runs in this process, on the identity communicator or a stand-in; the second starts 2
// ranks on loopback with mpirun, and skips (saying why) where mpirun is missing, unless LMF_REQUIRE_MPI=1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { AdamW, ArgumentTypeError, Dropout, GPT, Lion, SophiaG, ValueError, tensor, type Tensor } from '../lib/index.js';
import { onGradReady } from '../lib/autograd/backward.js';
import { ByteTokenizer, tokenizeDocuments, type TokenDataset } from '../lib/data/index.js';
import { initDistributed, type Communicator } from '../lib/distributed/comm.js';
import { GradientBuckets, shardRows } from '../lib/distributed/data_parallel.js';
import { partitionParameters, ZeroStage1 } from '../lib/distributed/zero.js';
import { Trainer, type TrainerOptions } from '../lib/train/index.js';
import { projectScaling, SCALING_ASSUMPTIONS } from '../lib/bench/distributed.js';
import { parameterCount } from '../lib/nn/gpt.js';
import { tinyCorpus } from './tiny_corpus.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-dp-'));

let cached: TokenDataset | undefined;
const data = async (): Promise<TokenDataset> => (cached ??= await tokenizeDocuments(tinyCorpus(), new ByteTokenizer(), { valFraction: 0.1, seed: 1 }));
const gpt = (over: Record<string, unknown> = {}): GPT =>
  new GPT({ vocabSize: 257, seqLen: 32, layers: 2, dim: 32, heads: 2, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 3, ...over });

function run(ds: TokenDataset, extra: Partial<TrainerOptions>, make = (m: GPT) => new AdamW(m.parameters(), { lr: 3e-3, weightDecay: 0.01 })): { losses: number[]; weights: Float32Array[]; trainer: Trainer } {
  const model = gpt();
  const losses: number[] = [];
  const trainer = new Trainer({ model, optimizer: make(model), data: ds, batchSize: 4, maxSteps: 6, seed: 5, progress: 'none', evalBatches: 2, onStep: (m) => losses.push(m.loss), ...extra });
  trainer.fit();
  return { losses, weights: model.parameters().map((p) => p.dataSync() as Float32Array), trainer };
}

// A communicator of 2 ranks that must never be called: for checks that come before any collective.
const never = (): never => {
  throw new Error('no collective expected here');
};
const twoRanks: Communicator = {
  backend: 'mpi', rank: 0, worldSize: 2, localRank: 0, localSize: 2,
  allReduce: never, allReduceAsync: never, reduceScatter: never, allGather: never, broadcast: never, barrier: never, finalize: never,
};

describe('onGradReady', () => {
  it('calls the hook once per leaf, after its gradient is final, last-used leaf first', () => {
    const a = tensor([1, 2, 3]).setRequiresGrad(), b = tensor([0.5, -1, 2]).setRequiresGrad();
    const seen: [string, number[]][] = [];
    const off = onGradReady((leaf) => seen.push([leaf === a ? 'a' : 'b', Array.from(leaf.grad!.dataSync() as Float32Array)]));
    // a is used twice (its gradient sums two paths), b once, after a's first use.
    const y = a.mul(a.mul(b).sum()).sum();
    y.backward();
    off();
    // y = (Σa)(Σ a·b): dy/da = Σ(a·b) + b·Σa, dy/db = a·Σa.
    expect(seen.map((s) => s[0]).sort()).toEqual(['a', 'b']);
    expect(seen.find((s) => s[0] === 'a')![1]).toEqual([4.5 + 3, 4.5 - 6, 4.5 + 12]);
    expect(seen.find((s) => s[0] === 'b')![1]).toEqual([6, 12, 18]);
    a.zeroGrad();
    y.dispose();
    a.mul(2).sum().backward();
    expect(seen.length).toBe(2); // removed: not called again
  });

  it('refuses a hook that is not a function', () => {
    expect(() => onGradReady(3 as never)).toThrow(ValueError);
  });
});

describe('data parallel pieces', () => {
  it('shardRows: the ranks\' rows make up the batch, in order; a batch that does not divide is an error', () => {
    const x = Int32Array.from({ length: 6 * 4 }, (_, i) => i);
    const parts = [0, 1, 2].map((r) => Array.from(shardRows(x, 6, 4, r, 3)));
    expect(parts.flat()).toEqual(Array.from(x));
    expect(parts[1]![0]).toBe(8);
    expect(() => shardRows(x, 6, 4, 0, 4)).toThrow(/6 rows does not divide among 4 ranks/);
  });

  it('Dropout.setShard: each rank\'s masks are its rows of the global batch\'s masks, call after call', () => {
    const x = tensor(Float32Array.from({ length: 4 * 3 * 5 }, (_, i) => i + 1), [4, 3, 5]);
    const whole = new Dropout(0.5, { seed: 7 });
    const ranks = [0, 1].map((r) => {
      const d = new Dropout(0.5, { seed: 7 });
      d.setShard(r, 2);
      return d;
    });
    for (let call = 0; call < 2; call++) {
      const y = Array.from(whole.forward(x).dataSync() as Float32Array);
      const parts = ranks.map((d, r) => Array.from(d.forward(x.slice(0, 2 * r, 2 * r + 2)).dataSync() as Float32Array));
      expect(parts.flat()).toEqual(y);
      expect(y.filter((v) => v === 0).length).toBeGreaterThan(5); // a mask that drops something
    }
    expect(() => ranks[0]!.setShard(2, 2)).toThrow(/Dropout.setShard: rank must be an integer in \[0, 1\], got 2/);
    expect(() => ranks[0]!.setShard(0, 1.5)).toThrow(ArgumentTypeError);
  });

  it('partitionParameters: largest first to the least-loaded rank, deterministic, balanced', () => {
    // 100 → 0; 60, 30, 10 → 1 (60, 90, 100); 5 → 0 on the tie at 100.
    expect(partitionParameters([10, 100, 30, 60, 5], 2)).toEqual([1, 0, 1, 1, 0]);
    const sizes = [1000, 64, 64, 4096, 4096, 128, 12288, 4096, 128, 64];
    const owners = partitionParameters(sizes, 3);
    const load = [0, 0, 0];
    owners.forEach((o, i) => (load[o] += sizes[i]!));
    expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(Math.max(...sizes));
    expect(partitionParameters(sizes, 3)).toEqual(owners);
  });

  it('the Trainer on the identity communicator (one rank) gives the single-process run bit for bit, plain and ZeRO-1', async () => {
    const ds = await data();
    const base = run(ds, {});
    for (const extra of [{ distributed: true }, { distributed: initDistributed({ backend: 'identity' }), zero: 1 as const }, { distributed: true, bucketBytes: 4096 }]) {
      const r = run(ds, extra);
      expect(r.losses).toEqual(base.losses);
      r.weights.forEach((w, i) => expect(w).toEqual(base.weights[i]));
    }
  });

  it('small buckets start during the backward, in reverse of the model order', async () => {
    const ds = await data();
    const r = run(ds, { distributed: true, bucketBytes: 4096 });
    const s = r.trainer.communicationStats!;
    expect(s.buckets).toBeGreaterThan(3);
    expect(s.steps).toBe(6);
    // All buckets but those whose last gradient comes last (the embedding, used first) start before the backward ends.
    expect(s.launchedInBackward).toBeGreaterThanOrEqual(6 * (s.buckets - 2));
    const model = gpt();
    const b = new GradientBuckets(initDistributed({ backend: 'identity' }), model.parameters(), 4);
    expect(b.stats.buckets).toBe(model.parameters().length); // one tensor per bucket when each exceeds the size
    b.dispose();
  });

  it('ZeRO-1: the state dict round-trips, and state bytes are this rank\'s', async () => {
    const ds = await data();
    const model = gpt();
    const opt = new Lion(model.parameters(), { lr: 1e-3 });
    const t = new Trainer({ model, optimizer: opt, data: ds, batchSize: 4, maxSteps: 3, progress: 'none', evalBatches: 1, distributed: true, zero: 1 });
    const r = t.fit();
    expect(r.distributed).toEqual({ worldSize: 1, zero: 1, stateBytesPerRank: [4 * model.numParameters()], gradientBytesPerStep: 4 * model.numParameters() });
    const z = new ZeroStage1(initDistributed({ backend: 'identity' }), opt as never);
    const sd = z.stateDict()!;
    expect(sd).toEqual(opt.stateDict());
    z.loadStateDict(sd);
    expect(opt.stateDict()).toEqual(sd);
  });

  it('checks its options: global batch divisible by the ranks, ZeRO needs ranks, SophiaG is refused with ZeRO-1 only', async () => {
    const ds = await data();
    const model = gpt();
    const opt = new AdamW(model.parameters());
    const base = { model, optimizer: opt, data: ds, maxSteps: 2, progress: 'none' as const };
    expect(() => new Trainer({ ...base, batchSize: 5, distributed: twoRanks })).toThrow(/batchSize 5 is the global batch and must divide among the 2 ranks/);
    expect(() => new Trainer({ ...base, batchSize: 4, zero: 1 })).toThrow(/needs distributed/);
    expect(() => new Trainer({ ...base, batchSize: 4, distributed: true, zero: 2 as never })).toThrow(/zero must be 0 or 1/);
    expect(() => new Trainer({ ...base, batchSize: 4, distributed: 'yes' as never })).toThrow(/distributed must be true, false or a Communicator/);
    const sophia = new SophiaG(model.parameters());
    expect(() => new Trainer({ ...base, optimizer: sophia, batchSize: 4, distributed: twoRanks })).not.toThrow();
    expect(() => new Trainer({ ...base, optimizer: sophia, batchSize: 4, distributed: twoRanks, zero: 1 })).toThrow(/SophiaG does work between steps \(afterStep\) over all its parameters, which a sharded optimizer cannot do/);
  });

  it('resume refuses a checkpoint of another model config', async () => {
    const ds = await data();
    const dir = tmp();
    run(ds, { maxSteps: 2, checkpointDir: dir });
    const other = gpt({ activation: 'geglu' });
    const t = new Trainer({ model: other, optimizer: new AdamW(other.parameters()), data: ds, batchSize: 4, maxSteps: 4, progress: 'none' });
    expect(() => t.resume(dir)).toThrow(/holds a model of another config: activation "swiglu" there, "geglu" here/);
  });
});

describe('bench distributed: the 8-GPU projection', () => {
  it('ring all-reduce time 2(N-1)/N · bytes / bandwidth against 6·N FLOPs per token at the assumed MFU', () => {
    const size = { name: '124M', layers: 12, dim: 768, heads: 12 };
    const [row] = projectScaling([size], 50304, 1024);
    const N = parameterCount({ vocabSize: 50304, seqLen: 1024, layers: 12, dim: 768, heads: 12, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false });
    const a = SCALING_ASSUMPTIONS;
    expect(row!.parameters).toBe(N);
    expect(row!.nvlinkMs).toBeCloseTo((1000 * (2 * 7) / 8 * 4 * N) / 450e9, 9);
    expect(row!.networkMs).toBeCloseTo((1000 * 1.75 * 4 * N) / 12.5e9, 9);
    const compute = (a.tokensPerGpu * (6 * N + 12 * 12 * 768 * 1024)) / (0.4 * 989e12);
    expect(row!.computeMs).toBeCloseTo(1000 * compute, 9);
    expect(row!.network.serial).toBeCloseTo(row!.computeMs / (row!.computeMs + row!.networkMs), 12);
    // Overlap hides up to the backward's 2/3 of the compute.
    expect(row!.network.overlapped).toBeCloseTo(row!.computeMs / (row!.computeMs + row!.networkMs - (2 / 3) * row!.computeMs), 12);
    expect(row!.nvlink.overlapped).toBe(1);
  });
});

// ---- the command line ----

const MAIN = join(process.cwd(), 'lib/cli/main.ts');

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, ...args], { env: { ...env, XDG_CACHE_HOME: tmp() } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function tinyRun(): string[] {
  const dir = tmp();
  const text = join(dir, 'text.jsonl');
  writeFileSync(text, tinyCorpus().map((d) => `${JSON.stringify({ text: d.text })}\n`).join(''));
  return [text, '--layers', '1', '--dim', '32', '--heads', '2', '--seq-len', '32', '--batch-size', '4', '--steps', '4', '--eval-batches', '1', '--sample-tokens', '0', '--val-fraction', '0.2', '--quiet'];
}

describe('train --nproc', () => {
  it('names the Debian packages when mpirun is missing', async () => {
    // The child runs node by its absolute path; an empty folder as PATH hides mpirun.
    const r = await cli(['train', ...tinyRun(), '--nproc', '2'], { ...process.env, PATH: tmp() });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^train: --nproc needs mpirun \(Open MPI\).*apt-get install openmpi-bin libopenmpi-dev$/);
  });
});

// ---- 2 ranks on loopback ----

const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const haveMpi = mpirun.status === 0;
const requireMpi = process.env.LMF_REQUIRE_MPI === '1';
if (!haveMpi && !requireMpi) console.warn('skipped: mpirun not found (apt-get install openmpi-bin libopenmpi-dev; LMF_REQUIRE_MPI=1 makes this a failure)');
const SCRIPT = join(process.cwd(), 'test/distributed/dp_train.ts');
const TSX = import.meta.resolve('tsx');
// Open MPI refuses root without these; CI runs as root. Oversubscribe: 2 ranks may exceed this machine's cores.
const MPI_ENV = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' };

interface RunOut {
  steps: { loss: number; gradNorm: number; applied: boolean }[];
  hessianUpdates: number | null;
  weights: Record<string, number[]>;
  finalEval: { loss: number };
  distributed: { stateBytesPerRank: number[]; worldSize: number; zero: number } | null;
}

function launch(ranks: number, opts: Record<string, unknown>): Promise<{ code: number | null; stderr: string; out: RunOut | null; checksums: number[]; withState: number[] }> {
  const out = join(tmp(), 'out.json');
  const args = [process.execPath, '--import', TSX, SCRIPT, JSON.stringify({ out, distributed: ranks > 0, ...opts })];
  const [cmd, argv] = ranks > 0 ? ['mpirun', ['-np', String(ranks), '--oversubscribe', '--bind-to', 'none', ...args]] : [args[0]!, args.slice(1)];
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { env: MPI_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (d) => (stderr += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A bound, not a timing: a job that hangs past it fails the test instead of hanging it.
    const kill = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      const read = (p: string): unknown => {
        try {
          return JSON.parse(readFileSync(p, 'utf8'));
        } catch {
          return null;
        }
      };
      const per = Array.from({ length: Math.max(1, ranks) }, (_, r) => read(`${out}.rank${r}`) as { checksum: number; withState: number } | null);
      resolve({ code, stderr, out: read(out) as RunOut | null, checksums: per.map((p) => p?.checksum ?? NaN), withState: per.map((p) => p?.withState ?? NaN) });
    });
  });
}

function maxDiff(a: RunOut, b: RunOut): { loss: number; weight: number } {
  let loss = 0, weight = 0;
  a.steps.forEach((s, i) => (loss = Math.max(loss, Math.abs(s.loss - b.steps[i]!.loss))));
  for (const k of Object.keys(a.weights)) a.weights[k]!.forEach((x, i) => (weight = Math.max(weight, Math.abs(x - b.weights[k]![i]!))));
  return { loss, weight };
}

/*
 * Tolerance. Two ranks compute the same global gradient as one process, but in another order: each rank
 * sums the per-row contributions of its 2 rows to each weight gradient (GEMMs over B·T/2 rows) and the
 * all-reduce adds the two halves, where one process sums all rows in one GEMM. Float32 rounding makes the
 * two gradients differ by a few ulp (relative ~1e-7..1e-6); Adam's update m/√v turns a relative gradient
 * change into at most a similar relative change of the step (lr·1e-6), and 20 steps of lr 3e-3 compound
 * that to ~1e-6..1e-5 on weights of size ~0.1. So: losses within 1e-4 (absolute, on losses ~3–5 nats) and
 * weights within 1e-4 — 100× above what reduction order explains, 30× below one step's update (lr 3e-3),
 * so a missed or doubled gradient, or a wrong shard, fails.
 */
const TOL = 1e-4;

type Launch = Awaited<ReturnType<typeof launch>>;

/** Both launches exited 0, and their losses and final weights agree within TOL. */
function expectSameRun(a: Launch, b: Launch): void {
  expect(a.code, a.stderr).toBe(0);
  expect(b.code, b.stderr).toBe(0);
  const d = maxDiff(a.out!, b.out!);
  expect(d.loss).toBeLessThan(TOL);
  expect(d.weight).toBeLessThan(TOL);
}

describe.skipIf(!haveMpi && !requireMpi)('2 ranks on loopback (mpirun)', () => {
  it('mpirun is present', () => expect(haveMpi, 'LMF_REQUIRE_MPI=1 but mpirun was not found').toBe(true));

  it('20 steps on 2 ranks equal 20 steps of one process on the same global batch; the ranks agree', async () => {
    const [one, two] = await Promise.all([launch(0, { batchSize: 4, steps: 20 }), launch(2, { batchSize: 4, steps: 20, bucketBytes: 16384 })]);
    expectSameRun(one, two);
    // The ranks hold the same weights bit for bit (every rank applies the same averaged gradient).
    expect(two.checksums[0]).toBe(two.checksums[1]);
    expect(two.out!.finalEval.loss).toBeCloseTo(one.out!.finalEval.loss, 4);
  });

  it.each(['adamw', 'adamw8bit', 'lion'])('ZeRO-1 equals plain data parallel (%s); each rank holds about half the state', async (optimizer) => {
    const [plain, zero] = await Promise.all([launch(2, { batchSize: 4, steps: 20, optimizer }), launch(2, { batchSize: 4, steps: 20, optimizer, zero: 1 })]);
    expectSameRun(plain, zero);
    expect(zero.checksums[0]).toBe(zero.checksums[1]);
    const [a, b] = zero.out!.distributed!.stateBytesPerRank as [number, number];
    const whole = plain.out!.distributed!.stateBytesPerRank[0]!;
    expect(a + b).toBe(whole);
    expect(Math.max(a, b)).toBeLessThan(0.75 * whole);
    // State exists only for each rank's own parameters: together, every parameter once.
    const params = Object.keys(plain.out!.weights).length;
    expect(plain.withState).toEqual([params, params]);
    expect(zero.withState[0]! + zero.withState[1]!).toBe(params);
  });

  it('gradient accumulation on 2 ranks equals the big batch in one process', async () => {
    const [big, accum] = await Promise.all([launch(0, { batchSize: 8, steps: 12 }), launch(2, { batchSize: 4, gradAccum: 2, steps: 12 })]);
    expectSameRun(big, accum);
  });

  it('SophiaG on 2 ranks equals one process: the Hessian estimates sample the same labels and square the global gradient', async () => {
    const opts = { batchSize: 4, steps: 10, optimizer: 'sophia', hessianInterval: 2 };
    const [one, two] = await Promise.all([launch(0, opts), launch(2, opts)]);
    expectSameRun(one, two);
    expect(two.out!.hessianUpdates).toBe(5);
    expect(one.out!.hessianUpdates).toBe(5);
    expect(two.checksums[0]).toBe(two.checksums[1]);
  });

  it('dropout on 2 ranks equals one process: each rank applies its rows of the global batch\'s masks', async () => {
    const opts = { batchSize: 4, steps: 10, dropout: 0.1 };
    const [one, two] = await Promise.all([launch(0, opts), launch(2, opts)]);
    expectSameRun(one, two);
    expect(two.checksums[0]).toBe(two.checksums[1]);
  });

  it('a 2-rank ZeRO-1 checkpoint (8-bit state) resumes on 1 rank and continues as the 2-rank run did', async () => {
    const dir = tmp();
    // AdamW8bit: the gathered state holds uint8 codes beside float32 tensors.
    const full = await launch(2, { batchSize: 4, steps: 20, zero: 1, optimizer: 'adamw8bit', checkpointDir: dir, checkpointEvery: 10 });
    expect(full.code, full.stderr).toBe(0);
    const resumed = await launch(0, { batchSize: 4, steps: 20, optimizer: 'adamw8bit', resume: join(dir, 'step-00000010') });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.out!.steps.length).toBe(10);
    const tail = { ...full.out!, steps: full.out!.steps.slice(10) };
    const d = maxDiff(tail, resumed.out!);
    expect(d.loss).toBeLessThan(TOL);
    expect(d.weight).toBeLessThan(TOL);
  });

  it('a rank that hangs makes the other exit non-zero with one clear error within the collective timeout', async () => {
    const r = await launch(2, { batchSize: 4, steps: 20, hangRank: 1, hangAtStep: 5, timeoutMs: 3000 });
    expect(r.code, r.stderr).not.toBe(0);
    // Rank 0 gives up on the collective rank 1 never reaches, and says so.
    // (Under heavy load rank 1's communication thread may not answer the status query in time either.)
    expect(r.stderr).toMatch(/rank 0 waited 3 s for .* and gave up: rank 1 (did not reach it|did not answer)/);
    expect(r.out).toBeNull(); // nothing claimed a finished run
  });

  it('lmforge train --nproc 2: one run folder, rank 0 alone prints, the log records both ranks', async () => {
    const out = join(tmp(), 'run');
    const r = await cli(['train', ...tinyRun(), '--nproc', '2', '--zero', '1', '--out', out], process.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/^validation: /gm)?.length).toBe(1);
    expect(r.stdout).toMatch(/^ranks: 2; optimizer state per rank: /m);
    expect(existsSync(join(out, 'checkpoints', 'step-00000004', 'optimizer.safetensors'))).toBe(true);
    const run = readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.type === 'run')!;
    expect(run.distributed).toMatchObject({ worldSize: 2, zero: 1 });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).train.zero).toBe(1);
  });

  it('a NaN loss on one rank stops both ranks with the same error, not a timeout', async () => {
    const r = await launch(2, { batchSize: 4, steps: 20, nanRank: 1, nanAtStep: 6, timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    // Each rank throws it: the loss they check is the global batch's.
    expect(r.stderr.match(/loss is NaN at step 6 /g)?.length, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(/gave up/);
  });

  it('a rank that is killed makes the job exit non-zero', async () => {
    const r = await launch(2, { batchSize: 4, steps: 20, dieRank: 1, hangAtStep: 5, timeoutMs: 3000 });
    expect(r.code).not.toBe(0);
    expect(r.out).toBeNull();
  });
});
