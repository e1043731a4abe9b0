/**
 * Runs malformed fuzz cases [from, to) of the run's seed (LMF_TEST_SEED) in this process and appends one
 * line per case to a results file: `start i` before the case is built, `call i "what"` before the call and
 * `done i {json}` after it, written synchronously, so that when the process dies the parent knows which
 * call killed it.
 * Usage: node --import tsx test/fuzz/child.ts <from> <to> <results file>
 */
import { closeSync, openSync, writeSync } from 'node:fs';

import { numThreads, setDefaultDevice, setNumThreads, tidy } from '../../lib/index.js';
import { BASE_SEED } from '../reference/prng.js';
import { classify, malformedCase, type Outcome } from './malformed.js';

const [from, to, file] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]!];
// A self-test of the crash counting: die by a signal at this case (SIGKILL rather than abort, so that no
// core file is written).
const dieAt = process.env.LMF_FUZZ_DIE_AT === undefined ? -1 : Number(process.env.LMF_FUZZ_DIE_AT);
const fd = openSync(file, 'a');
const threads = numThreads();

for (let i = from; i < to; i++) {
  writeSync(fd, `start ${i}\n`);
  if (i === dieAt) process.kill(process.pid, 'SIGKILL');
  let info = { entry: '?', what: '?', expect: 'throws' };
  let outcome: Outcome;
  try {
    // The tensors a case makes are freed after it; an async entry point's promise is awaited.
    await tidy(async () => {
      const c = malformedCase(i, BASE_SEED);
      info = { entry: c.entry, what: c.what, expect: c.expect };
      writeSync(fd, `call ${i} ${JSON.stringify(c.what)}\n`);
      await c.run();
    });
    outcome = { result: 'returned' };
  } catch (e) {
    outcome = classify(e);
  }
  // A malformed call that wrongly succeeded must not change the settings the next cases run with.
  setDefaultDevice('cpu');
  if (numThreads() !== threads) setNumThreads(threads);
  writeSync(fd, `done ${i} ${JSON.stringify({ ...info, ...outcome })}\n`);
}
writeSync(fd, 'end\n');
closeSync(fd);
process.exit(0);
