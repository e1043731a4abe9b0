// One rank of a data-parallel training run, for test/distributed_train.test.ts (run under mpirun, or alone
// as the single-process baseline). Argument: a JSON object of options (see Options). Rank 0 writes the
// run's losses, gradient norms, final weights and evaluation to `out`; every rank writes a checksum of its
// weights to `out`.rank<r>, so that the test can check that the ranks agree.
import { writeFileSync } from 'node:fs';

import { AdamW, AdamW8bit, copyInto, GPT, Lion, noGrad, setNumThreads, SophiaG, tensor, type Optimizer } from '../../lib/index.js';
import { ByteTokenizer, tokenizeDocuments } from '../../lib/data/index.js';
import { initDistributed } from '../../lib/distributed/comm.js';
import { Trainer } from '../../lib/train/index.js';
import { tinyCorpus } from '../tiny_corpus.js';

interface Options {
  out: string;
  /** false: a plain single-process Trainer (the baseline). */
  distributed: boolean;
  zero?: 0 | 1;
  optimizer?: 'adamw' | 'adamw8bit' | 'lion' | 'sophia';
  /** SophiaG's steps between Hessian estimates. */
  hessianInterval?: number;
  /** The model's dropout (its masks' seed is the model seed, shared by the ranks as the CLI's are). */
  dropout?: number;
  batchSize: number;
  gradAccum?: number;
  steps: number;
  bucketBytes?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume?: string;
  /** This rank stops forever (as a hung process) before this step. */
  hangRank?: number;
  /** This rank kills itself (SIGKILL) before this step. */
  dieRank?: number;
  hangAtStep?: number;
  /** This rank's weights turn NaN before this step (its loss is NaN, the other rank's is not). */
  nanRank?: number;
  nanAtStep?: number;
  timeoutMs?: number;
  threads?: number;
  clip?: number;
}

const o = JSON.parse(process.argv[2]!) as Options;
setNumThreads(o.threads ?? 1);

const ds = await tokenizeDocuments(tinyCorpus(), new ByteTokenizer(), { valFraction: 0.1, seed: 1 });
const comm = o.distributed ? initDistributed(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) : null;
// Each rank its own initial weights: the Trainer must broadcast rank 0's. With dropout the ranks share the
// seed, as the CLI's do: it seeds the masks too.
const model = new GPT({ vocabSize: 257, seqLen: 32, layers: 2, dim: 32, heads: 2, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: o.dropout ? 3 : 3 + (comm?.rank ?? 0), dropout: o.dropout ?? 0 });
const params = model.parameters();
const optimizer: Optimizer =
  o.optimizer === 'lion' ? (new Lion(params, { lr: 1e-3, weightDecay: 0.1 }) as unknown as Optimizer)
  : o.optimizer === 'sophia' ? (new SophiaG(params, { lr: 1e-3, rho: 0.04, hessianInterval: o.hessianInterval ?? 10 }) as unknown as Optimizer)
  : o.optimizer === 'adamw8bit' ? (new AdamW8bit(params, { lr: 3e-3, weightDecay: 0.01, minSize8bit: 1024 }) as unknown as Optimizer)
  : (new AdamW(params, { lr: 3e-3, weightDecay: 0.01 }) as unknown as Optimizer);
const steps: { loss: number; gradNorm: number; applied: boolean }[] = [];
const trainer = new Trainer({
  model, optimizer, data: ds, batchSize: o.batchSize, gradAccum: o.gradAccum ?? 1, maxSteps: o.steps, seed: 5, progress: 'none', evalBatches: 2,
  clip: o.clip ?? 1, ...(comm ? { distributed: comm, zero: o.zero ?? 0 } : {}), ...(o.bucketBytes ? { bucketBytes: o.bucketBytes } : {}),
  ...(o.checkpointDir ? { checkpointDir: o.checkpointDir, checkpointEvery: o.checkpointEvery ?? 0 } : {}),
  onStep: (m) => {
    steps.push({ loss: m.loss, gradNorm: m.gradNorm, applied: m.applied });
    if (comm && m.step + 1 === o.hangAtStep) {
      if (comm.rank === o.dieRank) process.kill(process.pid, 'SIGKILL');
      if (comm.rank === o.hangRank) for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    }
    if (comm && comm.rank === o.nanRank && m.step + 1 === o.nanAtStep) noGrad(() => copyInto(model.parameters()[1]!, tensor([NaN])));
  },
});
if (o.resume) trainer.resume(o.resume);
const r = trainer.fit();
const rank = comm?.rank ?? 0;
const weights = Object.fromEntries(model.namedParameters().map(([n, p]) => [n, Array.from(p.dataSync() as Float32Array)]));
let sum = 0;
for (const w of Object.values(weights)) for (const x of w) sum += x * Math.abs(x);
// How many parameters this rank's optimizer holds state for (ZeRO: only its own must have any).
const withState = (optimizer as unknown as { state: Map<unknown, unknown> }).state.size;
writeFileSync(`${o.out}.rank${rank}`, JSON.stringify({ checksum: sum, withState, distributed: r.distributed ?? null, finalEval: r.finalEval }));
if (rank === 0) writeFileSync(o.out, JSON.stringify({ steps, weights, finalEval: r.finalEval, distributed: r.distributed ?? null, comm: trainer.communicationStats, hessianUpdates: optimizer instanceof SophiaG ? optimizer.hessianUpdates : null }));
comm?.finalize();
