// Run by test/distributed_comm.test.ts under `mpirun -np N node --import tsx test/distributed/collectives.ts
// <scenario>` (not a test file itself). Each rank prints one JSON line: {"rank", "failures": [...], ...}.
//   all:  every collective against float64 expectations, async overlap, rank/size from the environment,
//         bad inputs refused on every rank (and the ranks still in step afterwards).
//   hang: rank 1 sleeps; rank 0's all-reduce must throw within the 2 s timeout, later calls throw at once,
//         finalize returns, and rank 0 exits 3.
//   die:  rank 1 exits at once without finalizing; rank 0 waits in an all-reduce.
import {
  ArgumentTypeError, DisposedError, DTypeError, LmforgeError, matmul, NativeError, randn, ShapeError, tensor, ValueError, zeros,
} from '../../lib/index.js';
import { distributedEnv, initDistributed, type Communicator, type ReduceOp } from '../../lib/distributed/comm.js';
import type { Tensor } from '../../lib/tensor.js';

const scenario = process.argv[2] ?? 'all';
const failures: string[] = [];
const fail = (what: string): void => void failures.push(what);

// Rank r's value at index i: distinct per rank and index, never zero, not a multiple of anything.
const value = (r: number, i: number): number => Math.sin(0.37 * i + 1.3 * r + 0.1) * (1 + r);
const intValue = (r: number, i: number): number => ((i * 7919 + r * 104729) % 2001) - 1000;

type Dt = 'float32' | 'float64' | 'int32';
function filled(dtype: Dt, r: number, n: number, shift = 0): Tensor {
  const f = dtype === 'int32' ? intValue : value;
  const data = dtype === 'int32' ? new Int32Array(n) : dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = f(r, i + shift);
  return tensor(data, [n], dtype);
}

function reduceOver(dtype: Dt, world: number, i: number, op: ReduceOp): { want: number; scale: number } {
  const f = dtype === 'int32' ? intValue : value;
  let acc = op === 'max' ? -Infinity : 0, scale = 0;
  for (let q = 0; q < world; q++) {
    const v = dtype === 'float32' ? Math.fround(f(q, i)) : f(q, i);
    acc = op === 'max' ? Math.max(acc, v) : acc + v;
    scale += Math.abs(v);
  }
  return { want: op === 'avg' ? acc / world : acc, scale };
}

// float32 sums may differ from the float64 sum by the rounding of each partial sum.
function compare(what: string, got: ArrayLike<number>, want: (i: number) => { want: number; scale: number }, dtype: Dt): void {
  const eps = dtype === 'float32' ? 4e-7 : dtype === 'float64' ? 1e-15 : 0;
  for (let i = 0; i < got.length; i++) {
    const w = want(i);
    if (!(Math.abs(got[i]! - w.want) <= eps * Math.max(1, w.scale) * 4)) {
      fail(`${what}: element ${i} is ${got[i]}, expected ${w.want}`);
      return;
    }
  }
}

function expectThrow(what: string, cls: new (...a: never[]) => LmforgeError, re: RegExp, f: () => void): void {
  try {
    f();
    fail(`${what}: did not throw`);
  } catch (e) {
    if (!(e instanceof cls)) fail(`${what}: threw ${(e as Error).constructor.name} (${(e as Error).message}), expected ${cls.name}`);
    else if (!re.test((e as Error).message)) fail(`${what}: message '${(e as Error).message}' does not match ${re}`);
  }
}

function checkAll(comm: Communicator): Record<string, unknown> {
  const { rank, worldSize: world } = comm;
  const env = distributedEnv();
  if (env === null || env.rank !== rank || env.worldSize !== world || env.localRank !== comm.localRank || env.localSize !== comm.localSize)
    fail(`distributedEnv() ${JSON.stringify(env)} differs from the communicator's ${JSON.stringify({ rank, world, local: comm.localRank, localSize: comm.localSize })}`);
  if (comm.backend !== 'mpi') fail(`backend is ${comm.backend}, expected mpi`);

  for (const n of [1, 7, 1000003]) {
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      for (const op of (dtype === 'int32' ? ['sum', 'max'] : ['sum', 'avg', 'max']) as ReduceOp[]) {
        if (n === 1000003 && dtype !== 'float32' && op !== 'sum') continue; // the big size once per dtype and op kind
        const t = filled(dtype, rank, n);
        comm.allReduce(t, op);
        compare(`allReduce ${dtype} ${op} n=${n}`, t.dataSync() as ArrayLike<number>, (i) => reduceOver(dtype, world, i, op), dtype);
        t.dispose();
      }
    }
    // reduceScatter: rank r gets the reduction of block r of every rank's input.
    for (const op of ['sum', 'avg', 'max'] as ReduceOp[]) {
      const input = filled('float32', rank, world * n), output = zeros([n]);
      comm.reduceScatter(input, output, op);
      compare(`reduceScatter ${op} n=${n}`, output.dataSync(), (i) => reduceOver('float32', world, rank * n + i, op), 'float32');
      input.dispose(), output.dispose();
    }
    // allGather: block q of the output is rank q's input (offset so that blocks differ).
    const input = filled('float64', rank, n), output = zeros([world * n], { dtype: 'float64' });
    comm.allGather(input, output);
    compare(`allGather n=${n}`, output.dataSync(), (j) => ({ want: value(Math.floor(j / n), j % n), scale: 1 }), 'float64');
    input.dispose(), output.dispose();
    // broadcast from the last rank.
    const root = world - 1, b = filled('int32', rank, n);
    comm.broadcast(b, root);
    compare(`broadcast root=${root} n=${n}`, b.dataSync(), (i) => ({ want: intValue(root, i), scale: 1 }), 'int32');
    b.dispose();
  }
  comm.barrier();

  // Async all-reduces in flight while the process computes; three at once, as gradient buckets are.
  const buckets = [filled('float32', rank, 1000003), filled('float32', rank, 7, 11), filled('float32', rank, 300001, 5)];
  const shifts = [0, 11, 5];
  const pending = buckets.map((t) => comm.allReduceAsync(t, 'avg'));
  const a = randn([192, 192]);
  let polls = 0;
  for (let k = 0; k < 4; k++) {
    matmul(a, a).dispose();
    if (!pending[0]!.test()) polls++;
  }
  for (const p of pending) p.wait();
  for (const p of pending) if (!p.test()) fail('test() after wait() is false');
  pending[0]!.wait(); // a second wait is a no-op
  buckets.forEach((t, k) =>
    compare(`allReduceAsync avg bucket ${k}`, t.dataSync(), (i) => reduceOver('float32', world, i + shifts[k]!, 'avg'), 'float32'));

  // Bad arguments, the same on every rank: each rank refuses them before communicating.
  const f32 = zeros([7]), bf = zeros([7], { dtype: 'bfloat16' }), u8 = zeros([7], { dtype: 'uint8' }), i32 = zeros([7], { dtype: 'int32' });
  const wide = zeros([3, 5]);
  const gone = zeros([7]);
  gone.dispose();
  expectThrow('allReduce bfloat16', DTypeError, /allReduce: tensor must be float32, float64 or int32, got bfloat16/, () => comm.allReduce(bf));
  expectThrow('allReduceAsync uint8', DTypeError, /allReduceAsync: .*got uint8/, () => comm.allReduceAsync(u8));
  expectThrow('allReduce avg int32', DTypeError, /avg.*int32/, () => comm.allReduce(i32, 'avg'));
  expectThrow('allReduce non-contiguous', ValueError, /allReduce: tensor must be contiguous/, () => comm.allReduce(wide.transpose(0, 1)));
  expectThrow('allReduce op', ValueError, /op must be 'sum', 'avg' or 'max'/, () => comm.allReduce(f32, 'min' as ReduceOp));
  expectThrow('allReduce disposed', DisposedError, /allReduce/, () => comm.allReduce(gone));
  expectThrow('allReduce not a tensor', ArgumentTypeError, /allReduce: tensor must be a Tensor/, () => comm.allReduce([1, 2] as unknown as Tensor));
  expectThrow('reduceScatter sizes', ShapeError, new RegExp(`reduceScatter: input must have worldSize \\(${world}\\) x 7 = ${7 * world} elements.*got 15`),
    () => comm.reduceScatter(wide, f32));
  expectThrow('reduceScatter dtypes', DTypeError, /reduceScatter: dtypes differ/, () => comm.reduceScatter(zeros([7 * world], { dtype: 'float64' }), f32));
  expectThrow('allGather sizes', ShapeError, /allGather: output must have/, () => comm.allGather(f32, zeros([7 * world + 1])));
  expectThrow('allGather in place', ValueError, /allGather: input and output share memory/, () => {
    const out = zeros([7 * world]);
    comm.allGather(out.slice(0, 0, 7), out);
  });
  expectThrow('broadcast root', ValueError, new RegExp(`broadcast: root must be in \\[0, ${world}\\), got ${world}`), () => comm.broadcast(f32, world));
  // Still in step: a collective after the refused calls pairs with the peers' (a desync would time out).
  const check = filled('float32', rank, 7);
  comm.allReduce(check);
  compare('allReduce after bad inputs', check.dataSync(), (i) => reduceOver('float32', world, i, 'sum'), 'float32');
  return { polls };
}

const comm = initDistributed({ timeoutMs: scenario === 'all' ? 60_000 : 2000 });
const out: Record<string, unknown> = { rank: comm.rank, worldSize: comm.worldSize };
if (scenario === 'all') {
  Object.assign(out, checkAll(comm));
  out.failures = failures;
  console.log(JSON.stringify(out));
  comm.finalize();
} else if (scenario === 'hang' || scenario === 'die') {
  if (comm.rank === 1) {
    if (scenario === 'die') process.exit(7);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000); // asleep: never reaches the all-reduce
  }
  const t = filled('float32', comm.rank, 1000);
  const started = Date.now();
  try {
    comm.allReduce(t);
    out.error = null;
  } catch (e) {
    out.error = (e as Error).message;
    out.errorClass = (e as Error).constructor.name;
    out.native = e instanceof NativeError;
    // The communicator is broken: finalize returns at once (no MPI_Finalize waiting for rank 1), and
    // later collectives refuse to start.
    try {
      comm.barrier();
    } catch (e2) {
      out.after = (e2 as Error).message;
    }
    comm.finalize();
    out.finalized = true;
  }
  out.seconds = (Date.now() - started) / 1000;
  console.log(JSON.stringify(out));
  process.exit(3); // a rank whose collective failed ends; mpirun then ends the job
}
