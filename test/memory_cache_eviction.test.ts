import os from 'node:os';

import { afterEach, describe, expect, it } from 'vitest';

import { emptyCache, memory, setCacheLimit } from '../lib/memory.js';
import { zeros } from '../lib/ops/creation.js';

const MiB = 2 ** 20;

describe('CPU block cache eviction', () => {
  afterEach(() => {
    // The default limit: a quarter of physical memory, at least 1 GiB.
    setCacheLimit(Math.max(Math.floor(os.totalmem() / 4), 2 ** 30));
    emptyCache();
  });

  it('makes room for a block of a new class by dropping its oldest blocks, and serves it again', () => {
    emptyCache();
    setCacheLimit(8 * MiB);
    const twos = Array.from({ length: 4 }, () => zeros([(2 * MiB) / 4])); // class 2 MiB
    for (const t of twos) t.dispose();
    expect(memory().cachedBytes).toBe(8 * MiB);
    zeros([(3 * MiB) / 4]).dispose(); // class 3 MiB: two 2 MiB blocks must go
    expect(memory().cachedBytes).toBe(7 * MiB);
    const again = zeros([(3 * MiB) / 4]); // taken from the cache
    expect(memory().cachedBytes).toBe(4 * MiB);
    again.dispose();
    expect(memory().cachedBytes).toBe(7 * MiB);
  });

  it('does not cache a block larger than the limit, nor evict for it', () => {
    emptyCache();
    setCacheLimit(8 * MiB);
    zeros([(2 * MiB) / 4]).dispose();
    expect(memory().cachedBytes).toBe(2 * MiB);
    zeros([(16 * MiB) / 4]).dispose();
    expect(memory().cachedBytes).toBe(2 * MiB);
  });
});
