// Memory over a long run, on a bounded budget: `lmforge bench soak --quick` in a child process of its own
// (RSS is a per-process figure, and the suite's own process carries vitest). Before the allocator and
// handle fixes, the training phase alone went from 116 to 588 MiB in 250 steps. V8 grows its young
// generation by allocation rate, in steps of several MiB over the first thousand steps, which within this
// short budget could pass for growth; the child runs with that generation pinned small
// (--max-semi-space-size=1), which leaves lmforge's memory as it is (neither cause of the old growth
// depended on V8's heap size). The full soak (3,000 steps, 1,000 generate() calls, 100,000 cycles, default
// V8 settings) is in bench/results.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { SoakReport } from '../lib/bench/soak.js';
import { native } from '../lib/native.js';
import { memory, randn } from '../lib/index.js';
import { lmforge } from './cli_run.js';

describe('memory plateaus over a long run', () => {
  it('training steps, generate() calls and create/dispose cycles keep RSS within 10% after warm-up', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lmf-soak-'));
    const r = await lmforge(['bench', 'soak', '--quick', '--out', out], { nodeFlags: ['--max-semi-space-size=1'] });
    const report = JSON.parse(readFileSync(join(out, 'soak.json'), 'utf8')) as SoakReport;
    expect(report.phases.map((p) => p.name)).toEqual(['train steps', 'generate calls', 'create/dispose cycles']);
    expect(r.stdout).toMatch(/train steps: 900 in/);
    expect(r.code, r.stderr).toBe(0);
    for (const p of report.phases) {
      const trace = `${p.name}: RSS ${p.rss.join(' ')}; less V8 heap ${p.nativeRss.join(' ')}`;
      expect(p.growth, trace).toBeLessThanOrEqual(0.1);
      expect(p.nativeGrowth, trace).toBeLessThanOrEqual(0.1);
      expect(p.liveBytes).toBeLessThan(4 << 20);
    }
  });

  it('dispose() releases a handle at once: a disposed handle reads as disposed and refuses use', () => {
    const before = memory();
    const t = randn([300, 300]);
    const h = t.handle;
    t.dispose();
    expect(memory().bytes).toBe(before.bytes);
    expect(h.disposed()).toBe(true);
    expect(() => h.shape()).toThrow(/disposed/);
    // A handle from the addon directly: dispose is idempotent, and a disposed handle is refused by ops.
    const raw = native.full([3], 0, 1, 0);
    raw.dispose();
    raw.dispose();
    expect(raw.disposed()).toBe(true);
    expect(() => native.contiguous(raw)).toThrow(/disposed/);
  });
});
