import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { lmforge, oneLineError } from './cli_run.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-cli-'));

function corpus(): string {
  const d = tmp();
  const words = ['the cat', 'a dog', 'my bird', 'one fish'];
  for (let i = 0; i < 12; i++)
    writeFileSync(join(d, `doc${String(i).padStart(2, '0')}.txt`), Array.from({ length: 8 }, (_, j) => `${words[(i + j) % 4]} sat near ${words[(i + 2 * j) % 4]}.`).join(' '));
  return d;
}

const TINY = { model: { layers: 1, dim: 32, heads: 2, seqLen: 32 }, train: { steps: 6, batchSize: 4, evalEvery: 3, evalBatches: 2, checkpointEvery: 3, sampleTokens: 10 }, data: { valFraction: 0.2 } };

describe('lmforge CLI: bad input exits non-zero with one clear line', () => {
  it('missing file, bad config key, unknown option, empty corpus, missing checkpoint, bad values', async () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.json'), JSON.stringify({ model: { dimm: 64 } }));
    writeFileSync(join(d, 'badtype.json'), JSON.stringify({ optimizer: { lr: 'fast' } }));
    writeFileSync(join(d, 'notjson.json'), '{ model: ');
    mkdirSync(join(d, 'empty'));
    writeFileSync(join(d, 'empty', 'a.txt'), '\n\n');
    const runs = await Promise.all([
      lmforge(['train', join(d, 'nope.txt')]),
      lmforge(['train', '--config', join(d, 'bad.json')]),
      lmforge(['train', '--config', join(d, 'badtype.json')]),
      lmforge(['train', '--config', join(d, 'notjson.json')]),
      lmforge(['train', '--config', join(d, 'missing.json')]),
      lmforge(['train', '--frobnicate', '3']),
      lmforge(['train', join(d, 'empty')]),
      lmforge(['sample', '--checkpoint', join(d, 'nothing-here')]),
      lmforge(['train', '--lr', 'abc']),
      lmforge(['frob']),
      lmforge(['data', 'stats', '--seq-len', '0']),
    ]);
    oneLineError(runs[0]!, /no such file or folder: '.*nope.txt'/);
    oneLineError(runs[1]!, /unknown key 'model.dimm' in .*bad.json/);
    oneLineError(runs[2]!, /optimizer.lr in .*badtype.json must be a finite number, got "fast"/);
    oneLineError(runs[3]!, /notjson.json is not valid JSON/);
    oneLineError(runs[4]!, /cannot read config file '.*missing.json'/);
    oneLineError(runs[5]!, /unknown option --frobnicate/);
    oneLineError(runs[6]!, /no non-empty documents/);
    oneLineError(runs[7]!, /no such checkpoint folder: '.*nothing-here'/);
    oneLineError(runs[8]!, /--lr must be a number or null, got 'abc'/);
    oneLineError(runs[9]!, /unknown command 'frob'/);
    oneLineError(runs[10]!, /--seq-len must be a positive integer, got '0'/);
  });

  it('--help works on every command', async () => {
    const runs = await Promise.all([['--help'], ['train', '--help'], ['eval', '--help'], ['sample', '--help'], ['data', 'stats', '--help'], ['info', '--help'], ['bench', '--help'], ['tokenizer', '--help'], ['compare', '--help']].map((a) => lmforge(a)));
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage|lmforge/);
    }
    expect(runs[1]!.stdout).toContain('--resume DIR');
  });

  it('every subcommand prints its own --help, generated from its option table', async () => {
    const subs = [
      ...['all', 'sweep', 'gemm', 'attention', 'layers', 'optim', 'kernels', 'overhead', 'gpu', 'soak', 'reference'].map((b) => ['bench', b]),
      ['tokenizer', 'train'], ['tokenizer', 'stats'], ['compare', 'tokenizers'], ['data', 'stats'], ['eval'], ['sample'], ['info'],
    ];
    const runs = await Promise.all([...subs.map((s) => lmforge([...s, '--help'])), lmforge(['help', 'bench', 'sweep']), lmforge(['bench', 'gemm', '-h'])]);
    runs.forEach((r, i) => {
      const name = (subs[i] ?? (i === subs.length ? ['bench', 'sweep'] : ['bench', 'gemm'])).join(' ');
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.split('\n')[0], name).toMatch(new RegExp(`^lmforge ${name} — `));
      expect(r.stdout, name).toContain(`Usage: lmforge ${name}`);
    });
    const sweep = runs[1]!.stdout;
    expect(sweep).toMatch(/--seq-lens A,B +sequence lengths \(default 128,256,512,1024,2048,4096; --quick 128,512,2048\)/);
    expect(sweep).not.toContain('--M'); // gemm's option, not the sweep's
    expect(runs[subs.length]!.stdout).toBe(sweep);
  });

  it('a mistyped option gets a suggestion; numbers are checked before any work starts', async () => {
    const d = tmp();
    const runs = await Promise.all([
      lmforge(['train', '--seq-lenn', '64']),
      lmforge(['bench', 'sweep', '--tokens-per-step', '1.5']),
      lmforge(['bench', 'swep']),
      // The checkpoint does not exist: the bad number is reported first, before anything is loaded.
      lmforge(['sample', '--checkpoint', join(d, 'nothing-here'), '--temperature', 'hot']),
      lmforge(['compare', 'tokenizers', '--bytes', '1000,2000']),
    ]);
    oneLineError(runs[0]!, /^train: unknown option --seq-lenn \(did you mean --seq-len\?\)$/, 2);
    oneLineError(runs[1]!, /^bench sweep: --tokens-per-step must be a positive integer, got '1\.5'$/, 2);
    oneLineError(runs[2]!, /^bench: unknown benchmark 'swep' \(did you mean sweep\?\)$/, 2);
    oneLineError(runs[3]!, /^sample: --temperature must be a non-negative number, got 'hot'$/, 2);
    oneLineError(runs[4]!, /^compare tokenizers: --bytes must be a positive integer, got '1000,2000'$/, 2);
  });

  it('--data is repeatable: every file given is read', async () => {
    const d = tmp();
    const r = await lmforge(['train', '--data', join(d, 'first-missing.txt'), '--data', join(d, 'second-missing.txt')]);
    oneLineError(r, /no such file or folder: '.*first-missing\.txt'/, 2);
  });
});

describe('lmforge CLI end to end', () => {
  it('train with a tiny config, then sample, eval and resume from its checkpoint; data stats', async () => {
    const d = tmp();
    const data = corpus();
    const out = join(d, 'run');
    writeFileSync(join(d, 'cfg.json'), JSON.stringify(TINY));
    const t = await lmforge(['train', data, '--config', join(d, 'cfg.json'), '--out', out, '--lr', '0.01']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/validation: loss [\d.]+ nats\/token, [\d.]+ bits per byte/);
    expect(t.stdout).toMatch(/sample \(temperature/);
    expect(t.stderr).toMatch(/step 6\/6/);
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-00000006');
    expect(existsSync(join(out, 'checkpoints', 'step-00000006', 'model.safetensors'))).toBe(true);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(log.filter((l) => l.type === 'step').length).toBe(6);

    const [s, e, st] = await Promise.all([
      lmforge(['sample', '--checkpoint', out, '--prompt', 'the cat', '--tokens', '12', '--temperature', '0']),
      lmforge(['eval', '--checkpoint', out]),
      lmforge(['data', 'stats', data, '--seq-len', '64']),
    ]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout.startsWith('the cat')).toBe(true);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/step 6\)/);
    expect(e.stdout).toMatch(/bits per byte/);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/documents: 12;/);
    expect(st.stdout).toMatch(/longer than 64 tokens: 100.0% of documents/);

    const r = await lmforge(['train', '--resume', out, '--steps', '8', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-00000008');
    const tooLong = await lmforge(['sample', '--checkpoint', out, '--tokens', '500']);
    oneLineError(tooLong, /--tokens 500 does not fit/);
  });

  it('--precision bf16 trains with bfloat16 compute and records it; an unknown precision is a clear error', async () => {
    const d = tmp();
    const text = corpus();
    writeFileSync(join(d, 'tiny.json'), JSON.stringify({ ...TINY, train: { ...TINY.train, checkpointEvery: 0 } }));
    const out = join(d, 'run');
    const [ok, bad] = await Promise.all([
      lmforge(['train', text, '--config', join(d, 'tiny.json'), '--precision', 'bf16', '--out', out, '--quiet']),
      lmforge(['train', text, '--config', join(d, 'tiny.json'), '--precision', 'fp16', '--out', join(d, 'bad'), '--quiet']),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/validation: loss [\d.]+ nats\/token/);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model.precision).toBe('bf16');
    oneLineError(bad, /unknown precision "fp16" \(expected one of: fp32, bf16\)/);
  });
});
