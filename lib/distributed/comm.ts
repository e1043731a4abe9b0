/**
 * Collectives between the processes of a job, for data-parallel training: one small interface (all-reduce,
 * reduce-scatter, all-gather, broadcast, barrier) over three engines (native/runtime/collective*):
 * 'identity' (one process; nothing to install), 'mpi' (Open MPI, loaded at run time; CPU tensors) and
 * 'nccl' (NCCL between GPUs, in CUDA builds; CUDA tensors). Launch with `mpirun -np N node script.js`.
 *
 * Every wait is bounded by `timeoutMs`: a rank that does not come (hung or dead) makes the others throw a
 * NativeError naming the collective, its number and what each peer reports. The communicator is unusable
 * after that, and the process should exit (non-zero): mpirun then ends the job. The library never exits.
 */
import { ArgumentTypeError, describe, ValueError } from '../errors.js';
import { native } from '../native.js';
import { checkOptions } from '../ops/util.js';
import { Tensor } from '../tensor.js';

export type CollectiveBackend = 'identity' | 'mpi' | 'nccl';
export type ReduceOp = 'sum' | 'avg' | 'max';
/** A collective in flight: wait() blocks until it finished (throwing its error); test() polls. */
export interface PendingCollective {
  wait(): void;
  test(): boolean;
}
export interface Communicator {
  readonly backend: CollectiveBackend;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localSize: number;
  /** Reduces t over all ranks, in place. Contiguous float32, float64 or int32 ('avg': floats only). */
  allReduce(t: Tensor, op?: ReduceOp): void;
  /** Starts an all-reduce and returns at once; t must not be read or written until wait() returned. */
  allReduceAsync(t: Tensor, op?: ReduceOp): PendingCollective;
  /** input.size = worldSize * output.size; rank r receives the reduction of block r of every rank's input. */
  reduceScatter(input: Tensor, output: Tensor, op?: ReduceOp): void;
  /** output.size = worldSize * input.size; block r of output is rank r's input. */
  allGather(input: Tensor, output: Tensor): void;
  /** Overwrites t on every rank with root's t. */
  broadcast(t: Tensor, root?: number): void;
  barrier(): void;
  /** Waits for collectives in flight, then leaves the job (MPI_Finalize; skipped after a timeout). */
  finalize(): void;
}

/** Rank and sizes from the launcher's environment (Open MPI's OMPI_COMM_WORLD_*, or PMI_*), or null. */
export function distributedEnv(): { rank: number; worldSize: number; localRank: number; localSize: number } | null {
  const env = process.env;
  const int = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const rank = int(env.OMPI_COMM_WORLD_RANK) ?? int(env.PMI_RANK);
  const worldSize = int(env.OMPI_COMM_WORLD_SIZE) ?? int(env.PMI_SIZE);
  if (rank === undefined || worldSize === undefined) return null;
  const localRank = int(env.OMPI_COMM_WORLD_LOCAL_RANK) ?? int(env.MPI_LOCALRANKID) ?? rank;
  const localSize = int(env.OMPI_COMM_WORLD_LOCAL_SIZE) ?? int(env.MPI_LOCALNRANKS) ?? worldSize;
  return { rank, worldSize, localRank, localSize };
}

const DEFAULT_TIMEOUT_MS = 300_000;

function tensorArg(op: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new ArgumentTypeError(op, `${name} must be a Tensor, got ${describe(t)}`);
  return t;
}

function reduceArg(op: string, r: unknown): ReduceOp {
  if (r !== 'sum' && r !== 'avg' && r !== 'max') throw new ValueError(op, `op must be 'sum', 'avg' or 'max', got ${describe(r)}`);
  return r;
}

class Pending implements PendingCollective {
  #ticket: number;
  #done: boolean;
  constructor(ticket: number) {
    this.#ticket = ticket;
    this.#done = ticket === 0;
  }
  wait(): void {
    if (this.#done) return;
    this.#done = true; // the ticket is spent whether the wait succeeds or throws
    native.commWait(this.#ticket);
  }
  test(): boolean {
    if (!this.#done) {
      try {
        this.#done = native.commTest(this.#ticket);
      } catch (e) {
        this.#done = true;
        throw e;
      }
    }
    return this.#done;
  }
}

let joined = false;
let exitHook = false;

class NativeCommunicator implements Communicator {
  readonly backend: CollectiveBackend;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localSize: number;
  constructor(info: { backend: string; rank: number; worldSize: number; localRank: number; localSize: number }) {
    this.backend = info.backend as CollectiveBackend;
    this.rank = info.rank;
    this.worldSize = info.worldSize;
    this.localRank = info.localRank;
    this.localSize = info.localSize;
  }
  allReduce(t: Tensor, op: ReduceOp = 'sum'): void {
    native.commAllReduce(tensorArg('allReduce', 'tensor', t).handle, reduceArg('allReduce', op), false);
  }
  allReduceAsync(t: Tensor, op: ReduceOp = 'sum'): PendingCollective {
    return new Pending(native.commAllReduce(tensorArg('allReduceAsync', 'tensor', t).handle, reduceArg('allReduceAsync', op), true));
  }
  reduceScatter(input: Tensor, output: Tensor, op: ReduceOp = 'sum'): void {
    native.commReduceScatter(tensorArg('reduceScatter', 'input', input).handle, tensorArg('reduceScatter', 'output', output).handle, reduceArg('reduceScatter', op));
  }
  allGather(input: Tensor, output: Tensor): void {
    native.commAllGather(tensorArg('allGather', 'input', input).handle, tensorArg('allGather', 'output', output).handle);
  }
  broadcast(t: Tensor, root = 0): void {
    if (typeof root !== 'number' || !Number.isInteger(root)) throw new ArgumentTypeError('broadcast', `root must be an integer, got ${describe(root)}`);
    native.commBroadcast(tensorArg('broadcast', 'tensor', t).handle, root);
  }
  barrier(): void {
    native.commBarrier();
  }
  finalize(): void {
    joined = false;
    native.commFinalize();
  }
}

function timeoutFromEnv(): number {
  const v = process.env.LMF_COLLECTIVE_TIMEOUT_MS;
  if (v === undefined || v === '') return DEFAULT_TIMEOUT_MS;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ValueError('initDistributed', `LMF_COLLECTIVE_TIMEOUT_MS must be a positive integer, got '${v}'`);
  return n;
}

/**
 * Joins the job. backend 'auto' (the default) is 'mpi' when the process was started by mpirun and
 * 'identity' otherwise. timeoutMs (default: LMF_COLLECTIVE_TIMEOUT_MS, else 300 s) bounds every wait for a
 * collective. A second call returns a communicator over the same job (with the new timeout). A process that
 * exits normally finalizes a communicator it did not finalize; after an error it exits without, so that a
 * missing peer cannot hold it.
 */
export function initDistributed(opts?: { backend?: 'auto' | CollectiveBackend; timeoutMs?: number }): Communicator {
  checkOptions('initDistributed', opts, ['backend', 'timeoutMs']);
  const backend = opts?.backend ?? 'auto';
  if (!['auto', 'identity', 'mpi', 'nccl'].includes(backend as string))
    throw new ValueError('initDistributed', `backend must be 'auto', 'identity', 'mpi' or 'nccl', got ${describe(backend)}`);
  const timeoutMs = opts?.timeoutMs ?? timeoutFromEnv();
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new ValueError('initDistributed', `timeoutMs must be a positive integer, got ${describe(timeoutMs)}`);
  const resolved = backend === 'auto' ? (distributedEnv() === null ? 'identity' : 'mpi') : backend;
  const comm = new NativeCommunicator(native.commInit(resolved, timeoutMs));
  joined = true;
  if (!exitHook && comm.backend !== 'identity') {
    exitHook = true;
    // MPI reports a rank that exits without MPI_Finalize as a failure of the job.
    process.once('exit', (code) => {
      if (joined && code === 0) native.commFinalize();
    });
  }
  return comm;
}
