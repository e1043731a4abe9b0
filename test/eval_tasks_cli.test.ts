// `lmforge eval --tasks` on a tiny checkpoint (the library side is in eval_tasks.test.ts).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { lmforge, oneLineError } from './cli_run.js';

describe('lmforge eval --tasks', () => {
  it('prints accuracy ± stderr and chance per task, in the table and in --json; bad task names are one clear line', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lmf-eval-cli-'));
    const text = join(d, 'text');
    mkdirSync(text);
    for (let i = 0; i < 6; i++) writeFileSync(join(text, `doc${i}.txt`), Array.from({ length: 6 }, (_, j) => `the cat ${i} sat on mat ${j}.`).join('\n'));
    const tasks = join(d, 'sky.jsonl');
    writeFileSync(tasks, [{ context: 'The sky is', choices: [' blue.', ' green.'], gold: 0 }, { context: 'Grass is', choices: [' blue.', ' green.', ' red.'], gold: 1 }].map((x) => JSON.stringify(x)).join('\n'));
    const cfg = join(d, 'tiny.json');
    writeFileSync(cfg, JSON.stringify({ model: { layers: 1, dim: 16, heads: 2, seqLen: 32 }, train: { steps: 2, batchSize: 2, evalEvery: 2, evalBatches: 1, sampleTokens: 0 }, data: { valFraction: 0.2 } }));
    const out = join(d, 'run');
    const t = await lmforge(['train', text, '--config', cfg, '--out', out, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    const [table, json, bad, missing] = await Promise.all([
      lmforge(['eval', '--checkpoint', out, '--tasks', `last-word,cloze,${tasks}`, '--task-examples', '12', '--batches', '1']),
      lmforge(['eval', '--checkpoint', out, '--tasks', `cloze,${tasks}`, '--task-examples', '12', '--task-seed', '3', '--batches', '1', '--json']),
      lmforge(['eval', '--checkpoint', out, '--tasks', 'lambada', '--batches', '1']),
      lmforge(['eval', '--checkpoint', out, '--tasks', join(d, 'none.jsonl'), '--batches', '1']),
    ]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/this run trained on its own files; last-word and cloze come from the bundled Brown corpus's held-out documents/);
    expect(table.stdout).toMatch(/^task\s+n\s+accuracy\s+chance$/m);
    expect(table.stdout).toMatch(/^last-word\s+12\s+0\.\d{3} ± 0\.\d{3}\s+0\.\d{3}$/m);
    expect(table.stdout).toMatch(/^cloze\s+12\s+0\.\d{3} ± 0\.\d{3}\s+0\.250$/m);
    expect(table.stdout).toMatch(/^sky\s+2\s+[01]\.\d{3} ± 0\.\d{3}\s+0\.417$/m);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as { loss: number; tasks: { name: string; kind: string; examples: number; accuracy: number; stderr: number; chance: number }[] };
    expect(r.loss).toBeGreaterThan(0);
    expect(r.tasks.map((x) => [x.name, x.kind, x.examples])).toEqual([['cloze', 'choice', 12], ['sky', 'choice', 2]]);
    expect(r.tasks[1]!.chance).toBeCloseTo((1 / 2 + 1 / 3) / 2, 12);
    oneLineError(bad, /unknown task 'lambada': expected last-word, cloze or a \.jsonl file/);
    oneLineError(missing, /cannot read task file '.*none\.jsonl'/);
  }, 120_000);
});
