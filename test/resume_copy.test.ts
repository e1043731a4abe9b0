// `lmforge train --resume` writes only into the run folder it is given (or --out), from any working
// directory, and cleans the temporary checkpoint folders a killed run left in that folder.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

import { lmforge } from './cli_run.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-resume-'));

/** Every file under `dir` (relative path → bytes), folders included as entries of their own. */
function snapshot(dir: string): Map<string, Buffer | 'dir'> {
  const out = new Map<string, Buffer | 'dir'>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) {
        out.set(relative(dir, p), 'dir');
        walk(p);
      } else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

const latest = (run: string): string => readFileSync(join(run, 'checkpoints', 'latest'), 'utf8').trim();

/** A pid that no process has now: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

describe('train --resume of a copied run folder', () => {
  it('leaves the original byte-identical, writes into the copy (or --out), from any working directory', async () => {
    const d = tmp();
    // Data and config named relative to d, the working directory of the first run.
    mkdirSync(join(d, 'data'));
    for (let i = 0; i < 10; i++) writeFileSync(join(d, 'data', `doc${i}.txt`), Array.from({ length: 40 }, (_, j) => ['the cat', 'a dog', 'sat near', 'my bird'][(i + j) % 4]).join(' '));
    writeFileSync(join(d, 'cfg.json'), JSON.stringify({
      model: { layers: 1, dim: 32, heads: 2, seqLen: 32 },
      train: { steps: 6, batchSize: 4, evalEvery: 0, evalBatches: 2, checkpointEvery: 2, sampleTokens: 0 },
      data: { valFraction: 0.2 },
    }));
    const cache = join(d, 'cache');
    const t = await lmforge(['train', 'data', '--config', 'cfg.json', '--out', 'run', '--quiet'], { cwd: d, cache });
    expect(t.code, t.stderr).toBe(0);
    const original = join(d, 'run');
    expect(latest(original)).toBe('step-00000006');
    expect(existsSync(join(original, 'checkpoints', 'step-00000004'))).toBe(true);
    const before = snapshot(original);

    const copy = join(d, 'copy');
    cpSync(original, copy, { recursive: true });
    // What a run killed mid-save leaves behind (a dead writer's pid), and what a live writer is using now.
    const dead = deadPid();
    mkdirSync(join(copy, 'checkpoints', `.tmp-step-00000007-${dead}`));
    writeFileSync(join(copy, 'checkpoints', `.tmp-step-00000007-${dead}`, 'model.safetensors'), Buffer.from([1, 2, 3]));
    mkdirSync(join(copy, 'checkpoints', `.old-step-00000006-${dead}`));
    writeFileSync(join(copy, 'checkpoints', `.latest.tmp-${dead}`), 'step-00000007\n');
    mkdirSync(join(copy, 'checkpoints', `.tmp-step-00000009-${process.pid}`));

    // Same working directory as the original run.
    const r1 = await lmforge(['train', '--resume', 'copy', '--steps', '8', '--quiet'], { cwd: d, cache });
    expect(r1.code, r1.stderr).toBe(0);
    expect(latest(copy)).toBe('step-00000008');
    expect(snapshot(original)).toEqual(before);
    const left = readdirSync(join(copy, 'checkpoints')).sort();
    expect(left).toEqual([`.tmp-step-00000009-${process.pid}`, 'latest', 'step-00000006', 'step-00000008']);
    // The copy's log goes on from the copied one.
    const steps = readFileSync(join(copy, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number }).filter((l) => l.type === 'step');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Another working directory: the relative data path of the first run still finds the data.
    const elsewhere = tmp();
    const r2 = await lmforge(['train', '--resume', copy, '--steps', '10', '--quiet'], { cwd: elsewhere, cache });
    expect(r2.code, r2.stderr).toBe(0);
    expect(latest(copy)).toBe('step-00000010');
    expect(readdirSync(elsewhere)).toEqual([]);

    // --out sends the resumed run elsewhere and leaves the resumed folder alone.
    const copyBefore = snapshot(copy);
    const r3 = await lmforge(['train', '--resume', join(copy, 'checkpoints', 'step-00000010'), '--steps', '12', '--out', join(d, 'third'), '--quiet'], { cwd: elsewhere, cache });
    expect(r3.code, r3.stderr).toBe(0);
    expect(latest(join(d, 'third'))).toBe('step-00000012');
    expect(snapshot(copy)).toEqual(copyBefore);
    expect(snapshot(original)).toEqual(before);
  });
});
