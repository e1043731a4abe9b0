import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { ValueError } from '../lib/index.js';
import { binLosses, contextChart, contextData, contextEntry, contextMarkdown, positionBins, type ContextReport } from '../lib/research/context.js';
import { lmforge, oneLineError } from './cli_run.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-context-'));

describe('log2 position bins', () => {
  it('are [1], [2,3], [4,7], ... cut at T, the last folded into the one before when under half full', () => {
    const b = (T: number): string => positionBins(T).map((x) => `${x.lo}-${x.hi}`).join(' ');
    expect(b(1)).toBe('1-1');
    expect(b(2)).toBe('1-1 2-2');
    expect(b(3)).toBe('1-1 2-3');
    expect(b(4)).toBe('1-1 2-4'); // [4] alone would be 1 of 4 positions
    expect(b(64)).toBe('1-1 2-3 4-7 8-15 16-31 32-64');
    expect(b(100)).toBe('1-1 2-3 4-7 8-15 16-31 32-63 64-100'); // 37 of 64: kept
    expect(b(95)).toBe('1-1 2-3 4-7 8-15 16-31 32-63 64-95'); // 32 of 64: half full, kept
    expect(b(94)).toBe('1-1 2-3 4-7 8-15 16-31 32-94');
  });

  it('reject a length that is not a positive integer', () => {
    for (const T of [0, -1, 2.5, Number.NaN]) expect(() => positionBins(T)).toThrow(ValueError);
    expect(() => binLosses([])).toThrow(/no positions/);
  });

  it('average the loss of their positions (hand computation)', () => {
    // T = 8: bins [1], [2,3], [4,8].
    const bins = binLosses([4, 3, 2.5, 2, 2, 1.5, 1, 1]);
    expect(bins).toEqual([
      { lo: 1, hi: 1, loss: 4 },
      { lo: 2, hi: 3, loss: 2.75 },
      { lo: 4, hi: 8, loss: 1.5 },
    ]);
    const e = contextEntry({ seqLen: 8, source: 'x', parameters: 1, steps: 1, tokens: 1, valLoss: 2, valBitsPerByte: 3, valTokens: 8, perPosition: [4, 3, 2.5, 2, 2, 1.5, 1, 1], data: contextData([10], 8, 10) });
    expect(e.gain).toBe(2.5);
  });
});

describe('the data side', () => {
  it('is data stats for T, scaled to the budget (hand computation)', () => {
    // Documents of 10, 100 and 300 tokens (410), T = 64, a budget of 820 tokens = 2 epochs.
    const d = contextData([10, 100, 300], 64, 820);
    expect(d.documents).toBe(3);
    expect(d.trainTokens).toBe(410);
    expect(d.longerThanSeqLen).toBeCloseTo(2 / 3, 12);
    expect(d.epochs).toBe(2);
    expect(d.insideUnseenShare).toBeCloseTo(10 / 410, 12);
    expect(d.insideMeanTimesSeen).toBeCloseTo((410 / 400) * 2, 12);
    // Windows: 37 + 237 = 274 offsets; 410/64 windows per epoch; the middle of the 300-token document lies in 64 of them.
    expect(d.insideMaxTimesSeen).toBeCloseTo(((410 / 64) * 64) / 274 * 2, 12);
    // Packed stream: 410 + 3 end tokens; offsets whose window stays in one document: 0 + 38 + 238 of 350.
    expect(d.crossingShare).toBeCloseTo(1 - 276 / 350, 12);
  });
});

describe('the report page', () => {
  const entry = (T: number, shift: number) => {
    const perPosition = Array.from({ length: T }, (_, i) => 3 + shift - Math.log2(i + 1) / 4);
    return contextEntry({ seqLen: T, source: `runs/T${T}`, parameters: 1000, steps: 10, tokens: 5120, valLoss: 2.5 + shift, valBitsPerByte: 3.6, valTokens: 100, perPosition, data: contextData([50, 100, 400], T, 5120) });
  };
  const report: ContextReport = { command: 'lmforge context --seq-lens 64,256', data: 'test <text>', setup: 'a tiny GPT', entries: [entry(256, 0.1), entry(64, 0)] };

  it('has a summary, the loss by bin side by side (rows of the longest length), and the data side', () => {
    const md = contextMarkdown(report);
    const summary = md.split('\n').filter((l) => /^\| (64|256) \|/.test(l));
    expect(summary).toHaveLength(4); // summary and data side, in length order
    expect(summary[0]).toContain('| 64 | 1,000 | 10 | 5,120 | 2.5000 | 3.600 | 3.000 |');
    const e64 = report.entries[1]!;
    expect(summary[0]).toContain(`${e64.gain.toFixed(3)} (`);
    expect(summary[0]).toContain('(32–64)');
    const row = md.split('\n').find((l) => l.startsWith('| 32–63 |'))!;
    expect(row).toBe(`| 32–63 | ${e64.bins[5]!.loss.toFixed(3)} (to 64) | ${report.entries[0]!.bins[5]!.loss.toFixed(3)} |`);
    expect(md.split('\n').find((l) => l.startsWith('| 128–256 |'))).toBe(`| 128–256 |  | ${report.entries[0]!.bins[7]!.loss.toFixed(3)} |`);
    expect(summary[2]).toMatch(/^\| 64 \| 66\.7% \| /); // 100 and 400 of 50, 100, 400
    expect(summary[3]).toMatch(/^\| 256 \| 33\.3% \| /);
    expect(md).toContain('![loss by position](context.svg)');
  });

  it('draws one series per length on a log2 position axis', () => {
    const svg = contextChart(report);
    expect([...svg.matchAll(/class="series" data-name="([^"]*)"/g)].map((m) => m[1])).toEqual(['T = 64', 'T = 256']);
    const groups = [...svg.matchAll(/<g class="series"[^>]*>([\s\S]*?)<\/g>/g)];
    expect(groups[0]![1]!.match(/<circle/g)).toHaveLength(6);
    expect(groups[1]![1]!.match(/<circle/g)).toHaveLength(8);
    for (const x of ['1', '2', '4', '128']) expect(svg).toContain(`>${x}</text>`);
  });
});

describe('lmforge context', () => {
  function corpusDir(): string {
    const d = tmp();
    const words = ['the cat', 'a dog', 'my bird', 'one fish'];
    for (let i = 0; i < 12; i++)
      writeFileSync(join(d, `doc${String(i).padStart(2, '0')}.txt`), Array.from({ length: 10 }, (_, j) => `${words[(i + j) % 4]} sat near ${words[(i + 2 * j) % 4]}.`).join(' '));
    return d;
  }

  it('trains one tiny model per length on the same budget, and --checkpoint on those runs gives the same report', async () => {
    const d = tmp();
    const corpus = corpusDir();
    const o = join(d, 'ctx');
    const tiny = ['--layers', '1', '--dim', '32', '--heads', '2', '--steps', '4', '--batch-size', '2', '--val-fraction', '0.25', '--threads', '1', '--eval-every', '0', '--checkpoint-every', '0'];
    const r = await lmforge(['context', corpus, '--seq-lens', '32,16', ...tiny, '--out', o, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['context.md', 'context.json', 'context.svg']) expect(existsSync(join(o, f))).toBe(true);
    expect(r.stdout).toBe(readFileSync(join(o, 'context.md'), 'utf8'));
    const rep = JSON.parse(readFileSync(join(o, 'context.json'), 'utf8')) as ContextReport;
    expect(rep.entries.map((e) => e.seqLen)).toEqual([16, 32]);
    for (const e of rep.entries) {
      // 2 rows × 128 tokens (the default model.seqLen) per step: 16 rows of 16, 8 rows of 32; 4 steps.
      expect(e.tokens).toBe(4 * 256);
      expect(e.perPosition).toHaveLength(e.seqLen);
      expect(e.bins).toEqual(binLosses(e.perPosition));
      // The loss by position is the run's final evaluation, as its log recorded it.
      const log = readFileSync(join(o, `runs/T${e.seqLen}`, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const fin = log.find((x) => x.type === 'eval' && x.final)!;
      expect(fin.perPosition).toEqual(e.perPosition);
      expect(e.data.epochs).toBeCloseTo(e.tokens / e.data.trainTokens, 12);
    }

    const c = await lmforge(['context', '--checkpoint', join(o, 'runs/T16'), '--checkpoint', join(o, 'runs/T32'), '--out', join(d, 'again'), '--quiet']);
    expect(c.code, c.stderr).toBe(0);
    const again = JSON.parse(readFileSync(join(d, 'again', 'context.json'), 'utf8')) as ContextReport;
    expect(again.entries.map((e) => [e.seqLen, e.tokens, e.steps])).toEqual(rep.entries.map((e) => [e.seqLen, e.tokens, e.steps]));
    again.entries.forEach((e, i) => e.perPosition.forEach((v, j) => expect(v).toBeCloseTo(rep.entries[i]!.perPosition[j]!, 5)));
  }, 120_000);

  it('bad input: one clear line', async () => {
    const d = tmp();
    const rs = await Promise.all([
      lmforge(['context']),
      lmforge(['context', '--seq-lens', '64', '--checkpoint', d]),
      lmforge(['context', '--seq-lens', '64,32,64']),
      lmforge(['context', '--seq-len', '64']),
      lmforge(['context', '--checkpoint', join(d, 'nothing')]),
      lmforge(['context', '--checkpoint', d, '--steps', '5']),
    ]);
    oneLineError(rs[0]!, /^context: give --seq-lens 128,512,\.\.\. .* or --checkpoint DIR/, 2);
    oneLineError(rs[1]!, /^context: give --seq-lens .* or --checkpoint .*, not both$/, 2);
    oneLineError(rs[2]!, /^context: --seq-lens lists 64 twice$/, 2);
    oneLineError(rs[3]!, /unknown option --seq-len.*--seq-lens/, 2);
    oneLineError(rs[4]!, /no such checkpoint folder: '.*nothing'/, 2);
    oneLineError(rs[5]!, /^context: --steps does not apply with --checkpoint/, 2);
  });
});
