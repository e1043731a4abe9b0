// Vitest global setup: every temporary folder the suites and their child processes make (mkdtemp under
// os.tmpdir(), run folders, token caches) goes into one folder per run, removed when the run ends, so
// that repeated runs on one machine (CI's included) do not fill the system's temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-tests-'));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
