// lmforge ablate: grids of tiny runs finish, report mean ± std per cell, skip finished runs, resume
// interrupted ones from their checkpoint, expand one-at-a-time grids, and refuse bad grids in one line.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { parse } from '../lib/cli/args.js';
import { ABLATE, specOf } from '../lib/cli/ablate_cmd.js';
import { checkCells, gridCells } from '../lib/research/ablate_spec.js';
import { lmforge, oneLineError } from './cli_run.js';

let dir = '';
let text = '';
// A tiny model and a budget of 6 steps of 4×32 tokens; one thread, so that a resumed run repeats the losses exactly.
const TINY = ['--layers', '1', '--dim', '32', '--heads', '2', '--seq-len', '32', '--batch-size', '4', '--tokens', '768', '--val-fraction', '0.2', '--eval-batches', '2', '--threads', '1', '--quiet', '--tasks', 'none'];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lmf-ablate-'));
  text = join(dir, 'text.jsonl');
  const words = 'the cat sat on a mat and a dog ran far away with the big red ball in the park'.split(' ');
  let s = 1;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31);
  const lines = Array.from({ length: 40 }, () => JSON.stringify({ text: Array.from({ length: 60 }, () => words[next() % words.length]).join(' ') }));
  writeFileSync(text, `${lines.join('\n')}\n`);
});

interface Stat { mean: number; std: number | null; n: number }
interface Report {
  cells: { name: string; folder: string; varied: string | null; seeds: number[]; stats: { valBitsPerByte: Stat; tokensPerSec: Stat }; runs: { seed: number; valBitsPerByte: number; tokensPerSec: number; resumedFromStep: number | null; parameters: number; stateBytesPerParam: number; curve: unknown[] }[] }[];
}
const report = (out: string): Report => JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Report;
const runDirs = (out: string): string[] => readdirSync(join(out, 'cells')).flatMap((c) => readdirSync(join(out, 'cells', c)).map((s) => join(out, 'cells', c, s)));

describe('lmforge ablate', () => {
  let out = '';
  const grid = (extra: string[] = []) => lmforge(['ablate', text, ...TINY, '--position', 'rope,alibi', '--activation', 'gelu,swiglu', '--seeds', '2', '--out', out, ...extra]);

  it('a 2×2 grid with 2 seeds finishes and reports mean ± sample std of the per-seed values', async () => {
    out = join(dir, 'grid');
    const r = await grid();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^8 runs \(0 finished before\)/);
    expect(r.stderr).toMatch(/cell 1\/8 \(position=rope activation=gelu, seed 0\) \.\.\. ETA \?/);
    expect(r.stderr).toMatch(/cell 8\/8 \(position=alibi activation=swiglu, seed 1\) \.\.\. ETA \d+/);
    const rep = report(out);
    expect(rep.cells.map((c) => c.name)).toEqual(['position=rope activation=gelu', 'position=rope activation=swiglu', 'position=alibi activation=gelu', 'position=alibi activation=swiglu']);
    for (const c of rep.cells) {
      expect(c.runs.map((x) => x.seed)).toEqual([0, 1]);
      const xs = c.runs.map((x) => x.valBitsPerByte);
      // Seeds change the initial weights and the batches: two seeds never give the same loss.
      expect(xs[0]).not.toBe(xs[1]);
      const mean = (xs[0]! + xs[1]!) / 2;
      expect(c.stats.valBitsPerByte.mean).toBeCloseTo(mean, 12);
      expect(c.stats.valBitsPerByte.std).toBeCloseTo(Math.abs(xs[0]! - xs[1]!) / Math.SQRT2, 12); // n − 1 = 1
      for (const x of c.runs) {
        expect(x.parameters).toBeGreaterThan(0);
        expect(x.stateBytesPerParam).toBe(8); // AdamW: two float32 moments
        expect(x.curve.length).toBeGreaterThan(1);
        expect(x.resumedFromStep).toBeNull();
      }
    }
    for (const d of runDirs(out)) for (const f of ['config.json', 'log.jsonl', 'cell.json', 'result.json', 'checkpoints/latest']) expect(existsSync(join(d, f)), join(d, f)).toBe(true);
    expect(runDirs(out)).toHaveLength(8);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    const rows = md.split('\n').filter((l) => /^\| (rope|alibi) \|/.test(l));
    expect(rows).toHaveLength(4);
    const s0 = rep.cells[0]!.stats.valBitsPerByte;
    expect(rows[0]).toContain(`| ${s0.mean.toFixed(4)} ± ${s0.std!.toFixed(4)} |`);
    const curves = readFileSync(join(out, 'val_bits_per_byte.svg'), 'utf8');
    const bars = readFileSync(join(out, 'final_bits_per_byte.svg'), 'utf8');
    // Charts label cells by their values (narrow legend and slots); bars are coloured by the first axis.
    for (const p of ['rope', 'alibi']) for (const a of ['gelu', 'swiglu']) expect(curves).toContain(`data-name="${p} · ${a}"`);
    expect([...bars.matchAll(/data-label="([^"]*)"/g)].map((m) => m[1])).toEqual(['gelu', 'swiglu', 'gelu', 'swiglu']);
    expect(bars).toContain('>position=alibi</text>');
    expect(JSON.parse(readFileSync(join(out, 'grid.json'), 'utf8')).axes).toEqual([{ key: 'model.position', values: ['rope', 'alibi'] }, { key: 'model.activation', values: ['gelu', 'swiglu'] }]);
  });

  it('running the grid again trains nothing, also after an upgrade that added a config key', async () => {
    // As if written by a version without train.docMask: its default is what those runs had.
    const drop = (path: string, get: (j: Record<string, any>) => Record<string, unknown>): void => {
      const j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
      delete get(j).docMask;
      writeFileSync(path, JSON.stringify(j));
    };
    drop(join(out, 'grid.json'), (j) => j.base.train);
    for (const d of runDirs(out)) {
      drop(join(d, 'result.json'), (j) => j.config.train);
      drop(join(d, 'cell.json'), (j) => j.train);
    }
    const before = runDirs(out).map((d) => readFileSync(join(d, 'log.jsonl'), 'utf8'));
    const results = runDirs(out).map((d) => statSync(join(d, 'result.json')).mtimeMs);
    const r = await grid();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^8 runs \(8 finished before\)/);
    expect(r.stderr.match(/finished before, skipped/g)).toHaveLength(8);
    expect(runDirs(out).map((d) => readFileSync(join(d, 'log.jsonl'), 'utf8'))).toEqual(before);
    expect(runDirs(out).map((d) => statSync(join(d, 'result.json')).mtimeMs)).toEqual(results);
  });

  it('an interrupted run (a checkpoint, no result) resumes from its checkpoint and ends where it would have', async () => {
    const run = join(out, 'cells', 'position-alibi_activation-gelu', 'seed-1');
    const done = JSON.parse(readFileSync(join(run, 'result.json'), 'utf8')) as { valBitsPerByte: number };
    // As if killed after the checkpoint of step 4 (checkpoints every 2 of the 6 steps): no result, latest at step 4.
    rmSync(join(run, 'result.json'));
    rmSync(join(run, 'checkpoints', 'step-00000006'), { recursive: true });
    writeFileSync(join(run, 'checkpoints', 'latest'), 'step-00000004\n');
    const r = await grid();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^8 runs \(7 finished before\)/);
    expect(r.stderr).toMatch(/cell 7\/8 \(position=alibi activation=gelu, seed 1\) \.\.\. ETA \?\n {2}resumed at step 4, val/);
    const again = JSON.parse(readFileSync(join(run, 'result.json'), 'utf8')) as { valBitsPerByte: number; resumedFromStep: number; steps: number };
    expect(again.resumedFromStep).toBe(4);
    expect(again.steps).toBe(6);
    expect(again.valBitsPerByte).toBe(done.valBitsPerByte);
    const cell = report(out).cells.find((c) => c.folder === 'position-alibi_activation-gelu')!;
    expect(cell.runs.map((x) => x.resumedFromStep)).toEqual([null, 4]);
  });

  it('a changed grid in the same folder is refused unless --force, which keeps the runs whose config is unchanged', async () => {
    const refused = await grid(['--seeds', '3']);
    oneLineError(refused, /^ablate: .*holds a different grid \(seeds changed\); use another --out, or --force/, 2);
    const r = await grid(['--seeds', '3', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^12 runs \(8 finished before\)/);
    for (const c of report(out).cells) {
      expect(c.seeds).toEqual([0, 1, 2]);
      const xs = c.runs.map((x) => x.valBitsPerByte);
      const mean = (xs[0]! + xs[1]! + xs[2]!) / 3;
      expect(c.stats.valBitsPerByte.mean).toBeCloseTo(mean, 12);
      expect(c.stats.valBitsPerByte.std).toBeCloseTo(Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / 2), 12);
    }
  });

  it('one-at-a-time: the baseline (first values) and each axis varied alone', async () => {
    const o = join(dir, 'oat');
    const r = await lmforge(['ablate', text, ...TINY, '--position', 'rope,alibi', '--activation', 'gelu,swiglu,relu', '--mode', 'one-at-a-time', '--out', o]);
    expect(r.code, r.stderr).toBe(0);
    const cells = report(o).cells;
    expect(cells.map((c) => [c.name, c.varied])).toEqual([
      ['position=rope activation=gelu', null],
      ['position=alibi activation=gelu', 'model.position'],
      ['position=rope activation=swiglu', 'model.activation'],
      ['position=rope activation=relu', 'model.activation'],
    ]);
    expect(cells.every((c) => c.stats.valBitsPerByte.std === null && c.runs.length === 1)).toBe(true);
    const md = readFileSync(join(o, 'results.md'), 'utf8');
    expect(md).toMatch(/^\| baseline \| rope \| gelu \|/m);
    expect(md).toMatch(/^\| activation \| rope \| relu \|/m);

    // Downstream tasks asked for later are scored on each finished run's final checkpoint, without training.
    const task = join(dir, 'animals.jsonl');
    const ex = (context: string, choices: string[], gold: number): string => JSON.stringify({ context, choices, gold });
    writeFileSync(task, [ex('the cat sat on a', [' mat', ' sky', ' idea'], 0), ex('a dog ran', [' far', ' blue'], 0), ex('the big red', [' ball', ' of', ' ran'], 0)].join('\n'));
    const logs = runDirs(o).map((d) => readFileSync(join(d, 'log.jsonl'), 'utf8'));
    const again = await lmforge(['ablate', text, ...TINY, '--position', 'rope,alibi', '--activation', 'gelu,swiglu,relu', '--mode', 'one-at-a-time', '--out', o, '--tasks', task]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.match(/finished before, skipped \([\d.]+ bits\/byte, tasks scored\)/g)).toHaveLength(4);
    expect(runDirs(o).map((d) => readFileSync(join(d, 'log.jsonl'), 'utf8'))).toEqual(logs);
    const scored = JSON.parse(readFileSync(join(o, 'results.json'), 'utf8')) as { cells: { tasks: { name: string; examples: number; chance: number; accuracy: Stat }[]; runs: { tasks: { accuracy: number }[] }[] }[] };
    for (const c of scored.cells) {
      expect(c.tasks).toHaveLength(1);
      expect(c.tasks[0]).toMatchObject({ name: 'animals', examples: 3 });
      expect(c.tasks[0]!.chance).toBeCloseTo((1 / 3 + 1 / 2 + 1 / 3) / 3, 12);
      expect(c.tasks[0]!.accuracy.mean).toBe(c.runs[0]!.tasks[0]!.accuracy);
    }
    expect(readFileSync(join(o, 'results.md'), 'utf8')).toMatch(/\| animals accuracy \(n 3, chance 0\.389, s\.e\. [\d.]+\) \|/);
  });

  it('bad grids and flags: one line, exit 2, nothing trained', async () => {
    const file = (name: string, body: unknown): string => {
      const p = join(dir, name);
      writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
      return p;
    };
    const cases: [string[], RegExp][] = [
      [['--grid', file('typo.json', { axes: { 'model.positon': ['rope', 'alibi'] } })], /^ablate: unknown config key 'model.positon' in .*typo.json axes \(did you mean model.position\?\)$/],
      [['--grid', file('top.json', { axis: {} })], /^ablate: .*top.json: unknown key 'axis' \(did you mean axes\?\)$/],
      [['--grid', file('notarray.json', { axes: { position: 'rope' } })], /^ablate: .*notarray.json: axes.position must be a non-empty array of values, got "rope"$/],
      [['--grid', file('fixed.json', { axes: { 'data.files': [['a'], ['b']] } })], /^ablate: .*fixed.json axes: data.files cannot vary across cells \(every cell trains on the same text\)$/],
      [['--grid', file('type.json', { axes: { 'model.dropout': [0, 'some'] } })], /^config: model.dropout in grid axis model.dropout\[1\] must be a finite number, got "some"$/],
      [['--grid', file('choice.json', { axes: { 'model.position': ['rope', 'rotary'] } })], /^ablate: cell 'position=rotary': GPTConfig: unknown position "rotary" \(expected one of: rope, alibi, learned, none\)$/],
      [['--grid', file('base.json', { base: { model: { dimm: 64 } }, axes: {} })], /^ablate: unknown config key 'model.dimm' in .*base.json base \(did you mean model.dim\?\)$/],
      [['--grid', file('mode.json', { axes: {}, mode: 'grid' })], /^ablate: .*mode.json: 'mode' must be full or one-at-a-time, got "grid"$/],
      [['--grid', file('broken.json', '{ "axes": ')], /^config: .*broken.json is not valid JSON/],
      [['--lr', '1e-3,abc'], /^ablate: --lr must be a number or null, got 'abc'$/],
      [['--tokens', '1000,2000'], /^ablate: --tokens: train.tokens cannot vary across cells/],
      [['--position', 'rope,rope'], /^ablate: grid axis model.position lists "rope" twice$/],
      [['--seeds', '0'], /^ablate: --seeds must be a positive integer, got '0'$/],
      [['--mode', 'one'], /^ablate: --mode must be full or one-at-a-time, got 'one'/],
    ];
    // In this process (the command's own parsing and checks, nothing trained) ...
    for (const [args, re] of cases) {
      const check = (): void => {
        const a = parse(ABLATE, [text, ...TINY, ...args]);
        checkCells(gridCells(specOf(a.given, a.values as Record<string, unknown>, a.positionals)));
      };
      expect(check, args.join(' ')).toThrow(re);
    }
    // ... and as the command says them: one line, exit 2, no grid folder.
    const picked = [0, 9];
    const runs = await Promise.all(picked.map((i) => lmforge(['ablate', text, ...TINY, '--out', join(dir, `bad-${i}`), ...cases[i]![0]])));
    runs.forEach((r, k) => {
      oneLineError(r, cases[picked[k]!]![1], 2);
      expect(existsSync(join(dir, `bad-${picked[k]}`))).toBe(false);
    });
  });

  it('--help shows the axes flags and examples', async () => {
    const r = await lmforge(['ablate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--position rope\|alibi\|learned\|none,\.\.\./);
    expect(r.stdout).toMatch(/Examples:\n {2}lmforge ablate --position rope,alibi --activation gelu,swiglu --seeds 2/);
  });
});
