/**
 * ZeRO stage 1 (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
 * Models", 2020): the optimizer state is split across the ranks. Each parameter (a whole tensor) has one
 * owner rank, chosen greedily by size so that the ranks own about as many elements each; only the owner
 * keeps its optimizer state and steps it. A step:
 *   1. the gradients go into one flat buffer laid out by owner, each rank's segment padded to one length;
 *      a reduce-scatter leaves each rank the average of its own segment;
 *   2. the total gradient norm is the square root of the all-reduced sum of the segments' squared norms:
 *      clipping and the NaN/Inf check use it, so that every rank takes the same decision;
 *   3. each rank steps its own parameters, writes them into its segment, and an all-gather of the segments
 *      gives every rank every parameter.
 * The wrapped optimizer is the user's; it is made to step (and save and load) only this rank's parameters
 * by narrowing its groups for the duration of the call, so its state is only ever created for them.
 */
import { ValueError } from '../errors.js';
import { noGrad } from '../autograd/grad_mode.js';
import { keep, tidy } from '../memory.js';
import { zeros } from '../ops/creation.js';
import { copyInto } from '../ops/views.js';
import { gradNorm } from '../optim/clip.js';
import { Optimizer, type OptimizerStateDict, type SavedTensor } from '../optim/optimizer.js';
import type { Tensor } from '../tensor.js';
import type { Communicator } from './comm.js';
import { allReduceNumbers, broadcastBytes } from './data_parallel.js';

/**
 * Owner rank of each parameter: largest first, each to the rank that owns the fewest elements so far
 * (the lowest rank on a tie), so the split is the same on every rank.
 */
export function partitionParameters(sizes: readonly number[], worldSize: number): number[] {
  const load = new Array<number>(worldSize).fill(0);
  const owner = new Array<number>(sizes.length).fill(0);
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
  for (const i of order) {
    let r = 0;
    for (let k = 1; k < worldSize; k++) if (load[k]! < load[r]!) r = k;
    owner[i] = r;
    load[r] += sizes[i]!;
  }
  return owner;
}

interface Place {
  param: Tensor;
  owner: number;
  /** Its span of the flat buffer, shaped like it (a kept view). */
  view: Tensor;
  /** For this rank's own parameters, the same span of this rank's segment. */
  local: Tensor | null;
}

/** Runs fn while the optimizer's groups hold only the parameters in `keepSet` (in their order). */
function narrowed<T>(opt: Optimizer, keepSet: ReadonlySet<Tensor>, fn: () => T): T {
  const saved = opt.paramGroups.map((g) => [g.params, g.names] as const);
  try {
    for (const g of opt.paramGroups) {
      const idx = g.params.map((p, i) => (keepSet.has(p) ? i : -1)).filter((i) => i >= 0);
      g.params = idx.map((i) => g.params[i]!);
      g.names = idx.map((i) => g.names[i]!);
    }
    return fn();
  } finally {
    opt.paramGroups.forEach((g, i) => ([g.params, g.names] = saved[i]!));
  }
}

export class ZeroStage1 {
  readonly #comm: Communicator;
  readonly optimizer: Optimizer;
  readonly #places: Place[] = [];
  readonly #owned: Set<Tensor>;
  /** Elements of each rank's segment (the largest rank's share). */
  readonly segment: number;
  readonly #flat: Tensor<'float32'>;
  readonly #mine: Tensor<'float32'>;
  readonly #zero: Tensor<'float32'>;

  constructor(comm: Communicator, optimizer: Optimizer) {
    this.#comm = comm;
    this.optimizer = optimizer;
    if (optimizer.afterStep !== Optimizer.prototype.afterStep)
      throw new ValueError('ZeroStage1', `${optimizer.name} does work between steps (afterStep) over all its parameters, which a sharded optimizer cannot do: use AdamW, AdamW8bit, Lion, Adam or SGD`);
    const params = optimizer.params;
    const owners = partitionParameters(params.map((p) => p.size), comm.worldSize);
    const load = new Array<number>(comm.worldSize).fill(0);
    const offsets = params.map((p, i) => {
      const o = load[owners[i]!]!;
      load[owners[i]!] += p.size;
      return o;
    });
    this.segment = Math.max(1, ...load);
    const device = params[0]?.device ?? 'cpu';
    this.#flat = keep(zeros([comm.worldSize * this.segment], { device }));
    this.#mine = keep(zeros([this.segment], { device }));
    this.#zero = keep(zeros([1], { device }));
    params.forEach((p, i) => {
      const owner = owners[i]!, off = offsets[i]!, start = owner * this.segment + off;
      const local = owner === comm.rank ? (keep(this.#mine.slice(0, off, off + p.size).reshape(p.shape as number[])) as Tensor) : null;
      this.#places.push({ param: p, owner, view: keep(this.#flat.slice(0, start, start + p.size).reshape(p.shape as number[])) as Tensor, local });
    });
    this.#owned = new Set(this.#places.filter((pl) => pl.owner === comm.rank).map((pl) => pl.param));
  }

  /** The parameters this rank owns. */
  get owned(): ReadonlySet<Tensor> {
    return this.#owned;
  }

  /**
   * Averages the gradients over the ranks (a reduce-scatter: each rank gets its own parameters'), drops
   * the others' gradients, and returns the total gradient norm, clipped to `clip` when clip > 0 (NaN or
   * Infinity, and nothing clipped, when a gradient holds NaN or Inf on any rank).
   */
  reduceGradients(clip: number): number {
    const comm = this.#comm;
    noGrad(() => {
      for (const pl of this.#places) copyInto(pl.view, pl.param.grad ?? this.#zero);
      comm.reduceScatter(this.#flat, this.#mine, 'avg');
      for (const pl of this.#places) {
        if (!pl.local) pl.param.zeroGrad();
        else if (pl.param.grad) copyInto(pl.param.grad, pl.local);
      }
    });
    const owned = [...this.#owned].filter((p) => p.grad);
    const local = owned.length ? gradNorm(owned) : 0;
    const norm = Math.sqrt(allReduceNumbers(this.#comm, [local * local])[0]!);
    if (clip > 0 && Number.isFinite(norm) && norm > clip) {
      // PyTorch's coefficient, as clipGradNorm applies it.
      const coef = clip / (norm + 1e-6);
      noGrad(() => tidy(() => owned.forEach((p) => copyInto(p.grad!, p.grad!.mul(coef)))));
    }
    return norm;
  }

  /**
   * Steps this rank's parameters (skipped on every rank when `norm`, from reduceGradients, is not finite)
   * and gathers every rank's parameters. Returns whether the step was applied.
   */
  step(norm: number): boolean {
    const comm = this.#comm;
    let applied = false;
    if (Number.isFinite(norm)) applied = narrowed(this.optimizer, this.#owned, () => this.optimizer.step());
    else this.optimizer.skippedSteps += 1;
    noGrad(() => {
      for (const pl of this.#places) if (pl.local) copyInto(pl.local, pl.param);
      comm.allGather(this.#mine, this.#flat);
      for (const pl of this.#places) if (!pl.local) copyInto(pl.param, pl.view);
    });
    return applied;
  }

  /** Bytes of optimizer state on this rank. */
  stateBytes(): number {
    let n = 0;
    for (const p of this.#owned) n += this.optimizer.stateBytes(p);
    return n;
  }

  /**
   * The whole optimizer's state dict, gathered from every rank (collective: every rank calls it), on rank
   * 0; null on the others. It is the state dict one unsharded optimizer would have, so a checkpoint
   * resumes on any number of ranks.
   */
  stateDict(): OptimizerStateDict | null {
    const comm = this.#comm;
    const mine = narrowed(this.optimizer, this.#owned, () => this.optimizer.stateDict());
    const full = comm.rank === 0 ? { ...mine, state: this.optimizer.paramGroups.map((g) => g.params.map(() => null as unknown as OptimizerStateDict['state'][0][0])) } : null;
    for (let r = 0; r < comm.worldSize; r++) {
      const bytes = broadcastBytes(comm, comm.rank === r ? packState(this.#ownedIndices(), mine) : null, r);
      if (full) for (const e of unpackState(bytes)) full.state[e.group]![e.index] = e.entry;
    }
    return full;
  }

  /** Loads this rank's part of a whole optimizer's state dict (as stateDict() returns, or a checkpoint holds). */
  loadStateDict(sd: OptimizerStateDict): void {
    const idx = this.#ownedIndices();
    const part = { ...sd, state: sd.state.map((g, gi) => (idx[gi] ?? []).map((i) => g[i]!)) };
    if (sd.state.length !== this.optimizer.paramGroups.length)
      throw new ValueError('ZeroStage1.loadStateDict', `the state has ${sd.state.length} parameter groups, this optimizer has ${this.optimizer.paramGroups.length}`);
    narrowed(this.optimizer, this.#owned, () => this.optimizer.loadStateDict(part));
  }

  // Per group, the indices (in the whole group) of this rank's parameters.
  #ownedIndices(): number[][] {
    return this.optimizer.paramGroups.map((g) => g.params.map((p, i) => (this.#owned.has(p) ? i : -1)).filter((i) => i >= 0));
  }

  dispose(): void {
    for (const pl of this.#places) {
      pl.view.dispose();
      pl.local?.dispose();
    }
    this.#flat.dispose();
    this.#mine.dispose();
    this.#zero.dispose();
  }
}

type StateEntry = OptimizerStateDict['state'][0][0];

// A rank's part of a state dict as bytes: a JSON header (group, index, shape, tensor names, dtypes,
// shapes, byte lengths) and the tensors' bytes, each padded to 4.
function packState(indices: number[][], sd: OptimizerStateDict): Uint8Array {
  const head: { group: number; index: number; shape: number[]; tensors: { name: string; dtype: string; shape: number[]; bytes: number }[] }[] = [];
  const parts: Uint8Array[] = [];
  sd.state.forEach((g, gi) =>
    g.forEach((e, k) => {
      head.push({
        group: gi, index: indices[gi]![k]!, shape: e.shape,
        tensors: Object.entries(e.tensors).map(([name, t]) => {
          parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
          return { name, dtype: t.dtype, shape: t.shape, bytes: t.data.byteLength };
        }),
      });
    }),
  );
  const json = new TextEncoder().encode(JSON.stringify(head));
  const pad = (n: number) => (n + 3) & ~3;
  const out = new Uint8Array(4 + pad(json.length) + parts.reduce((s, p) => s + pad(p.length), 0));
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  let off = 4 + pad(json.length);
  for (const p of parts) {
    out.set(p, off);
    off += pad(p.length);
  }
  return out;
}

function unpackState(bytes: Uint8Array): { group: number; index: number; entry: StateEntry }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const pad = (k: number) => (k + 3) & ~3;
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as { group: number; index: number; shape: number[]; tensors: { name: string; dtype: string; shape: number[]; bytes: number }[] }[];
  let off = 4 + pad(n);
  return head.map((h) => {
    const tensors: Record<string, SavedTensor> = {};
    for (const t of h.tensors) {
      const copy = bytes.slice(off, off + t.bytes);
      off += pad(t.bytes);
      tensors[t.name] = { dtype: t.dtype as SavedTensor['dtype'], shape: t.shape, data: t.dtype === 'uint8' ? copy : new Float32Array(copy.buffer) };
    }
    return { group: h.group, index: h.index, entry: { shape: h.shape, tensors } };
  });
}
