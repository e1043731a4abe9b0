/**
 * Data parallelism over a Communicator (comm.ts): every rank holds the whole model, computes the gradient
 * of its own rows of the global batch, and the ranks average their gradients before the optimizer step,
 * so that every rank applies the same update and the weights stay equal.
 *
 * GradientBuckets averages the gradients the way PyTorch's DDP does: parameters are laid out in reverse
 * of the model's order (the backward produces the last layers' gradients first) in flat float32 buckets of
 * about bucketBytes; as soon as every gradient of a bucket is final (autograd's onGradReady hook), the
 * bucket is copied in and its all-reduce starts, while the backward goes on with earlier layers. Buckets
 * start in index order on every rank, since MPI and NCCL match collectives by the order they are called.
 */
import { ValueError } from '../errors.js';
import { onGradReady } from '../autograd/backward.js';
import { noGrad } from '../autograd/grad_mode.js';
import { keep } from '../memory.js';
import { tensor, zeros } from '../ops/creation.js';
import { copyInto } from '../ops/views.js';
import { checkInt } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import type { Communicator, PendingCollective } from './comm.js';

/** DDP's default bucket size (25 MiB). */
export const DEFAULT_BUCKET_BYTES = 25 * 2 ** 20;

/** The rows of a global batch of `rows` × T tokens that `rank` trains on: an equal, contiguous share. */
export function shardRows(data: Int32Array, rows: number, T: number, rank: number, worldSize: number): Int32Array {
  const per = rows / worldSize;
  if (!Number.isInteger(per)) throw new ValueError('shardRows', `the global batch of ${rows} rows does not divide among ${worldSize} ranks`);
  return data.subarray(rank * per * T, (rank + 1) * per * T);
}

// Runs a collective on t in place. The collectives take contiguous float32, float64 and int32 buffers:
// other dtypes and strided views travel as contiguous float32 copies.
function inPlaceFloat32(t: Tensor, collective: (c: Tensor) => void): void {
  noGrad(() => {
    if (t.dtype === 'float32' && t.isContiguous()) collective(t);
    else {
      const c = t.astype('float32').contiguous();
      try {
        collective(c);
        copyInto(t, c);
      } finally {
        c.dispose();
      }
    }
  });
}

/** Copies rank `root`'s values of `params` into every rank's (in place). */
export function broadcastParameters(comm: Communicator, params: readonly Tensor[], root = 0): void {
  if (comm.worldSize === 1) return;
  for (const p of params) inPlaceFloat32(p, (c) => comm.broadcast(c, root));
}

/** Averages each tensor over the ranks, in place (every rank calls it with the same list of shapes). */
export function averageTensors(comm: Communicator, tensors: readonly Tensor[]): void {
  if (comm.worldSize === 1) return;
  for (const t of tensors) inPlaceFloat32(t, (c) => comm.allReduce(c, 'avg'));
}

/** Sums numbers over the ranks in float64 (every rank gets the sums). */
export function allReduceNumbers(comm: Communicator, values: ArrayLike<number>): Float64Array {
  const t = tensor(Float64Array.from(values), [values.length], 'float64');
  try {
    comm.allReduce(t, 'sum');
    return t.dataSync() as Float64Array;
  } finally {
    t.dispose();
  }
}

/** Sends `bytes` from rank `root` to every rank (whose argument is ignored). */
export function broadcastBytes(comm: Communicator, bytes: Uint8Array | null, root: number): Uint8Array {
  const len = tensor(Int32Array.of(comm.rank === root ? bytes!.length : 0), [1]);
  let n: number;
  try {
    comm.broadcast(len, root);
    n = len.dataSync()[0]!;
  } finally {
    len.dispose();
  }
  // As int32 words: the collectives move no uint8 buffers.
  const words = new Int32Array(Math.ceil(n / 4));
  if (comm.rank === root) new Uint8Array(words.buffer).set(bytes!);
  if (words.length === 0) return new Uint8Array(0);
  const t = tensor(words, [words.length]);
  try {
    comm.broadcast(t, root);
    return new Uint8Array((t.dataSync() as Int32Array).buffer, 0, n);
  } finally {
    t.dispose();
  }
}

interface Slot {
  param: Tensor;
  bucket: number;
  /** The parameter's span of its bucket, shaped like it (a kept view). */
  view: Tensor;
  ready: boolean;
}

interface Bucket {
  buffer: Tensor<'float32'>;
  slots: Slot[];
  remaining: number;
  pending: PendingCollective | null;
}

export interface BucketStats {
  buckets: number;
  /** Bytes all-reduced per optimizer step. */
  bytesPerStep: number;
  /** Steps reduced so far. */
  steps: number;
  /** Buckets whose all-reduce started during the backward (the rest started after it). */
  launchedInBackward: number;
  /**
   * Milliseconds spent after the backward waiting for all-reduces, in all, and in the last step. This holds
   * the communication the backward did not hide, plus any time the other ranks' backward took longer.
   */
  waitMs: number;
  lastWaitMs: number;
}

/**
 * Averages the gradients of `params` (given in the model's order) over the ranks in buckets of at most
 * `bucketBytes` (a larger tensor gets a bucket of its own), overlapping the backward pass.
 *
 * Per step: `arm()` before the last micro-batch's backward (earlier micro-batches only accumulate locally),
 * calling the function it returns when that backward is done; then `finish()`, which starts what the
 * backward did not, waits for every bucket and writes the averages into the gradients. A parameter
 * without a gradient contributes zeros and keeps no gradient.
 */
export class GradientBuckets {
  readonly #comm: Communicator;
  readonly #buckets: Bucket[] = [];
  readonly #slots = new Map<Tensor, Slot>();
  readonly #zero: Tensor<'float32'>;
  #next = 0;
  readonly stats: BucketStats;

  constructor(comm: Communicator, params: readonly Tensor[], bucketBytes = DEFAULT_BUCKET_BYTES) {
    checkInt('GradientBuckets', 'bucketBytes', bucketBytes, 4);
    this.#comm = comm;
    const groups: Tensor[][] = [];
    let cur: Tensor[] = [];
    let bytes = 0;
    for (const p of [...params].reverse()) {
      if (cur.length > 0 && bytes + 4 * p.size > bucketBytes) {
        groups.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(p);
      bytes += 4 * p.size;
    }
    if (cur.length > 0) groups.push(cur);
    let total = 0;
    for (const ps of groups) {
      const n = ps.reduce((s, p) => s + p.size, 0);
      // On the parameters' device: NCCL reduces GPU buffers in place.
      const bucket: Bucket = { buffer: keep(zeros([n], { device: ps[0]!.device })), slots: [], remaining: ps.length, pending: null };
      let off = 0;
      for (const p of ps) {
        const slot: Slot = { param: p, bucket: this.#buckets.length, view: keep(bucket.buffer.slice(0, off, off + p.size).reshape(p.shape as number[])) as Tensor, ready: false };
        bucket.slots.push(slot);
        this.#slots.set(p, slot);
        off += p.size;
      }
      total += n;
      this.#buckets.push(bucket);
    }
    this.#zero = keep(zeros([1], { device: params[0]?.device ?? 'cpu' }));
    this.stats = { buckets: this.#buckets.length, bytesPerStep: 4 * total, steps: 0, launchedInBackward: 0, waitMs: 0, lastWaitMs: 0 };
  }

  /** Starts communicating buckets as the backward finishes their gradients; call the result when the backward returns. */
  arm(): () => void {
    return onGradReady((leaf) => {
      const slot = this.#slots.get(leaf);
      if (!slot || slot.ready) return;
      this.#fill(slot);
      this.#launch(true);
      // MPI progresses a non-blocking collective only inside MPI calls: a test() now and then moves it on.
      for (let b = 0; b < this.#next; b++) this.#buckets[b]!.pending?.test();
    });
  }

  #fill(slot: Slot): void {
    const g = slot.param.grad;
    noGrad(() => copyInto(slot.view, g ?? this.#zero));
    slot.ready = true;
    this.#buckets[slot.bucket]!.remaining -= 1;
  }

  // Starts the ready buckets that come next in order.
  #launch(inBackward: boolean): void {
    while (this.#next < this.#buckets.length && this.#buckets[this.#next]!.remaining === 0) {
      const b = this.#buckets[this.#next++]!;
      b.pending = this.#comm.allReduceAsync(b.buffer, 'avg');
      if (inBackward) this.stats.launchedInBackward += 1;
    }
  }

  /** Reduces what the backward left, waits for every bucket, and writes the averaged gradients. */
  finish(): void {
    const t0 = performance.now();
    for (const slot of this.#slots.values()) if (!slot.ready) this.#fill(slot);
    this.#launch(false);
    for (const b of this.#buckets) {
      b.pending!.wait();
      b.pending = null;
    }
    this.stats.lastWaitMs = performance.now() - t0;
    this.stats.waitMs += this.stats.lastWaitMs;
    this.stats.steps += 1;
    noGrad(() => {
      for (const slot of this.#slots.values()) {
        if (slot.param.grad) copyInto(slot.param.grad, slot.view);
        slot.ready = false;
      }
    });
    for (const b of this.#buckets) b.remaining = b.slots.length;
    this.#next = 0;
  }

  dispose(): void {
    for (const s of this.#slots.values()) s.view.dispose();
    for (const b of this.#buckets) b.buffer.dispose();
    this.#zero.dispose();
  }
}
