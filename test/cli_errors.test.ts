// The lmforge command on bad runs and bad surroundings: NaN weights, a diverging learning rate, a model
// too large for the machine, a dangling symbolic link, a closed stdout, files without an extension.
import { mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { lmforge, oneLineError, type Run } from './cli_run.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-clierr-'));

function corpus(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const words = ['the cat', 'a dog', 'my bird', 'one fish', 'sat near'];
  for (let i = 0; i < 12; i++) writeFileSync(join(dir, `doc${String(i).padStart(2, '0')}.txt`), Array.from({ length: 40 }, (_, j) => words[(i + 2 * j) % 5]).join(' '));
  return dir;
}

function tinyConfig(dir: string, train: Record<string, unknown> = {}): string {
  const p = join(dir, 'cfg.json');
  writeFileSync(p, JSON.stringify({
    model: { layers: 1, dim: 32, heads: 2, seqLen: 32 },
    train: { steps: 4, batchSize: 4, evalEvery: 0, evalBatches: 2, checkpointEvery: 0, sampleTokens: 0, ...train },
    data: { valFraction: 0.2 },
  }));
  return p;
}

/** Overwrites the first value of the first tensor of a safetensors file with a float32 NaN. */
function poisonSafetensors(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE());
    const head = Buffer.alloc(n);
    readSync(fd, head, 0, n, 8);
    const meta = JSON.parse(head.toString('utf8')) as Record<string, { dtype?: string; data_offsets?: [number, number] }>;
    const first = Object.entries(meta).find(([k, v]) => k !== '__metadata__' && v.dtype === 'F32')![1];
    const nan = Buffer.alloc(4);
    nan.writeFloatLE(NaN);
    writeSync(fd, nan, 0, 4, 8 + n + first.data_offsets![0]);
  } finally {
    closeSync(fd);
  }
}

describe('lmforge CLI on bad runs', () => {
  it('eval and sample of a checkpoint with NaN weights exit non-zero and say so', async () => {
    const d = tmp();
    const data = corpus(join(d, 'data'));
    const t = await lmforge(['train', data, '--config', tinyConfig(d), '--out', join(d, 'run'), '--quiet'], { cache: join(d, 'cache') });
    expect(t.code, t.stderr).toBe(0);
    const ck = join(d, 'run', 'checkpoints', readFileSync(join(d, 'run', 'checkpoints', 'latest'), 'utf8').trim());
    poisonSafetensors(join(ck, 'model.safetensors'));
    const [e, s] = await Promise.all([
      lmforge(['eval', '--checkpoint', join(d, 'run')], { cache: join(d, 'cache') }),
      lmforge(['sample', '--checkpoint', join(d, 'run'), '--tokens', '4']),
    ]);
    oneLineError(e, /eval: .*step-00000004 holds non-finite weights: 1 value in '[\w.]+' is NaN/, 2);
    oneLineError(s, /sample: .*step-00000004 holds non-finite weights: 1 value in '[\w.]+' is NaN/, 2);
  });

  it('an implausible learning rate is warned about up front; a run whose steps are skipped for non-finite gradients fails', async () => {
    const d = tmp();
    const data = corpus(join(d, 'data'));
    const cfg = tinyConfig(d, { steps: 30 });
    const run = (name: string, flags: string[]): Promise<Run> => lmforge(['train', data, '--config', cfg, '--out', join(d, name), '--quiet', ...flags], { cache: join(d, 'cache') });
    const [long, short, nan, fine] = await Promise.all([
      run('a', ['--lr', '1e30']),
      run('b', ['--lr', '1e29', '--steps', '6']),
      run('c', ['--lr', '1e20', '--decay', 'constant']),
      run('d', ['--lr', '0.01', '--steps', '3']),
    ]);
    for (const r of [long, short, nan]) {
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines.length, r.stderr).toBe(2);
      expect(lines[0]).toMatch(/^lmforge train: warning: learning rate 1e\+(30|29|20) is implausibly large for adamw \(above 0\.1; usual values are 1e-4 to 1e-2\)/);
      expect(lines[1]).toMatch(/^Trainer: .*training stopped/);
      expect(r.stdout).not.toMatch(/trained \d+ steps/);
    }
    // Here the first (warm-up) step overflows the weights; every later gradient is NaN, and the optimizer skips its step.
    expect(long.stderr).toMatch(/Trainer: 10 steps in a row were skipped \(non-finite gradients\), the last at step \d+ \(lr [\d.]+e\+\d+\); training stopped/);
    expect(short.stderr).toMatch(/Trainer: \d of the 6 steps of this run were skipped \(non-finite gradients\); training stopped/);
    expect(nan.stderr).toMatch(/Trainer: (loss is NaN at step \d+|10 steps in a row were skipped)/);
    expect(fine.code, fine.stderr).toBe(0);
    expect(fine.stderr).toBe('');
  });

  it('a model too large for this machine is refused before anything is allocated', async () => {
    const d = tmp();
    const data = corpus(join(d, 'data'));
    // About 5e14 parameters: no machine holds its weights.
    const r = await lmforge(['train', data, '--config', tinyConfig(d), '--out', join(d, 'run'), '--dim', '65536', '--layers', '10000', '--heads', '1', '--quiet']);
    oneLineError(r, /train: this run needs about [\d.]+ PiB of memory \(5\d\d\.\dT parameters: weights, gradients and adamw state [\d.]+ PiB, activations [\d.]+ \w+\), more than this machine's [\d.]+ GiB; use a smaller model or batch, or --force to try anyway/, 2);
  });
});

describe('lmforge CLI on bad surroundings', () => {
  it('a dangling symbolic link in a data folder is one line and exit 2', async () => {
    const d = tmp();
    const data = corpus(join(d, 'data'));
    symlinkSync(join(d, 'moved-away.txt'), join(data, 'link.txt'));
    const [tr, st] = await Promise.all([
      lmforge(['train', data, '--config', tinyConfig(d), '--out', join(d, 'run')], { cache: join(d, 'cache') }),
      lmforge(['data', 'stats', data]),
    ]);
    for (const r of [tr, st]) oneLineError(r, /loadDocuments: '.*link\.txt' is a symbolic link to '.*moved-away\.txt', which does not exist/, 2);
  });

  it('a closed stdout (lmforge ... | head) ends the command quietly', async () => {
    const d = tmp();
    const data = corpus(join(d, 'data'));
    // The reading end is closed before the command writes its first line.
    const r = await lmforge(['tokenizer', 'stats', data], { onSpawn: (child) => child.stdout!.destroy() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('data stats and train read text files without an extension and report the files they skip', async () => {
    const d = tmp();
    const data = corpus(join(d, 'data'));
    writeFileSync(join(data, 'ca01'), 'a text file named like the Brown corpus files, without an extension');
    writeFileSync(join(data, 'LICENSE'), 'text too');
    writeFileSync(join(data, 'core'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]));
    writeFileSync(join(data, 'notes.csv'), 'a,b\n');
    const [st, js, tr] = await Promise.all([
      lmforge(['data', 'stats', data]),
      lmforge(['data', 'stats', data, '--json']),
      lmforge(['train', data, '--config', tinyConfig(d), '--out', join(d, 'run')], { cache: join(d, 'cache') }),
    ]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/documents: 14;/);
    expect(st.stdout).toMatch(/skipped 2 of 16 files: 1 binary without an extension \(core\), 1 not a text extension \(\.csv\)/);
    expect(js.code, js.stderr).toBe(0);
    const j = JSON.parse(js.stdout) as { documents: number; skippedFiles: { path: string; reason: string }[] };
    expect(j.documents).toBe(14);
    expect(j.skippedFiles.map((s) => s.reason)).toEqual(['binary', 'extension']);
    expect(tr.code, tr.stderr).toBe(0);
    expect(tr.stderr).toMatch(/data: .*: 14 documents/);
    expect(tr.stderr).toMatch(/skipped 2 of 16 files: 1 binary without an extension \(core\), 1 not a text extension \(\.csv\)/);
  });
});
