import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { Adam8bit, AdamW, GPT, Lion, parameterCount, SGD, SophiaG, ValueError, type Optimizer, type Tensor } from '../lib/index.js';
import { ByteTokenizer, tokenizeDocuments, type TokenDataset } from '../lib/data/index.js';
import { Trainer } from '../lib/train/index.js';
import { defaultConfig, mergeConfig, resolveOptimizer, type RunConfig } from '../lib/cli/config.js';
import { makeOptimizer, modelConfigOf } from '../lib/cli/train_cmd.js';
import { readRun, readRuns, runsCharts, runsMarkdown, summarize } from '../lib/research/compare_runs.js';
import { lmforge, oneLineError } from './cli_run.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-compare-'));

function corpusDir(): string {
  const d = tmp();
  const words = ['the cat', 'a dog', 'my bird', 'one fish'];
  for (let i = 0; i < 12; i++)
    writeFileSync(join(d, `doc${String(i).padStart(2, '0')}.txt`), Array.from({ length: 8 }, (_, j) => `${words[(i + j) % 4]} sat near ${words[(i + 2 * j) % 4]}.`).join(' '));
  return d;
}

const TINY = { model: { layers: 1, dim: 32, heads: 2, seqLen: 32 }, train: { steps: 6, batchSize: 4, evalEvery: 3, evalBatches: 2, checkpointEvery: 0, sampleTokens: 0, threads: 1 }, data: { valFraction: 0.2 } };

/** Optimizer state bytes counted by hand from the tensors' sizes, independently of Optimizer.stateBytes(). */
function expectedStateBytes(name: string, params: readonly Tensor[]): number {
  return params.reduce((s, p) => {
    const n = p.size;
    switch (name) {
      case 'adamw8bit': // two uint8 codes per element and one float32 absmax per 256-element block per moment; small tensors fp32
        return s + (n >= 4096 ? 2 * n + 2 * 4 * Math.ceil(n / 256) : 8 * n);
      case 'lion':
      case 'sgd':
        return s + 4 * n;
      default:
        return s + 8 * n;
    }
  }, 0);
}

describe('parameters and optimizer state in config.json and log.jsonl', () => {
  let ds: TokenDataset | undefined;
  const data = async (): Promise<TokenDataset> =>
    (ds ??= await tokenizeDocuments(
      Array.from({ length: 20 }, (_, i) => ({ source: `d${i}`, text: `document ${i}: the cat sat on the mat, the dog ran past the cat. `.repeat(4) })),
      new ByteTokenizer(),
      { valFraction: 0.2, seed: 1 },
    ));

  const makers: [string, (ps: Tensor[]) => Optimizer][] = [
    ['adamw', (ps) => new AdamW(ps) as unknown as Optimizer],
    ['adamw8bit', (ps) => new Adam8bit(ps) as unknown as Optimizer],
    ['lion', (ps) => new Lion(ps, { lr: 1e-4 }) as unknown as Optimizer],
    ['sgd', (ps) => new SGD(ps, { lr: 0.01, momentum: 0.9 }) as unknown as Optimizer],
    ['sophia', (ps) => new SophiaG(ps, { lr: 1e-4 }) as unknown as Optimizer],
  ];
  for (const [name, make] of makers)
    it(`the Trainer's first log record is a 'run' record with the parameter count and ${name}'s real state bytes`, async () => {
      const config = { vocabSize: 257, seqLen: 16, layers: 1, dim: 64, heads: 2, seed: 1 } as const;
      const model = new GPT(config);
      const optimizer = make(model.parameters());
      const logFile = join(tmp(), 'log.jsonl');
      new Trainer({ model, optimizer, data: await data(), batchSize: 2, maxSteps: 1, evalBatches: 1, progress: 'none', logFile }).fit();
      const first = JSON.parse(readFileSync(logFile, 'utf8').split('\n')[0]!) as Record<string, number | string>;
      const want = expectedStateBytes(name, model.parameters());
      expect(first.type).toBe('run');
      expect(first.step).toBe(0);
      expect(first.parameters).toBe(parameterCount(config));
      expect(first.optimizerStateBytes).toBe(want);
      expect(first.stateBytesPerParam).toBeCloseTo(want / parameterCount(config), 12);
      expect(first.optimizer).toBe(optimizer.name);
      if (name === 'adamw8bit') {
        // The embedding (257 × 64) is 8-bit, the rest small enough for fp32 state: between 2 and 8 bytes.
        expect(first.stateBytesPerParam).toBeGreaterThan(2);
        expect(first.stateBytesPerParam).toBeLessThan(8);
      } else expect(first.stateBytesPerParam).toBe({ adamw: 8, lion: 4, sgd: 4, sophia: 8 }[name]);
    });
});

describe('lmforge compare runs', () => {
  it('two tiny runs of lmforge train: config.json and log.jsonl hold their sizes; the table and both charts show both runs', async () => {
    const d = tmp();
    const corpus = corpusDir();
    writeFileSync(join(d, 'cfg.json'), JSON.stringify(TINY));
    const a = join(d, 'adamw'), b = join(d, 'adamw8bit');
    const [ta, tb] = await Promise.all([
      lmforge(['train', corpus, '--config', join(d, 'cfg.json'), '--out', a, '--quiet']),
      lmforge(['train', corpus, '--config', join(d, 'cfg.json'), '--out', b, '--optimizer', 'adamw8bit', '--quiet']),
    ]);
    expect(ta.code, ta.stderr).toBe(0);
    expect(tb.code, tb.stderr).toBe(0);

    for (const [dir, name] of [[a, 'adamw'], [b, 'adamw8bit']] as const) {
      const written = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as RunConfig & { stats: Record<string, number> };
      // The same model and optimizer rebuilt here from the recorded config: the recorded figures are theirs.
      const cfg = mergeConfig(defaultConfig(), written, 'config.json'); // 'stats' does not stop it serving as --config
      const model = new GPT(modelConfigOf(cfg, 257));
      const opt = makeOptimizer(resolveOptimizer(cfg.optimizer, 6), model);
      expect(written.stats.parameters).toBe(parameterCount(modelConfigOf(cfg, 257)));
      expect(written.stats.optimizerStateBytes).toBe(opt.stateBytes());
      expect(written.stats.optimizerStateBytes).toBe(expectedStateBytes(name, model.parameters()));
      expect(written.stats.stateBytesPerParam).toBeCloseTo(opt.stateBytes() / model.numParameters(), 12);
      const run = JSON.parse(readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n')[0]!) as Record<string, number>;
      expect(run).toMatchObject({ type: 'run', parameters: written.stats.parameters, stateBytesPerParam: written.stats.stateBytesPerParam });
    }

    const o = join(d, 'cmp');
    const r = await lmforge(['compare', 'runs', a, b, '--out', o]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').filter((l) => l.startsWith('| adamw'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^\| adamw \| [\d,]+ \| AdamW \| 8\.00 \| 6 \| 768 \| /);
    expect(rows[1]).toMatch(/^\| adamw8bit \| [\d,]+ \| AdamW8bit \| [2-7]\.\d\d \| 6 \| 768 \| /);
    expect(readFileSync(join(o, 'runs.md'), 'utf8')).toContain(rows[0]!);
    const report = JSON.parse(readFileSync(join(o, 'runs.json'), 'utf8')) as { runs: { valLoss: number }[] };
    const finalA = readFileSync(join(a, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x.type === 'eval' && x.final)!;
    expect(report.runs[0]!.valLoss).toBe(finalA.loss);
    for (const f of ['runs_train_loss.svg', 'runs_val_bpb.svg']) {
      const svg = readFileSync(join(o, f), 'utf8');
      expect([...svg.matchAll(/class="series" data-name="([^"]*)"/g)].map((m) => m[1])).toEqual(['adamw', 'adamw8bit']);
    }
    // Evaluations at steps 3 and 6 (the final one): two points per validation series.
    const val = readFileSync(join(o, 'runs_val_bpb.svg'), 'utf8');
    for (const g of val.matchAll(/<g class="series"[^>]*>([\s\S]*?)<\/g>/g)) expect(g[1]!.match(/<circle/g)).toHaveLength(2);
  }, 120_000);

  it('reads the tokens of each evaluation from its step, keeps the last record of a step logged twice, and names colliding folders by path', () => {
    const root = tmp();
    const mk = (sub: string, lines: object[]): string => {
      const dir = join(root, sub);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'log.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      return dir;
    };
    const step = (n: number, loss: number, rss = 100): object => ({ type: 'step', step: n, loss, tokens: n * 64, seconds: 0.5, rssBytes: rss });
    const a = mk('x/run', [
      { type: 'run', step: 0, parameters: 1000, optimizer: 'Lion', optimizerStateBytes: 4000, stateBytesPerParam: 4 },
      step(1, 5), step(2, 4, 300), { type: 'eval', step: 2, final: false, loss: 4.2, bitsPerByte: 6, tokens: 99 },
      step(2, 3.9), // a resume from step 1 logged step 2 again
      step(3, 3.5), { type: 'eval', step: 3, final: true, loss: 3.6, bitsPerByte: 5.2, tokens: 99 },
    ]);
    const b = mk('y/run', [step(1, 6), step(2, 5)]);
    const runs = readRuns([a, b]);
    expect(runs.map((r) => r.name)).toEqual([a, b]);
    expect(runs[0]!.steps.map((s) => s.loss)).toEqual([5, 3.9, 3.5]);
    expect(runs[0]!.evals.map((e) => [e.step, e.tokens])).toEqual([[2, 128], [3, 192]]);
    const s = summarize(runs[0]!);
    expect(s).toMatchObject({ parameters: 1000, optimizer: 'Lion', stateBytesPerParam: 4, steps: 3, tokens: 192, valLoss: 3.6, valBitsPerByte: 5.2, tokensPerSec: 192 / 1.5, peakRssBytes: 100 });
    const md = runsMarkdown([s, summarize(runs[1]!)]);
    expect(md).toContain('| 1,000 | Lion | 4.00 | 3 | 192 | 3.6000 | 5.200 | 128 |');
    expect(md.split('\n')[3]).toMatch(/\| – \| – \| – \| 2 \| 128 \| – \| – \|/); // no sizes, no evaluation
    const charts = runsCharts(runs, 'steps');
    expect(charts[1]!.svg).toContain('optimizer steps');
    expect(readRun(a).name).toBe('run');
  });

  it('bad folders and logs give a ValueError naming the file and line', () => {
    const root = tmp();
    const mk = (sub: string, log: string | null, config?: string): string => {
      const dir = join(root, sub);
      mkdirSync(dir, { recursive: true });
      if (log !== null) writeFileSync(join(dir, 'log.jsonl'), log);
      if (config !== undefined) writeFileSync(join(dir, 'config.json'), config);
      return dir;
    };
    const ok = '{"type":"step","step":1,"loss":3,"tokens":10,"seconds":1}\n';
    const cases: [string, RegExp][] = [
      [join(root, 'missing'), /missing is not a folder/],
      [mk('nolog', null), /nolog has no log\.jsonl/],
      [mk('corrupt', `${ok}${ok}{"type":"step", "step": 2,\n`), /corrupt[/\\]log\.jsonl:3 is not valid JSON/],
      [mk('nokey', `${ok}{"type":"step","step":2,"loss":3,"seconds":1}\n`), /nokey[/\\]log\.jsonl:2: a 'step' record needs a number 'tokens', got undefined/],
      [mk('nan', `${ok}{"type":"eval","step":1,"loss":"x","bitsPerByte":1}\n`), /nan[/\\]log\.jsonl:2: a 'eval' record needs a number 'loss', got "x"/],
      [mk('array', `[1,2]\n`), /array[/\\]log\.jsonl:1: expected a JSON object/],
      [mk('empty', ''), /empty[/\\]log\.jsonl holds no 'step' records/],
      [mk('orphan', `${ok}{"type":"eval","step":5,"loss":3,"bitsPerByte":1}\n`), /orphan[/\\]log\.jsonl:2: an evaluation at step 5, which has no 'step' record/],
      [mk('badcfg', ok, '{"model": '), /badcfg[/\\]config\.json is not valid JSON/],
    ];
    for (const [dir, re] of cases) {
      expect(() => readRun(dir), dir).toThrow(ValueError);
      expect(() => readRun(dir), dir).toThrow(re);
    }
    expect(() => readRuns([])).toThrow(/give at least one run folder/);
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });

  it('the command fails with one line on a missing folder or none', async () => {
    const d = tmp();
    const [none, missing, badX] = await Promise.all([
      lmforge(['compare', 'runs']),
      lmforge(['compare', 'runs', join(d, 'nope')]),
      lmforge(['compare', 'runs', d, '--x', 'time']),
    ]);
    oneLineError(none, /^compare runs: give at least one run folder$/, 2);
    oneLineError(missing, /^compare runs: .*nope is not a folder$/, 2);
    oneLineError(badX, /--x must be (one of )?tokens or steps/, 2);
  });
});
