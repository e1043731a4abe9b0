import { afterAll, describe, expect, it } from 'vitest';

import {
  ArgumentTypeError, cpuInfo, cudaAvailable, DeviceError, full, matmulKernel, memory, numThreads, OutOfMemoryError, randn,
  setCpuTier, setNumThreads, ShapeError, tensor, ValueError, zeros,
} from '../lib/index.js';

afterAll(() => {
  setCpuTier(null);
  setNumThreads(2);
});

describe('runtime', () => {
  it('sets and reads the thread count, refusing nonsense', () => {
    setNumThreads(1);
    expect(numThreads()).toBe(1);
    setNumThreads(3);
    expect(numThreads()).toBe(3);
    expect(() => setNumThreads(0)).toThrow(/setNumThreads: thread count must be in \[1, 1024\], got 0/);
    expect(() => setNumThreads(1.5)).toThrow(ArgumentTypeError);
    expect(() => setNumThreads('2' as unknown as number)).toThrow(ArgumentTypeError);
    expect(numThreads()).toBe(3);
  });

  it('reports CPU features and switches kernel tiers', () => {
    const f = cpuInfo();
    expect(['avx512', 'avx2', 'neon', 'scalar']).toContain(f.tier);
    setCpuTier('scalar');
    expect(cpuInfo().tier).toBe('scalar');
    expect(matmulKernel('float32')).toMatch(/portable/);
    setCpuTier(null);
    expect(cpuInfo().tier).toBe(f.tier);
    expect(() => setCpuTier('sse9' as never)).toThrow(ValueError);
    if (!f.neon) expect(() => setCpuTier('neon')).toThrow(/setCpuTier: this CPU lacks NEON/);
  });

  it('without CUDA, says why and keeps the CPU path', () => {
    const c = cudaAvailable();
    if (c.available) return; // a CUDA build on a GPU machine: covered by the CUDA suites
    console.log('skipped: no CUDA device');
    // A CPU-only build says so; a CUDA build on a machine without a usable GPU names what is missing.
    const why = /built without CUDA support|NVIDIA driver|no CUDA device|CUDA initialisation failed/;
    expect(c.reason).toMatch(why);
    expect(() => zeros([2], { device: 'cuda' })).toThrow(DeviceError);
    expect(() => zeros([2], { device: 'cuda' })).toThrow(why);
    const t = randn([3]);
    expect(() => t.to('cuda')).toThrow(DeviceError);
    expect(t.to('cpu').dataSync().length).toBe(3);
  });
});

describe('bad input does not crash the process', () => {
  it('sizes beyond memory are an OutOfMemoryError', () => {
    expect(() => zeros([1 << 30, 1 << 30])).toThrow(OutOfMemoryError);
    expect(() => zeros([1 << 30, 1 << 30])).toThrow(/zeros|full/);
    // representable, but more than any machine here holds (2^46 bytes)
    expect(() => zeros([1 << 22, 1 << 22])).toThrow(OutOfMemoryError);
    expect(memory().bytes).toBeLessThan(1 << 30);
  });

  it('bad shapes, devices and values name the op', () => {
    expect(() => zeros([2, -1])).toThrow(ValueError);
    expect(() => zeros([2, 1.5])).toThrow(/zeros: shape must hold non-negative integers, got \[2, 1.5\]/);
    expect(() => zeros('3' as unknown as number[])).toThrow(ArgumentTypeError);
    expect(() => zeros([1, 1, 1, 1, 1, 1, 1, 1, 1])).toThrow(/at most 8 dimensions/);
    expect(() => zeros([2], { device: 'tpu' as never })).toThrow(/zeros: unknown device "tpu"/);
    expect(() => zeros([2], { dtype: 'complex64' as never })).toThrow(/zeros: unknown dtype "complex64"/);
    expect(() => zeros([2], { dytpe: 'float32' } as never)).toThrow(/zeros: unknown option 'dytpe'/);
    expect(() => full([2], NaN, { dtype: 'int32' })).toThrow(/full: value NaN is not a int32/);
    expect(full([2], NaN).dataSync().every(Number.isNaN)).toBe(true);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(ShapeError);
    expect(() => memory('gpu' as never)).toThrow(DeviceError);
  });
});
