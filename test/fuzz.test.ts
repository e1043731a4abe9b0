/**
 * Seeded fuzzing (issue 14):
 * - valid inputs: random ops on random shapes that no tile size divides, random data, often through
 *   non-contiguous views, against the float64 references in test/reference/ (test/fuzz/valid.ts);
 * - malformed inputs to every public entry point (test/fuzz/malformed.ts), run in child processes: no call
 *   may crash the process, and each invalid call must throw an lmforge error (ShapeError, DTypeError,
 *   DeviceError, DisposedError, ValueError, ArgumentTypeError, OutOfMemoryError, NativeError), except the
 *   gaps listed in test/fuzz/known.ts.
 * Every failure names the seed and the case: LMF_TEST_SEED=<seed> LMF_FUZZ_CASE=<i> replays case i alone.
 */
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from 'vitest';

import * as lm from '../lib/index.js';
import { describeDevices } from './devices.js';
import { knownGap } from './fuzz/known.js';
import { ENTRY_NAMES } from './fuzz/malformed.js';
import { runMalformed, type MalformedRun } from './fuzz/runner.js';
import { FAMILIES, runValidCase } from './fuzz/valid.js';
import { BASE_SEED, Rng } from './reference/prng.js';

const VALID_CASES = 3000;
const MALFORMED_CASES = 3000;
const only = process.env.LMF_FUZZ_CASE === undefined || process.env.LMF_FUZZ_CASE === '' ? undefined : Number(process.env.LMF_FUZZ_CASE);
const replay = (i: number): string => `LMF_TEST_SEED=${BASE_SEED} LMF_FUZZ_CASE=${i} npx vitest run test/fuzz.test.ts`;

describeDevices('fuzz: valid inputs against the float64 references', () => {
  it(`${only === undefined ? VALID_CASES : 1} random cases`, () => {
    const failures: string[] = [];
    const families = new Set<string>();
    for (let i = only ?? 0; i < (only === undefined ? VALID_CASES : only + 1); i++) {
      try {
        families.add(runValidCase(new Rng(`fuzz valid ${i}`)).family);
      } catch (e) {
        failures.push(`case ${i} (replay: ${replay(i)}): ${(e as Error).message}`);
        if (failures.length >= 5) break;
      }
    }
    if (failures.length > 0) throw new Error(`valid-input fuzz failed, LMF_TEST_SEED=${BASE_SEED}:\n${failures.join('\n')}`);
    if (only === undefined) expect(families.size).toBe(FAMILIES.length);
  });
});

describe('fuzz: malformed input to every public entry point, in a child process', () => {
  let run: MalformedRun;
  beforeAll(async () => {
    run = await runMalformed(MALFORMED_CASES, only === undefined ? {} : { only });
  }, 300_000);

  it('no call crashes the process', () => {
    const lines = run.crashes.map((c) => `case ${c.index} ${c.what}: ${c.how} (replay: ${replay(c.index)})\n${c.stderr}`);
    expect(lines, `crashes, LMF_TEST_SEED=${BASE_SEED}:\n${lines.join('\n')}`).toEqual([]);
  });

  it('every invalid call throws an lmforge error', () => {
    const bad: string[] = [];
    const gaps = new Map<string, number>();
    for (const [i, r] of run.records) {
      const ok = r.result === 'typed' || (r.result === 'returned' && r.expect === 'survives');
      if (ok) continue;
      const gap = knownGap(r.result, r.what);
      if (gap) {
        gaps.set(gap.id, (gaps.get(gap.id) ?? 0) + 1);
        continue;
      }
      const got = r.result === 'returned' ? 'returned without an error' : `threw ${r.cls}: ${r.message}`;
      bad.push(`case ${i} [${r.entry}] ${r.what}: ${got} (replay: ${replay(i)})`);
    }
    if (gaps.size > 0) console.log(`known gaps hit (test/fuzz/known.ts): ${[...gaps].map(([id, n]) => `${id} ${n}`).join(', ')}`);
    expect(bad, `malformed calls without an lmforge error, LMF_TEST_SEED=${BASE_SEED}:\n${bad.slice(0, 30).join('\n')}`).toEqual([]);
    if (only === undefined) {
      expect(run.records.size).toBe(MALFORMED_CASES - run.crashes.length);
      expect(new Set([...run.records.values()].map((r) => r.entry))).toEqual(new Set(ENTRY_NAMES));
    }
  });

  it('covers every exported function and class', () => {
    // Exports with no argument to get wrong, or that answer any input (predicates, a hash), and the error
    // classes; Tensor's methods are fuzzed through tensors.
    const exempt = new Set([
      'Tensor', 'LmforgeError', 'ShapeError', 'DTypeError', 'DeviceError', 'DisposedError', 'ValueError', 'OutOfMemoryError', 'ArgumentTypeError',
      'NativeError', 'Module', 'Optimizer', 'cpuInfo', 'cudaAvailable', 'numThreads', 'getDefaultDevice', 'getRngState', 'isGradEnabled',
      'backendInfo', 'brownCorpus', 'isGated', 'isNoDecay', 'hashUniform', 'distributedEnv',
    ]);
    const src = readFileSync(new URL('./fuzz/malformed.ts', import.meta.url), 'utf8');
    const missing = Object.entries(lm)
      .filter(([name, v]) => typeof v === 'function' && !exempt.has(name))
      .filter(([name]) => !src.includes(`lm.${name}`) && !src.includes(`'${name}'`))
      .map(([name]) => name);
    expect(missing, 'public entry points that test/fuzz/malformed.ts never calls').toEqual([]);
  });

  it('counts a child that dies as a crash, and goes on with the next case', async () => {
    const r = await runMalformed(6, { env: { LMF_FUZZ_DIE_AT: '2' } });
    expect(r.crashes.map((c) => [c.index, c.how])).toEqual([[2, 'signal SIGKILL']]);
    expect([...r.records.keys()].sort()).toEqual([0, 1, 3, 4, 5]);
  }, 60_000);
});
