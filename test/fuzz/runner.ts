/**
 * Runs the malformed fuzz cases in child processes (test/fuzz/child.ts under tsx) and counts crashes: a
 * child that dies by a signal (abort, segfault), exits non-zero, or stops answering in the middle of a
 * case. After a crash the run goes on in a fresh child from the next case, so one run finds every crash.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BASE_SEED } from '../reference/prng.js';
import type { Expect, Outcome } from './malformed.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
// Resolved from the project, so the child can run in a scratch working directory.
const TSX = import.meta.resolve('tsx');
// A safety net, not a speed check: a child silent this long is counted as a crash (a hang) and killed.
const SILENT_MS = 120_000;

export interface CaseRecord extends Outcome {
  entry: string;
  what: string;
  expect: Expect;
}

export interface Crash {
  index: number;
  /** The call, when the child got as far as describing it. */
  what: string;
  /** How the child ended: 'signal SIGABRT', 'exit 1', 'hang'. */
  how: string;
  /** The end of the child's stderr (the native message or the JS stack). */
  stderr: string;
}

export interface MalformedRun {
  records: Map<number, CaseRecord>;
  crashes: Crash[];
}

interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  hung: boolean;
  stderr: string;
}

function runChild(from: number, to: number, file: string, env: Record<string, string>): Promise<ChildEnd> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CHILD, String(from), String(to), file], {
      cwd: tmpdir(), // a core file, if the system writes one, lands there
      env: { ...process.env, LMF_TEST_SEED: String(BASE_SEED), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let hung = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    // The results file grows with every case; a child whose file stops growing has hung.
    let lastSize = -1, lastChange = Date.now();
    const poll = setInterval(() => {
      const size = fileSize(file);
      if (size !== lastSize) [lastSize, lastChange] = [size, Date.now()];
      else if (Date.now() - lastChange > SILENT_MS && !hung) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 500);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, hung, stderr });
    });
  });
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Runs cases [0, count) (or only `only`) in children; stops after maxCrashes crashes. */
export async function runMalformed(count: number, opts: { only?: number; env?: Record<string, string>; maxCrashes?: number } = {}): Promise<MalformedRun> {
  const dir = mkdtempSync(join(tmpdir(), 'lmf-fuzz-run-'));
  const records = new Map<number, CaseRecord>();
  const crashes: Crash[] = [];
  const end = opts.only !== undefined ? opts.only + 1 : count;
  let next = opts.only ?? 0;
  try {
    for (let run = 0; next < end; run++) {
      const file = join(dir, `results-${run}.txt`);
      const r = await runChild(next, end, file, { LMF_FUZZ_SCRATCH: join(dir, 'scratch'), ...opts.env });
      let started = -1, finished = false, what = '(while building the case)';
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.startsWith('start ')) [started, what] = [Number(line.slice(6)), '(while building the case)'];
        else if (line.startsWith('call ')) what = JSON.parse(line.slice(line.indexOf(' ', 5) + 1)) as string;
        else if (line.startsWith('done ')) {
          const sp = line.indexOf(' ', 5);
          records.set(Number(line.slice(5, sp)), JSON.parse(line.slice(sp + 1)) as CaseRecord);
        } else if (line === 'end') finished = true;
      }
      if (finished && r.code === 0) break;
      if (started < next || records.has(started))
        throw new Error(`the fuzz child failed before its first case (${r.signal ?? `exit ${r.code}`}): ${r.stderr.slice(-1500)}`);
      crashes.push({ index: started, what, how: r.hung ? 'hang' : r.signal ? `signal ${r.signal}` : `exit ${r.code}`, stderr: r.stderr.slice(-1500) });
      if (crashes.length >= (opts.maxCrashes ?? 20)) break;
      next = started + 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { records, crashes };
}
