// The collective layer (lib/distributed/comm.ts, native/runtime/collective*): the identity backend in this
// process, and the MPI backend under `mpirun -np 2` running test/distributed/collectives.ts, whose ranks
// check every collective against float64 expectations and print one JSON line each. Without mpirun the MPI
// tests are skipped with the reason; LMF_REQUIRE_MPI=1 (set by .ci/run) makes them fail instead.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import {
  ArgumentTypeError, DeviceError, DisposedError, DTypeError, ShapeError, tensor, ValueError, zeros,
} from '../lib/index.js';
import { distributedEnv, initDistributed, type ReduceOp } from '../lib/distributed/comm.js';
import type { Tensor } from '../lib/tensor.js';

describe('identity backend (one process)', () => {
  afterEach(() => initDistributed({ backend: 'identity' }).finalize());

  it("is what 'auto' gives outside mpirun: rank 0 of 1", () => {
    expect(distributedEnv()).toBeNull();
    const comm = initDistributed();
    expect([comm.backend, comm.rank, comm.worldSize, comm.localRank, comm.localSize]).toEqual(['identity', 0, 1, 0, 1]);
  });

  it('leaves all-reduced and broadcast tensors as they are, and copies reduce-scatter and all-gather inputs', () => {
    const comm = initDistributed({ backend: 'identity', timeoutMs: 1000 });
    const x = [0.25, -1.5, 3.125, 7, -0.375, 2.5, 11];
    for (const op of ['sum', 'avg', 'max'] as ReduceOp[]) {
      const t = tensor(x);
      comm.allReduce(t, op);
      expect(Array.from(t.dataSync())).toEqual(x);
      const p = comm.allReduceAsync(t, op);
      expect(p.test()).toBe(true);
      p.wait();
      expect(Array.from(t.dataSync())).toEqual(x);
    }
    const i = tensor(new Int32Array([5, -3, 9]));
    comm.broadcast(i, 0);
    expect(Array.from(i.dataSync())).toEqual([5, -3, 9]);
    const out = zeros([7], { dtype: 'float64' });
    comm.reduceScatter(tensor(x, [7], 'float64'), out, 'avg');
    expect(Array.from(out.dataSync())).toEqual(x);
    const gathered = zeros([7]);
    comm.allGather(tensor(x, [7]), gathered);
    expect(Array.from(gathered.dataSync())).toEqual(x);
    comm.barrier();
  });

  it('refuses bad arguments with typed errors naming the op and the value', () => {
    const comm = initDistributed({ backend: 'identity' });
    const gone = zeros([3]);
    gone.dispose();
    expect(() => comm.allReduce(zeros([3], { dtype: 'bfloat16' }))).toThrow(DTypeError);
    expect(() => comm.allReduce(zeros([3], { dtype: 'bfloat16' }))).toThrow(/allReduce: tensor must be float32, float64 or int32, got bfloat16/);
    expect(() => comm.allReduce(zeros([3], { dtype: 'int32' }), 'avg')).toThrow(/allReduce: op 'avg' needs a float tensor, got int32/);
    expect(() => comm.allReduce(zeros([3, 4]).transpose(0, 1))).toThrow(/allReduce: tensor must be contiguous/);
    expect(() => comm.allReduce(zeros([3]), 'min' as ReduceOp)).toThrow(ValueError);
    expect(() => comm.allReduceAsync(gone)).toThrow(DisposedError);
    expect(() => comm.allReduce(new Float32Array(3) as unknown as Tensor)).toThrow(ArgumentTypeError);
    expect(() => comm.reduceScatter(zeros([4]), zeros([3]))).toThrow(ShapeError);
    expect(() => comm.reduceScatter(zeros([4]), zeros([3]))).toThrow(/reduceScatter: input must have worldSize \(1\) x 3 = 3 elements .*got 4/);
    expect(() => comm.allGather(zeros([3]), zeros([3], { dtype: 'float64' }))).toThrow(/allGather: dtypes differ: float32 and float64/);
    const both = zeros([6]);
    expect(() => comm.allGather(zeros([3]), zeros([4]))).toThrow(/allGather: output must have worldSize \(1\) x 3 = 3 elements .*got 4/);
    expect(() => comm.allGather(both.slice(0, 0, 3), both.slice(0, 2, 5))).toThrow(/allGather: input and output share memory/);
    expect(() => comm.broadcast(zeros([3]), 1)).toThrow(/broadcast: root must be in \[0, 1\), got 1/);
  });

  it('refuses unknown options, backends and timeouts, and the engines this process cannot join', () => {
    expect(() => initDistributed({ backend: 'gloo' as 'mpi' })).toThrow(/initDistributed: backend must be 'auto', 'identity', 'mpi' or 'nccl'/);
    expect(() => initDistributed({ timeoutMs: 0 })).toThrow(/timeoutMs must be a positive integer, got number 0/);
    expect(() => initDistributed({ timeout: 5 } as object)).toThrow(/unknown option 'timeout'/);
    expect(() => initDistributed({ backend: 'mpi' })).toThrow(ValueError);
    expect(() => initDistributed({ backend: 'mpi' })).toThrow(/backend 'mpi' needs a process started by mpirun/);
    // This build has no CUDA (the CUDA build would need a device and libnccl.so.2): a DeviceError either way.
    expect(() => initDistributed({ backend: 'nccl' })).toThrow(DeviceError);
    initDistributed({ backend: 'identity' });
    expect(() => initDistributed({ backend: 'mpi' })).toThrow(/already joined a job with backend 'identity'/);
  });

  it('takes its default timeout from LMF_COLLECTIVE_TIMEOUT_MS and refuses one that is not a positive integer', () => {
    const saved = process.env.LMF_COLLECTIVE_TIMEOUT_MS;
    try {
      process.env.LMF_COLLECTIVE_TIMEOUT_MS = '1500';
      expect(initDistributed().worldSize).toBe(1);
      process.env.LMF_COLLECTIVE_TIMEOUT_MS = '30s';
      expect(() => initDistributed()).toThrow(/initDistributed: LMF_COLLECTIVE_TIMEOUT_MS must be a positive integer, got '30s'/);
      expect(initDistributed({ timeoutMs: 10 }).rank).toBe(0); // the option wins over the variable
    } finally {
      if (saved === undefined) delete process.env.LMF_COLLECTIVE_TIMEOUT_MS;
      else process.env.LMF_COLLECTIVE_TIMEOUT_MS = saved;
    }
  });

  it('refuses collectives before initDistributed and after finalize', () => {
    const comm = initDistributed({ backend: 'identity' });
    comm.finalize();
    expect(() => comm.allReduce(zeros([2]))).toThrow(/allReduce: no communicator: call initDistributed\(\) first/);
    expect(() => comm.barrier()).toThrow(ValueError);
  });

  it('reads rank and sizes from Open MPI\'s or PMI\'s environment', () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '8', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' });
      expect(distributedEnv()).toEqual({ rank: 3, worldSize: 8, localRank: 1, localSize: 2 });
      for (const k of Object.keys(process.env)) if (k.startsWith('OMPI_COMM_WORLD')) delete process.env[k];
      Object.assign(process.env, { PMI_RANK: '2', PMI_SIZE: '4' });
      expect(distributedEnv()).toEqual({ rank: 2, worldSize: 4, localRank: 2, localSize: 4 });
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    }
  });
});

// ---- MPI: 2 ranks on this machine ----

const hasMpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status === 0;
const mpiRequired = process.env.LMF_REQUIRE_MPI === '1';
const SCRIPT = join(process.cwd(), 'test/distributed/collectives.ts');
const TSX = import.meta.resolve('tsx');

interface MpiRun {
  code: number | null;
  ranks: Record<string, unknown>[];
  stderr: string;
}

function mpirun(scenario: string, np = 2): Promise<MpiRun> {
  return new Promise((resolve) => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      // CI runs as root; two cores host both ranks.
      OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
      // Containers often forbid the cross-process copies (ptrace) of Open MPI's shared-memory transport.
      OMPI_MCA_btl_vader_single_copy_mechanism: 'none',
    };
    const child = spawn('mpirun', ['-np', String(np), '--oversubscribe', process.execPath, '--import', TSX, SCRIPT, scenario], { env });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      const ranks = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, ranks: ranks.sort((a, b) => (a.rank as number) - (b.rank as number)), stderr });
    });
  });
}

describe.skipIf(!hasMpirun && !mpiRequired)('MPI backend under mpirun -np 2', () => {
  it('mpirun is installed (LMF_REQUIRE_MPI=1)', () => {
    expect(hasMpirun, 'LMF_REQUIRE_MPI=1 but mpirun is not on the PATH (Debian: apt-get install openmpi-bin libopenmpi-dev)').toBe(true);
  });

  it('runs every collective on sizes 1, 7 and 1000003 as a float64 computation predicts, async ones beside compute, and refuses bad arguments on every rank', async () => {
    const run = await mpirun('all');
    expect(run.code, run.stderr).toBe(0);
    expect(run.ranks.map((r) => [r.rank, r.worldSize])).toEqual([[0, 2], [1, 2]]);
    for (const r of run.ranks) expect(r.failures, `rank ${r.rank}`).toEqual([]);
  }, 120_000);

  it('makes the waiting rank throw a NativeError naming the collective and the rank that did not come, within the timeout; the job exits non-zero', async () => {
    const run = await mpirun('hang');
    expect(run.code).not.toBe(0);
    const r0 = run.ranks.find((r) => r.rank === 0);
    expect(r0, run.stderr).toBeDefined();
    expect(r0!.errorClass).toBe('NativeError');
    expect(r0!.error).toMatch(/^allReduce: rank 0 waited 2 s for all-reduce #1 \(1000 float32\) and gave up: rank 1 did not reach it \(it has started 0 collectives\)/);
    expect(r0!.error).toMatch(/end the process/);
    expect(r0!.after).toMatch(/^barrier: rank 0: the communicator is unusable: allReduce: rank 0 waited 2 s/);
    expect(r0!.finalized).toBe(true);
  }, 120_000);

  it('ends the job with a non-zero status when a rank dies before a collective', async () => {
    const run = await mpirun('die');
    expect(run.code).not.toBe(0);
    // Either mpirun ended rank 0 (its usual answer to a dead rank) or rank 0 timed out and said so.
    for (const r of run.ranks) expect(r.error).toMatch(/rank 1 did not/);
  }, 120_000);
});

if (!hasMpirun && !mpiRequired) console.log('skipped: mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)');
