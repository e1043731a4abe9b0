import { describe, expect, it } from 'vitest';

import { DisposedError, keep, memory, ones, randn, tensor, tidy, zeros, type Tensor } from '../lib/index.js';

const gc = (globalThis as { gc?: () => void }).gc;

async function collect(): Promise<void> {
  // FinalizationRegistry callbacks run in a later task after a full collection.
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('memory', () => {
  it('has the collector exposed (vitest.config.ts passes --expose-gc)', () => {
    expect(typeof gc).toBe('function');
  });

  it('creating and freeing 100,000 tensors leaves memory flat', async () => {
    const churn = (): void => {
      for (let i = 0; i < 100_000; i++) {
        const t = ones([64]);
        const u = t.mul(2);
        u.dispose();
        t.dispose();
      }
    };
    await collect();
    const before = memory();
    churn();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.buffers).toBe(before.buffers);
    expect(after.bytes).toBe(before.bytes);
    // The first round grows the heap and malloc's free lists to their working size (the handles are
    // garbage until a collection); a second round must reuse that memory, not add to it.
    await collect();
    const rss1 = process.memoryUsage().rss;
    churn();
    await collect();
    expect(process.memoryUsage().rss - rss1).toBeLessThan(32 * 1024 * 1024);
    expect(memory().bytes).toBe(before.bytes);
  });

  it('frees tensors that are dropped without dispose (FinalizationRegistry + V8 external memory)', async () => {
    await collect();
    const before = memory();
    (() => {
      for (let i = 0; i < 1000; i++) zeros([1024]);
    })();
    expect(memory().tensors).toBeGreaterThanOrEqual(before.tensors); // may already be partly collected
    await collect();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
  });

  it('views share one buffer that lives until the last view goes', () => {
    const before = memory();
    const a = zeros([4, 5]);
    const v = a.transpose(0, 1);
    expect(v.sharesStorageWith(a)).toBe(true);
    expect(memory().buffers).toBe(before.buffers + 1);
    expect(memory().tensors).toBe(before.tensors + 2);
    a.dispose();
    expect(memory().buffers).toBe(before.buffers + 1); // v still holds it
    expect(tidy(() => v.contiguous().sum().item())).toBe(0);
    v.dispose();
    expect(memory().buffers).toBe(before.buffers);
    expect(memory().bytes).toBe(before.bytes);
  });

  it('tidy disposes what it created except the result and kept tensors', () => {
    const before = memory();
    let inner: Tensor | undefined;
    let kept: Tensor | undefined;
    const out = tidy(() => {
      inner = ones([10]);
      kept = keep(inner.mul(3));
      return { sum: inner.add(1), list: [inner.mul(2)] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept!.isDisposed).toBe(false);
    expect(out.sum.dataSync()[0]).toBe(2);
    expect(out.list[0]!.dataSync()[0]).toBe(2);
    expect(memory().tensors).toBe(before.tensors + 3);
    out.sum.dispose();
    out.list[0]!.dispose();
    kept!.dispose();
    expect(memory().tensors).toBe(before.tensors);
  });

  it('nested tidy hands results to the enclosing scope', () => {
    const before = memory();
    tidy(() => {
      const r = tidy(() => ones([3]).mul(2));
      expect(r.isDisposed).toBe(false);
    });
    expect(memory().tensors).toBe(before.tensors);
  });

  it('tidy follows async functions across await', async () => {
    const before = memory();
    let mid: Tensor | undefined;
    const r = await tidy(async () => {
      const a = ones([8]);
      await new Promise((res) => setTimeout(res, 5));
      mid = a.mul(4); // created after the await: still in this scope
      await new Promise((res) => setTimeout(res, 5));
      return mid.add(1);
    });
    expect(mid!.isDisposed).toBe(true);
    expect(r.dataSync()[0]).toBe(5);
    r.dispose();
    expect(memory().tensors).toBe(before.tensors);
  });

  it('tidy cleans up when its function throws', async () => {
    const before = memory();
    expect(() =>
      tidy(() => {
        ones([5]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(
      tidy(async () => {
        ones([5]);
        throw new Error('async boom');
      }),
    ).rejects.toThrow('async boom');
    expect(memory().tensors).toBe(before.tensors);
  });

  it('using disposes at the end of the block', () => {
    const before = memory();
    {
      using t = randn([16]);
      expect(t.isDisposed).toBe(false);
    }
    expect(memory().tensors).toBe(before.tensors);
  });

  it('a disposed tensor refuses every use and dispose is idempotent', () => {
    const t = tensor([1, 2, 3]);
    t.dispose();
    t.dispose();
    expect(() => t.dataSync()).toThrow(DisposedError);
    expect(() => t.dataSync()).toThrow(/data: the tensor has been disposed/);
    expect(() => t.add(1)).toThrow(/add: input is a disposed tensor/);
    expect(() => t.reshape(3, 1)).toThrow(DisposedError);
    expect(String(t)).toContain('disposed');
    expect(t.shape).toEqual([3]);
  });

  it('tracks peak bytes', () => {
    const before = memory();
    const t = zeros([1 << 20]);
    expect(memory().peakBytes).toBeGreaterThanOrEqual(before.bytes + 4 * (1 << 20));
    t.dispose();
  });
});

describe('the allocator cache', () => {
  it('reuses large blocks, reports them, and empties on request', async () => {
    const { emptyCache, setCacheLimit } = await import('../lib/index.js');
    emptyCache();
    expect(memory().cachedBytes).toBe(0);
    const a = zeros([1 << 20]); // 4 MiB: cached when released
    a.dispose();
    const cached = memory().cachedBytes;
    expect(cached).toBeGreaterThanOrEqual(4 << 20);
    const b = zeros([1 << 20]); // served from the cache
    expect(memory().cachedBytes).toBe(cached - (4 << 20));
    b.dispose();
    setCacheLimit(0);
    expect(memory().cachedBytes).toBe(0);
    const c = zeros([1 << 20]);
    c.dispose();
    expect(memory().cachedBytes).toBe(0); // limit 0: nothing kept
    setCacheLimit(1 << 30);
    expect(() => setCacheLimit(-1)).toThrow(/setCacheLimit: limit must be non-negative, got -1/);
    emptyCache();
  });
});
