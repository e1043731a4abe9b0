// Runs the lmforge command from source in a child process, for the CLI suites (not a test file itself).
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

const MAIN = join(process.cwd(), 'lib/cli/main.ts');
// Resolved from the project, so that the command can run with any working directory.
const TSX = import.meta.resolve('tsx');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Working directory (default the project's). */
  cwd?: string;
  /** Token cache folder (XDG_CACHE_HOME; default a shared one under the system temporary folder). */
  cache?: string;
  /** Flags for node itself, before the command (e.g. V8 heap sizes). */
  nodeFlags?: string[];
  /** Called right after the spawn, e.g. to close the child's stdout. */
  onSpawn?: (child: ChildProcess) => void;
}

export function lmforge(args: string[], opts: RunOptions = {}): Promise<Run> {
  return new Promise((resolve) => {
    const cache = opts.cache ?? join(tmpdir(), 'lmf-cli-cache');
    const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), '--import', TSX, MAIN, ...args], { cwd: opts.cwd ?? process.cwd(), env: { ...process.env, XDG_CACHE_HOME: cache } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    opts.onSpawn?.(child);
  });
}

/** A non-zero exit with exactly one line on stderr, matching `re`, and no stack trace. */
export function oneLineError(r: Run, re: RegExp, code?: number): void {
  if (code === undefined) expect(r.code, r.stderr).not.toBe(0);
  else expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines.length, r.stderr).toBe(1);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}
