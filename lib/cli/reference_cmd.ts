/** `lmforge bench reference`: the issue-8 reference configuration, lmforge vs PyTorch in one run (lib/bench/reference.ts). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ValueError } from '../errors.js';
import { benchReference, referenceMarkdown } from '../bench/reference.js';
import { setNumThreads } from '../runtime.js';
import { intList, parseArgs } from './args.js';

export const REFERENCE_HELP = `lmforge bench reference — the reference configuration (6 layers, width 384, 6 heads, seq 256, batch 8,
vocab 8192, RoPE, SwiGLU, RMSNorm, AdamW, fp32), lmforge and PyTorch side by side in one run, and where each
step's time goes (by native op for lmforge, by aten op for PyTorch).

Options:
  --peer torch|none     the PyTorch peer (default torch where a python3 with torch is found)
  --threads N           threads for both sides (default: lmforge's current count)
  --rounds N            alternating rounds (default 3; 1 with --quick)
  --steps N             timed steps per side per round (default 3; 2 with --quick)
  --quick               fewer rounds and steps (noisier)
  --out DIR             write DIR/reference.json and DIR/reference.md`;

export async function referenceCommand(argv: string[]): Promise<void> {
  if (argv.includes('--help')) return void console.log(REFERENCE_HELP);
  const a = parseArgs(argv, ['quick'], ['peer', 'threads', 'rounds', 'steps', 'out']);
  if (a.positionals.length) throw new ValueError('lmforge', `unexpected argument '${a.positionals[0]}'`);
  const one = (name: string): number | undefined => (a.options.has(name) ? intList(name, a.options.get(name) as string)[0] : undefined);
  const peer = a.options.get('peer') ?? 'torch';
  if (peer !== 'torch' && peer !== 'none') throw new ValueError('lmforge', `--peer must be torch or none, got '${String(peer)}'`);
  const threads = one('threads');
  if (threads !== undefined) setNumThreads(threads);
  const quick = a.options.has('quick');
  const rep = await benchReference({
    peer, rounds: one('rounds') ?? (quick ? 1 : 3), stepsPerRound: one('steps') ?? (quick ? 2 : 3), warmup: quick ? 1 : 2,
    log: (l) => console.log(l),
  });
  const md = referenceMarkdown(rep);
  console.log(`\n${md}`);
  const out = a.options.get('out');
  if (typeof out === 'string') {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'reference.json'), `${JSON.stringify(rep, null, 2)}\n`);
    writeFileSync(join(out, 'reference.md'), `${md}\n`);
    console.log(`wrote ${join(out, 'reference.json')} and ${join(out, 'reference.md')}`);
  }
}
