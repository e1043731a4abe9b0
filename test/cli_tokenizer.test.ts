// `lmforge tokenizer train|stats`, `train --tokenizer` and `compare tokenizers`, end to end on a tiny corpus.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadTokenizer } from '../lib/data/tokenizer.js';
import { lmforge as run, oneLineError, type Run } from './cli_run.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-tokcli-'));
// cwd is a temporary folder (relative paths in the commands land there), with its own token cache.
const lmforge = (args: string[], cwd: string): Promise<Run> => run(args, { cwd, cache: join(cwd, 'cache') });

// 16 documents of a few hundred bytes: enough words for both trainers to learn merges and pieces.
function corpus(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const words = ['the cat', 'a dog', 'my bird', 'one fish', 'sat', 'near', 'under', 'über café', 'naïve'];
  for (let i = 0; i < 16; i++) {
    const text = Array.from({ length: 30 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
    writeFileSync(join(dir, `doc${String(i).padStart(2, '0')}.txt`), `${text}.\n`);
  }
  return dir;
}

describe('lmforge tokenizer', () => {
  it('trains BPE and Unigram files that load, round-trip, and drive train --tokenizer', async () => {
    const d = tmp();
    const text = corpus(join(d, 'text'));
    const [bpe, uni] = await Promise.all([
      lmforge(['tokenizer', 'train', '--type', 'bpe', '--vocab', '400', '--out', 'bpe.json', text], d),
      lmforge(['tokenizer', 'train', '--type', 'unigram', '--vocab', '400', '--out', 'uni.json', text], d),
    ]);
    expect(bpe.code, bpe.stderr).toBe(0);
    expect(uni.code, uni.stderr).toBe(0);
    expect(bpe.stdout).toMatch(/bpe tokenizer, vocabulary \d+, trained in/);
    // The files are standard tokenizer.json and load through lmforge's loader with their own encoder.
    expect(JSON.parse(readFileSync(join(d, 'bpe.json'), 'utf8')).model.type).toBe('BPE');
    expect(JSON.parse(readFileSync(join(d, 'uni.json'), 'utf8')).model.type).toBe('Unigram');
    for (const f of ['bpe.json', 'uni.json']) {
      const tok = loadTokenizer(join(d, f));
      const s = 'the cat sat near über café';
      const ids = await tok.encode(s);
      expect(ids.length).toBeLessThan(Buffer.byteLength(s)); // merges happened: fewer tokens than bytes
      expect(await tok.decode(ids)).toBe(s);
    }

    const stats = await lmforge(['tokenizer', 'stats', '--tokenizer', 'bpe.json', '--json', text], d);
    expect(stats.code, stats.stderr).toBe(0);
    const st = JSON.parse(stats.stdout) as { documents: number; bytes: number; tokens: number; bytesPerToken: number; idsUsed: number };
    expect(st.documents).toBe(16);
    expect(st.bytesPerToken).toBeCloseTo(st.bytes / st.tokens, 10);
    expect(st.bytesPerToken).toBeGreaterThan(1.5);
    expect(st.idsUsed).toBeGreaterThan(10);

    const cfg = { model: { layers: 1, dim: 32, heads: 2, seqLen: 16 }, train: { steps: 3, batchSize: 2, evalEvery: 0, checkpointEvery: 3, sampleTokens: 0 }, data: { valFraction: 0.2 } };
    writeFileSync(join(d, 'cfg.json'), JSON.stringify(cfg));
    const tr = await lmforge(['train', '--config', 'cfg.json', '--tokenizer', 'uni.json', '--out', 'run', '--quiet', text], d);
    expect(tr.code, tr.stderr).toBe(0);
    expect(tr.stdout).toMatch(/validation: loss [\d.]+ nats\/token, [\d.]+ bits per byte/);
    // The checkpoint records the tokenizer file, so sample reloads it.
    const sm = await lmforge(['sample', '--checkpoint', 'run', '--prompt', 'the cat', '--tokens', '3'], d);
    expect(sm.code, sm.stderr).toBe(0);
    expect(sm.stdout.startsWith('the cat')).toBe(true);
  }, 120_000);

  it('bad input: one clear line and a non-zero exit', async () => {
    const d = tmp();
    const text = corpus(join(d, 'text'));
    writeFileSync(join(d, 'broken.json'), '{ "model": ');
    const runs = await Promise.all([
      lmforge(['tokenizer', 'train', '--type', 'wordpiece', '--out', 'x.json', text], d),
      lmforge(['tokenizer', 'train', '--type', 'bpe', '--vocab', '100', '--out', 'x.json', text], d),
      lmforge(['tokenizer', 'train', '--type', 'bpe', '--vocab', '400', text], d),
      lmforge(['tokenizer', 'train', '--type', 'bpe', '--vocab', 'many', '--out', 'x.json', text], d),
      lmforge(['tokenizer', 'stats', '--tokenizer', 'missing.json', text], d),
      lmforge(['tokenizer', 'stats', '--tokenizer', 'broken.json', text], d),
      lmforge(['tokenizer', 'frobnicate'], d),
      lmforge(['compare', 'optimizers'], d),
      lmforge(['compare', 'tokenizers', '--vocab', '100', '--bytes', '1000', text], d),
    ]);
    oneLineError(runs[0]!, /--type must be bpe or unigram, got 'wordpiece'/);
    oneLineError(runs[1]!, /vocabSize 100 is smaller than the alphabet/);
    oneLineError(runs[2]!, /--out FILE\.json is required/);
    oneLineError(runs[3]!, /--vocab must be a positive integer, got 'many'/);
    oneLineError(runs[4]!, /cannot read tokenizer file 'missing\.json'/);
    oneLineError(runs[5]!, /broken\.json/);
    oneLineError(runs[6]!, /unknown subcommand 'frobnicate'/);
    oneLineError(runs[7]!, /unknown comparison 'optimizers'/);
    oneLineError(runs[8]!, /vocabSize 100 is smaller than the alphabet/);
  }, 120_000);
});

describe('lmforge compare tokenizers', () => {
  it('trains the same GPT on byte, BPE and Unigram tokens for the same bytes and reports bits per byte', async () => {
    const d = tmp();
    const text = corpus(join(d, 'text'));
    const r = await lmforge(['compare', 'tokenizers', '--vocab', '400', '--bytes', '4000', '--seq-len', '32', '--out', 'cmp', text], d);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(d, 'cmp', 'tokenizers.json'), 'utf8')) as {
      bytes: number; runs: { type: string; bytesPerToken: number; steps: number; tokens: number; valBitsPerByte: number }[];
    };
    expect(rep.runs.map((x) => x.type)).toEqual(['byte', 'bpe', 'unigram']);
    const [byte, bpe, uni] = rep.runs;
    expect(byte!.bytesPerToken).toBeGreaterThan(0.9); // end-of-document tokens make it a little under 1
    expect(byte!.bytesPerToken).toBeLessThanOrEqual(1);
    // Same bytes, so a tokenizer with longer tokens trains on proportionally fewer tokens.
    for (const x of [bpe!, uni!]) {
      expect(x.bytesPerToken).toBeGreaterThan(1.5);
      expect(x.steps).toBeLessThan(byte!.steps);
      expect(Number.isFinite(x.valBitsPerByte) && x.valBitsPerByte > 0).toBe(true);
    }
    expect(readFileSync(join(d, 'cmp', 'tokenizers.md'), 'utf8')).toMatch(/\| unigram \| \d+ \|/);
  }, 180_000);
});
